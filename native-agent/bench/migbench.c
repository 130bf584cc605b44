/*
 * faultline-migbench: a region migrated between two agents over loopback
 * while a writer never pauses (as fast as it can, or at --rate writes per
 * second, as QEMU's runs at 51,200), against a plain stop-and-copy of the same
 * size over the same loopback as the floor, in one run (docs/benchmarks.md
 * "Migration").  QEMU's postcopy is measured by bench/qemu/qemu-postcopy-bench;
 * bench/migration-vs-qemu runs both in one invocation.
 *
 *   faultline-migbench [--size 2G] [--writers 1] [--repeat 3] [--rounds 1]
 *                      [--bandwidth BYTES_PER_S] [--rate max|WRITES_PER_S] [--plaintext]
 *                      [--tracking auto|hold] [--compress none|zstd] [--fill stripes|mixed]
 *                      [--writer random|same] [--skip-unchanged on|off] [--auto-converge]
 *                      [--push-connections N] [--link-flow-rate BYTES_PER_S] [--verbose]
 *
 * --rate: writes per second of all writer threads together (each stamps 16
 * bytes of a random page; faultline-demo mig-source --rate); `max`, the
 * default, writes as fast as the threads can.  --tracking: the job's
 * "tracking" option (PROTOCOL.md migration_out): `hold` measures the
 * source tracking writes on its hold uffd, as before WP_ASYNC tracking.
 * --writer same: each write stores the bytes that are there already (a
 * guest rewriting the same values), so the pages are written but never
 * change: what the job's "skip_unchanged" (--skip-unchanged, on by default
 * as in the agent) saves.  The table's "unchanged pages" are the pages the
 * source did not send again, "source cpu ms" what its agent spent.
 *
 * --fill: what the source region holds (faultline-demo mig-source --fill):
 * `stripes`, the default, every other 64 KiB of 0x5A (compresses to nothing);
 * `mixed`, a quarter random, half text-like, a quarter zero pages, for
 * measuring --compress zstd against a link of --bandwidth bytes per second.
 * "sent / size" counts page bytes, "wire / size" what travelled (compressed).
 * --auto-converge: the job's "auto_converge" option (the writer is throttled
 * while rounds do not converge; give --rounds more than 1 for it to act), and
 * a second table with the throttle and the pages stale at the switchover.
 *
 * --push-connections N (1-8): the job's "push_connections" option, the TCP
 * connections its precopy and background push travel on; sent only when not
 * 1, so that an agent without the option still runs the default.
 * --link-flow-rate BYTES_PER_S (suffixes as --size; 0: none): the source
 * reaches the destination through a relay in migbench's own process
 * (linkrelay.c) that caps every TCP connection, source to destination, at
 * that rate with its own token bucket: a path where each flow is policed or
 * window-limited, so one connection cannot fill the link (loopback has no
 * such limit, and tc/netem is not always there).  It forwards bytes only.
 *
 * The page channel is TLS 1.3 as in production; --plaintext runs both agents
 * with --page-channel-plaintext, so two runs show what TLS costs.
 *
 * It starts build/faultline-agent twice and build/faultline-demo as both
 * workloads (mig-source writes as fast as it can; mig-dest reads every
 * page once, in order, as a restarted workload would), from its own
 * directory.  Prints Markdown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "content.h"
#include "linkrelay.h"
#include "pchan.h"
#include "proto.h"

struct agent {
	pid_t pid;
	char dir[128], sock[192];
	int ctl;
	uint64_t id;
};

struct proc {
	pid_t pid;
	FILE *in, *out;
};

static char bindir[PATH_MAX];
static unsigned granule = 1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (uint8_t *)buf + got, n - got);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static json_t *call(struct agent *a, uint8_t type, json_t *req)
{
	char *body = json_dumps(req, JSON_COMPACT);
	struct proto_hdr h = proto_hdr_make(type, 0, ++a->id, (uint32_t)strlen(body));
	uint8_t hdr[PROTO_HDR_LEN];
	char *payload;
	json_t *r;

	json_decref(req);
	proto_encode_hdr(&h, hdr);
	/* MSG_NOSIGNAL: an agent that died fails the call instead of killing migbench with SIGPIPE */
	if (send(a->ctl, hdr, sizeof(hdr), MSG_NOSIGNAL) != sizeof(hdr) ||
	    send(a->ctl, body, strlen(body), MSG_NOSIGNAL) != (ssize_t)strlen(body) ||
	    read_exact(a->ctl, hdr, sizeof(hdr)) ||
	    proto_decode_hdr(hdr, sizeof(hdr), PROTO_MAX_PAYLOAD, &h) != PROTO_OK) {
		free(body);
		return NULL;
	}
	free(body);
	payload = malloc(h.length + 1);
	if (!payload || read_exact(a->ctl, payload, h.length)) {
		free(payload);
		return NULL;
	}
	r = json_loadb(payload, h.length, 0, NULL);
	if (h.flags & PROTO_F_ERROR)
		fprintf(stderr, "migbench: agent refused: %.*s\n", (int)h.length, payload);
	free(payload);
	return h.flags & PROTO_F_ERROR ? (json_decref(r), NULL) : r;
}

/* --plaintext: both agents without page channel TLS */
static bool plaintext;

static int agent_start(struct agent *a, const char *name, bool listen)
{
	char bin[PATH_MAX + 32], state[256], log[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(a, 0, sizeof(*a));
	snprintf(a->dir, sizeof(a->dir), "/tmp/faultline-migbench-%s-XXXXXX", name);
	if (!mkdtemp(a->dir))
		return -1;
	snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", a->dir);
	snprintf(state, sizeof(state), "%s/state", a->dir);
	snprintf(log, sizeof(log), "%s/agent.log", a->dir);
	snprintf(bin, sizeof(bin), "%s/faultline-agent", bindir);
	a->pid = fork();
	if (a->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char *args[12] = { bin, "--socket", a->sock, "--state-dir", state, "--log-file", log };
		int n = 7;

		if (listen) {
			args[n++] = "--page-channel-listen";
			args[n++] = "127.0.0.1:0";
		}
		if (plaintext) /* what TLS costs: the same run without it */
			args[n++] = "--page-channel-plaintext";
		args[n] = NULL;
		execv(bin, args);
		_exit(127);
	}
	memcpy(sa.sun_path, a->sock, strlen(a->sock) + 1);
	for (int i = 0; i < 1000; i++) {
		a->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!connect(a->ctl, (struct sockaddr *)&sa, sizeof(sa))) {
			json_t *r = call(a, PROTO_T_HELLO, json_pack("{s:s}", "client", "faultline-migbench"));

			json_decref(r);
			return r ? 0 : -1;
		}
		close(a->ctl);
		usleep(10000); /* the agent is starting: nothing to wait on but its socket */
	}
	return -1;
}

static void agent_stop(struct agent *a)
{
	char cmd[256];

	if (a->pid > 0) {
		kill(a->pid, SIGTERM);
		waitpid(a->pid, NULL, 0);
	}
	close(a->ctl);
	if (getenv("MIGBENCH_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
	if (system(cmd))
		fprintf(stderr, "migbench: could not remove %s\n", a->dir);
}

static int demo(struct proc *p, const char *const *args)
{
	int in[2], out[2];
	char bin[PATH_MAX + 32];
	const char *argv[24];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/faultline-demo", bindir);
	argv[n++] = bin;
	while (*args && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = fdopen(in[1], "w");
	p->out = fdopen(out[0], "r");
	return p->pid > 0 && p->in && p->out ? 0 : -1;
}

static json_t *demo_line(struct proc *p)
{
	char line[4096];

	if (!fgets(line, sizeof(line), p->out))
		return NULL;
	return json_loads(line, 0, NULL);
}

static void demo_end(struct proc *p)
{
	fputs("exit\n", p->in);
	fflush(p->in);
	waitpid(p->pid, NULL, 0);
	fclose(p->in);
	fclose(p->out);
}

/*
 * After a failed or cancelled job: the workload may wait on a fault nobody
 * will serve (mig-dest reading a page that never came), so it is not asked.
 */
static void demo_kill(struct proc *p)
{
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	fclose(p->in); /* nothing is buffered: no write to a closed pipe */
	fclose(p->out);
}

/* ---- loopback bandwidth and stop-and-copy ------------------------------ */

struct sink {
	int fd;
	uint8_t *dst;
	uint64_t size;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	static uint8_t scratch[1 << 20];
	uint64_t got = 0;

	while (c >= 0 && got < s->size) {
		uint8_t *to = s->dst ? s->dst + got : scratch;
		size_t want = s->dst ? s->size - got : sizeof(scratch);
		ssize_t n = read(c, to, want < sizeof(scratch) || s->dst ? want : sizeof(scratch));

		if (n <= 0)
			break;
		got += (uint64_t)n;
	}
	if (c >= 0)
		close(c);
	return NULL;
}

/* Sends size bytes of src over loopback TCP into dst (NULL: discarded); ms. */
static double loopback_copy(const uint8_t *src, uint8_t *dst, uint64_t size)
{
	char addr[64];
	struct sink s = { .dst = dst, .size = size };
	pthread_t t;
	double t0, t1;
	int fd;
	uint64_t off = 0;

	s.fd = pchan_listen("127.0.0.1:0", addr, sizeof(addr));
	if (s.fd < 0 || pthread_create(&t, NULL, sink_main, &s))
		return -1;
	fd = pchan_connect(addr, 2000);
	if (fd >= 0 && fcntl(fd, F_SETFL, 0)) /* pchan_connect's socket is non-blocking */
		fd = -1;
	t0 = now_ms();
	while (fd >= 0 && off < size) {
		size_t n = size - off < (1u << 20) ? size - off : (1u << 20);
		ssize_t w = write(fd, src + (src ? off % (UINT64_C(1) << 30) : 0), n);

		if (w <= 0)
			break;
		off += (uint64_t)w;
	}
	if (fd >= 0)
		close(fd);
	pthread_join(t, NULL);
	t1 = now_ms();
	close(s.fd);
	return t1 - t0;
}

/* ---- the migration ----------------------------------------------------- */

struct run {
	double total_ms, downtime_ms, p50_us, p99_us, max_us, blocked_ms;
	uint64_t sent, wire, demand_pages, rounds, requests, tracking_faults, unchanged;
	double dst_total_ms, src_cpu_ms;
	char tracking[8];
	char push_connections[8]; /* the source's stats, "-" when its agent does not report it */
	uint64_t stale_pages, throttle_pct, throttled_ms; /* --auto-converge's table */
};

static uint64_t st(json_t *m, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(m, "stats"), k));
}

/* CPU time a process has used so far (user + system), from /proc/<pid>/stat */
static double cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, stime = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* after "pid (comm)": state is field 3, utime 14, stime 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) != 2)
		return -1;
	return (double)(ut + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static json_t *get(struct agent *a, const char *id)
{
	return call(a, PROTO_T_MIGRATION_GET, json_pack("{s:s}", "migration_id", id));
}

static const char *tracking = "auto";
static const char *compress = "none"; /* --compress none|zstd: the job's "compress" option */
static const char *fill = "stripes"; /* --fill stripes|mixed: faultline-demo mig-source --fill */
static bool verbose; /* --verbose: both jobs' stats, as JSON on stderr */
static const char *writer = "random"; /* --writer random|same: faultline-demo mig-source --writer */
static bool skip_unchanged = true;     /* --skip-unchanged on|off: the job's "skip_unchanged" */
static bool auto_converge; /* --auto-converge: the job's "auto_converge" option */
static unsigned push_connections = 1; /* --push-connections: the job's "push_connections" */
static uint64_t link_flow_rate; /* --link-flow-rate: bytes/s per connection through linkrelay; 0: none */

static int migrate(uint64_t size, unsigned writers, unsigned rounds, uint64_t bw, uint64_t rate,
		   struct run *out)
{
	struct agent src, dst;
	struct proc ws, wd;
	struct linkrelay *relay = NULL;
	char size_s[32], threads_s[16], rate_s[32], handoff[256], id[64], relay_addr[64];
	const char *sock, *destination;
	json_t *j, *in, *m, *d, *opts;
	uint64_t relayed = 0, relayed_bytes = 0;
	int ret = -1;

	snprintf(size_s, sizeof(size_s), "%llu", (unsigned long long)size);
	snprintf(threads_s, sizeof(threads_s), "%u", writers);
	snprintf(rate_s, sizeof(rate_s), "%llu", (unsigned long long)rate); /* 0: unpaced */
	if (agent_start(&src, "src", false) || agent_start(&dst, "dst", true))
		return -1;
	snprintf(handoff, sizeof(handoff), "%s/state/handoff.sock", src.dir);
	{
		const char *args[] = { "mig-source", "--socket", handoff, "--size", size_s, "--threads",
				       threads_s, "--rate", rate_s, "--name", "bench", "--fill", fill,
				       "--writer", writer, NULL };

		if (demo(&ws, args))
			goto stop;
	}
	j = demo_line(&ws);
	{
		FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");

		if (!f || !fgets(id, sizeof(id), f))
			goto stop;
		fclose(f);
		id[strcspn(id, "\n")] = '\0';
	}
	in = call(&dst, PROTO_T_MIGRATION_IN,
		  json_pack("{s:s, s:s, s:I, s:i, s:s}", "migration_id", id, "region_name", "bench",
			    "length", (json_int_t)size, "page_size", 4096, "secret",
			    "8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"));
	if (!j || !in)
		goto stop;
	sock = json_string_value(json_object_get(json_object_get(in, "session"), "socket"));
	destination = json_string_value(json_object_get(in, "channel"));
	if (link_flow_rate && destination) {
		relay = linkrelay_start(destination, link_flow_rate, relay_addr, sizeof(relay_addr));
		if (!relay) {
			fprintf(stderr, "migbench: link relay: %s\n", strerror(errno));
			json_decref(j);
			json_decref(in);
			goto stop;
		}
		destination = relay_addr; /* the source reaches the destination through the capped link */
	}
	opts = json_pack("{s:i, s:I, s:s, s:i, s:i, s:s, s:s, s:b, s:b}", "max_rounds", (int)rounds,
			 "bandwidth_bytes_per_s", (json_int_t)bw, "postcopy", "auto", "max_downtime_ms", 10,
			 "granule_pages", (int)granule, "tracking", tracking, "compress", compress,
			 "skip_unchanged", skip_unchanged, "auto_converge", auto_converge);
	/* only when asked for: the default runs against an agent that does not know the option */
	if (opts && push_connections != 1)
		json_object_set_new(opts, "push_connections", json_integer(push_connections));
	m = call(&src, PROTO_T_MIGRATION_OUT,
		 json_pack("{s:s, s:s, s:s, s:s, s:o}", "migration_id", id, "region_id",
			   json_string_value(json_object_get(j, "region_id")), "destination", destination,
			   "secret", "8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
			   "options", opts));
	json_decref(j);
	if (!m) {
		json_decref(in);
		goto stop;
	}
	json_decref(m);
	if (verbose) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr, "migbench: migration_out at %lld ms\n",
			(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	}
	{
		const char *args[] = { "mig-dest", "--socket", sock, "--size", size_s, "--name", "bench",
				       "--dump", "/dev/null", NULL };

		if (demo(&wd, args))
			goto stop;
	}
	j = demo_line(&wd);
	json_decref(j);
	json_decref(in);
	for (;;) {
		const char *a, *b;

		m = get(&src, id);
		d = get(&dst, id);
		a = m ? json_string_value(json_object_get(m, "phase")) : "failed";
		b = d ? json_string_value(json_object_get(d, "phase")) : "failed";
		/* a job cancelled on either side never completes: waiting on would hang */
		if (!strcmp(a, "failed") || !strcmp(b, "failed") || !strcmp(a, "cancelled") ||
		    !strcmp(b, "cancelled")) {
			fprintf(stderr, "migbench: migration failed (source %s, destination %s)\n", a, b);
			json_decref(m);
			json_decref(d);
			break;
		}
		if (!strcmp(a, "completed") && !strcmp(b, "completed")) {
			json_t *lat;

			if (verbose) {
				fprintf(stderr, "migbench: cpu ms source agent %.0f, destination agent %.0f\n",
					cpu_ms(src.pid), cpu_ms(dst.pid));
				json_dumpf(json_object_get(m, "stats"), stderr, JSON_COMPACT);
				fputc('\n', stderr);
				json_dumpf(json_object_get(d, "stats"), stderr, JSON_COMPACT);
				fputc('\n', stderr);
			}
			lat = json_object_get(json_object_get(d, "stats"), "demand_latency");
			out->total_ms = (double)st(m, "total_ms");
			out->dst_total_ms = (double)st(d, "total_ms");
			out->downtime_ms = (double)st(d, "downtime_ms");
			out->p50_us = (double)json_integer_value(json_object_get(lat, "p50_ns")) / 1e3;
			out->p99_us = (double)json_integer_value(json_object_get(lat, "p99_ns")) / 1e3;
			out->max_us = (double)json_integer_value(json_object_get(lat, "max_ns")) / 1e3;
			out->blocked_ms = (double)st(d, "blocked_ns") / 1e6;
			out->sent = st(m, "precopy_bytes") + st(m, "postcopy_bytes") + st(m, "demand_bytes");
			/* compressed frames: their page bytes out, their zstd bytes in */
			out->wire = out->sent - st(m, "compressed_pages") * 4096 + st(m, "compressed_bytes");
			out->demand_pages = st(d, "demand_pages");
			out->rounds = st(m, "rounds");
			out->requests = st(d, "postcopy_requests");
			out->tracking_faults = st(m, "tracking_faults");
			out->unchanged = st(m, "unchanged_pages");
			out->src_cpu_ms = cpu_ms(src.pid);
			out->stale_pages = st(m, "postcopy_pages") + st(m, "demand_pages");
			out->throttle_pct = st(m, "throttle_pct");
			out->throttled_ms = st(m, "throttled_ms");
			snprintf(out->tracking, sizeof(out->tracking), "%s",
				 json_string_value(json_object_get(json_object_get(m, "stats"), "tracking"))
					 ? json_string_value(json_object_get(json_object_get(m, "stats"),
									     "tracking"))
					 : "?");
			if (json_is_integer(json_object_get(json_object_get(m, "stats"), "push_connections")))
				snprintf(out->push_connections, sizeof(out->push_connections), "%llu",
					 (unsigned long long)st(m, "push_connections"));
			else
				snprintf(out->push_connections, sizeof(out->push_connections), "-");
			ret = 0;
			json_decref(m);
			json_decref(d);
			break;
		}
		json_decref(m);
		json_decref(d);
		usleep(20000); /* polling the agents' state, as the control plane does */
	}
	if (ret) {
		demo_kill(&wd);
		demo_kill(&ws);
	} else {
		demo_end(&wd);
		demo_end(&ws);
	}
stop:
	agent_stop(&src);
	agent_stop(&dst);
	if (relay) { /* after the agents: what they left open ends here, whatever state it is in */
		linkrelay_stop(relay, &relayed, &relayed_bytes);
		if (verbose)
			fprintf(stderr, "migbench: the link relay carried %llu connection(s), %llu bytes "
				"source to destination\n", (unsigned long long)relayed,
				(unsigned long long)relayed_bytes);
	}
	return ret;
}

/*
 * The one of choices (NULL-terminated) that arg names, or NULL after
 * saying on stderr which values --name takes.
 */
static const char *pick(const char *arg, const char *const *choices, const char *name)
{
	char list[256];
	size_t len = 0;

	for (unsigned i = 0; choices[i]; i++)
		if (!strcmp(arg, choices[i]))
			return choices[i];
	list[0] = '\0';
	for (unsigned i = 0; choices[i] && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s`%s`",
					!i ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
	fprintf(stderr, "faultline-migbench: --%s takes %s, not \"%s\"\n", name, list, arg);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },     { "writers", required_argument, NULL, 'w' },
		{ "repeat", required_argument, NULL, 'r' },   { "rounds", required_argument, NULL, 'R' },
		{ "bandwidth", required_argument, NULL, 'b' }, { "granule", required_argument, NULL, 'g' },
		{ "plaintext", no_argument, NULL, 'P' },	{ "rate", required_argument, NULL, 'W' },
		{ "tracking", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "compress", required_argument, NULL, 'z' },	{ "fill", required_argument, NULL, 'F' },
		{ "writer", required_argument, NULL, 'X' },
		{ "skip-unchanged", required_argument, NULL, 'U' },
		{ "auto-converge", no_argument, NULL, 'A' },
		{ "push-connections", required_argument, NULL, 'C' },
		{ "link-flow-rate", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = UINT64_C(2) << 30, bw = 0, rate = 0;
	char rate_text[64] = "as fast as they can", *end;
	const char *on_off;
	unsigned writers = 1, repeat = 3, rounds = 1;
	char self[PATH_MAX];
	ssize_t n;
	uint8_t *a, *b;
	double lb_ms, sc_ms;
	struct run *converged;
	unsigned converged_n = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (content_parse_size(optarg, &size))
				return 2;
			break;
		case 'w':
			writers = (unsigned)atoi(optarg);
			break;
		case 'r':
			repeat = (unsigned)atoi(optarg);
			break;
		case 'R':
			rounds = (unsigned)atoi(optarg);
			break;
		case 'b':
			bw = strtoull(optarg, NULL, 10);
			break;
		case 'g':
			granule = (unsigned)atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'A':
			auto_converge = true;
			break;
		case 'C': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > 8) {
				fprintf(stderr, "faultline-migbench: --push-connections takes 1 to 8, not \"%s\"\n",
					optarg);
				return 2;
			}
			push_connections = (unsigned)v;
			break;
		}
		case 'L':
			if (!strcmp(optarg, "0")) {
				link_flow_rate = 0;
				break;
			}
			if (content_parse_size(optarg, &link_flow_rate)) {
				fprintf(stderr, "faultline-migbench: --link-flow-rate takes bytes per second "
						"(50M, 1G) or 0, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'z':
			if (!(compress = pick(optarg, (const char *const[]){ "none", "zstd", NULL }, "compress")))
				return 2;
			break;
		case 'F':
			if (!(fill = pick(optarg, (const char *const[]){ "stripes", "mixed", NULL }, "fill")))
				return 2;
			break;
		case 'P':
			plaintext = true;
			break;
		case 'X':
			if (!(writer = pick(optarg, (const char *const[]){ "random", "same", NULL }, "writer")))
				return 2;
			break;
		case 'U':
			if (!(on_off = pick(optarg, (const char *const[]){ "on", "off", NULL }, "skip-unchanged")))
				return 2;
			skip_unchanged = !strcmp(on_off, "on");
			break;
		case 'T':
			if (!(tracking = pick(optarg, (const char *const[]){ "auto", "hold", NULL }, "tracking")))
				return 2;
			break;
		case 'W':
			if (!strcmp(optarg, "max")) {
				rate = 0;
				break;
			}
			errno = 0;
			rate = strtoull(optarg, &end, 10);
			if (errno || *end || !rate || optarg[0] == '-') {
				fprintf(stderr, "faultline-migbench: --rate takes `max` or a number of "
						"writes per second > 0, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: faultline-migbench [--size 2G] [--writers N] [--repeat N] "
					"[--rounds N] [--bandwidth BYTES_PER_S] [--rate max|WRITES_PER_S] "
					"[--plaintext] [--tracking auto|hold] [--compress none|zstd] [--auto-converge] "
					"[--fill stripes|mixed] [--writer random|same] [--skip-unchanged on|off] "
					"[--push-connections 1-8] [--link-flow-rate BYTES_PER_S] [--verbose]\n"
					"  --push-connections N   the job's push_connections (sent when not 1)\n"
					"  --link-flow-rate R     the source reaches the destination through a relay that "
					"caps each TCP connection at R bytes/s (50M, 1G; 0: no relay, loopback)\n");
			return 2;
		}
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 1;
	self[n] = '\0';
	snprintf(bindir, sizeof(bindir), "%s", dirname(self));

	/* warm-up: these VMs hand idle memory back to the host; touch it once first */
	a = mmap(NULL, 3 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return 1;
	memset(a, 1, 3 * size);
	munmap(a, 3 * size);

	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED)
		return 1;
	memset(a, 0x5A, size);
	lb_ms = loopback_copy(a, NULL, size);
	memset(b, 0, size);
	sc_ms = loopback_copy(a, b, size); /* stop-and-copy: the region into fresh memory */
	munmap(a, size);
	munmap(b, size);

	converged = calloc(repeat ? repeat : 1, sizeof(*converged));
	if (!converged)
		return 1;
	if (rate)
		snprintf(rate_text, sizeof(rate_text), "at %llu writes/s in all", (unsigned long long)rate);
	printf("region %llu MiB (fill %s, compress %s), %u %s writer thread(s) writing %s, switchover "
	       "after %u precopy round(s), granule %u page(s), skip_unchanged %s, loopback %.2f GB/s\n\n",
	       (unsigned long long)(size >> 20), fill, compress, writers, writer, rate_text, rounds,
	       granule, skip_unchanged ? "on" : "off", (double)size / lb_ms / 1e6);
	if (bw)
		printf("link limited to %.1f MB/s (the job's bandwidth_bytes_per_s): size / link = "
		       "%.0f ms\n\n", (double)bw / 1e6, (double)size / (double)bw * 1e3);
	if (link_flow_rate)
		printf("link: per-flow cap %.1f MB/s (each TCP connection, source to destination, through "
		       "migbench's relay, burst %llu KiB): size / cap = %.0f ms; push connections %u\n\n",
		       (double)link_flow_rate / 1e6,
		       (unsigned long long)(linkrelay_burst(link_flow_rate) >> 10),
		       (double)size / (double)link_flow_rate * 1e3, push_connections);
	else
		printf("link: loopback; push connections %u\n\n", push_connections);
	printf("| run | total ms | total / (size / loopback) | downtime ms | demand p50 us | "
	       "demand p99 us | demand max us | blocked ms | demand pages | sent / size | wire / size | "
	       "rounds | tracking | tracking faults | unchanged pages | source cpu ms | push connections |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
	printf("| stop-and-copy (floor) | %.0f | %.2f | %.0f | - | - | - | %.0f | - | 1.00 | 1.00 | - | - "
	       "| - | - | - | - |\n",
	       sc_ms, sc_ms / lb_ms, sc_ms, sc_ms);
	for (unsigned i = 0; i < repeat; i++) {
		struct run r = { 0 };

		if (migrate(size, writers, rounds, bw, rate, &r)) {
			printf("| faultline %u | failed |\n", i + 1);
			continue;
		}
		if (auto_converge)
			converged[converged_n++] = r;
		printf("| faultline %u | %.0f | %.2f | %.0f | %.0f | %.0f | %.0f | %.1f | %llu | %.2f | "
		       "%.2f | %llu | %s | %llu | %llu | %.0f | %s |\n",
		       i + 1, r.total_ms, r.total_ms / lb_ms, r.downtime_ms, r.p50_us, r.p99_us, r.max_us,
		       r.blocked_ms, (unsigned long long)r.demand_pages, (double)r.sent / (double)size,
		       (double)r.wire / (double)size, (unsigned long long)r.rounds, r.tracking,
		       (unsigned long long)r.tracking_faults, (unsigned long long)r.unchanged, r.src_cpu_ms,
		       r.push_connections);
		fflush(stdout);
	}
	if (converged_n) {
		printf("\nauto-converge: the writer stopped for a share of every 100 ms while rounds did "
		       "not converge\n\n| run | throttle %% at the switchover | throttled ms | pages stale at "
		       "the switchover |\n|---|---:|---:|---:|\n");
		for (unsigned i = 0; i < converged_n; i++)
			printf("| faultline %u | %llu | %llu | %llu |\n", i + 1,
			       (unsigned long long)converged[i].throttle_pct,
			       (unsigned long long)converged[i].throttled_ms,
			       (unsigned long long)converged[i].stale_pages);
	}
	free(converged);
	return 0;
}
