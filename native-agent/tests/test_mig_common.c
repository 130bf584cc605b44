/*
 * Shared parts of the migration tests (test_mig_common.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hwork.h"
#include "jx.h"
#include "mono.h"
#include "pchan.h"
#include "proto.h"
#include "ptls.h"
#include "test.h"
#include "test_mig_common.h"

const char *const SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char *const OTHER = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* extra: options for both agents (at most 6), NULL: none */
int pair_start_with(struct pair *p, const char *const *extra)
{
	const char *dst[10] = { "--page-channel-listen", "127.0.0.1:0" };
	unsigned n = 2;

	for (unsigned i = 0; extra && extra[i] && n < 8; i++)
		dst[n++] = extra[i];
	dst[n] = NULL;
	if (h_agent_start(&p->src, extra) || h_agent_start(&p->dst, dst))
		return -1;
	p->sctl = h_ctl_open(&p->src);
	p->dctl = h_ctl_open(&p->dst);
	snprintf(p->handoff, sizeof(p->handoff), "%s/handoff.sock", p->src.state);
	return p->sctl < 0 || p->dctl < 0 ? -1 : 0;
}

int pair_start(struct pair *p)
{
	return pair_start_with(p, NULL);
}

const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

uint64_t stat_of(json_t *m, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(m, "stats"), k));
}

void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls migration_get until the phase is one of `phases` (space separated). */
json_t *wait_phase(int ctl, const char *id, const char *phases, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		const char *ph = m ? str(m, "phase") : NULL;
		char want[128];

		snprintf(want, sizeof(want), " %s ", phases);
		if (ph) {
			char have[32];

			snprintf(have, sizeof(have), " %s ", ph);
			if (strstr(want, have))
				return m;
		}
		if (waited >= timeout_ms) {
			char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;

			printf("    migration %s not in {%s} after %d ms: %s\n", id, phases, timeout_ms,
			       s ? s : "(no reply)");
			free(s);
			json_decref(m);
			return NULL;
		}
		json_decref(m);
		nap_ms(10);
	}
}

json_t *mig_in(struct pair *p, const char *id, const char *name, uint64_t len,
	       const char *secret)
{
	return h_call(p->dctl, PROTO_T_MIGRATION_IN, "{s:s, s:s, s:I, s:i, s:s, s:{s:s}}",
		      "migration_id", id, "region_name", name, "length", (json_int_t)len, "page_size",
		      MIG_PAGE, "secret", secret, "labels", "app", "test");
}

json_t *mig_out(struct pair *p, const char *id, const char *region, const char *dest,
		const char *secret, json_t *options)
{
	return h_call(p->sctl, PROTO_T_MIGRATION_OUT, "{s:s, s:s, s:s, s:s, s:o}", "migration_id", id,
		      "region_id", region, "destination", dest, "secret", secret, "options", options);
}

/* rate: writes per second of all threads together, "0": as fast as they can */
int start_source_paced(struct pair *p, struct h_proc *src, const char *size, char *region,
		       const char *threads, const char *rate)
{
	const char *args[] = { "mig-source", "--socket", p->handoff, "--size", size, "--threads",
			       threads, "--rate", rate, "--name", "demo", NULL };
	json_t *j;

	if (h_demo(src, args))
		return -1;
	j = h_proc_json(src, 10000);
	if (!j || !str(j, "region_id")) {
		json_decref(j);
		return -1;
	}
	snprintf(region, JX_UUID_LEN + 1, "%s", str(j, "region_id"));
	json_decref(j);
	return 0;
}

int start_source_n(struct pair *p, struct h_proc *src, const char *size, char *region,
		   const char *threads)
{
	return start_source_paced(p, src, size, region, threads, "0");
}

int start_source(struct pair *p, struct h_proc *src, const char *size, char *region)
{
	return start_source_n(p, src, size, region, "2");
}

int start_dest(struct h_proc *dst, const char *sock, const char *size, const char *dump)
{
	const char *args[] = { "mig-dest", "--socket", sock, "--size", size, "--name", "demo",
			       "--dump", dump, "--mark", "64", NULL };
	json_t *j;

	if (h_demo(dst, args))
		return -1;
	j = h_proc_json(dst, 10000);
	if (!j || !str(j, "region_id")) {
		json_decref(j);
		return -1;
	}
	json_decref(j);
	return 0;
}

json_t *cmd(struct h_proc *p, const char *line, int timeout_ms)
{
	if (h_proc_write(p, line))
		return NULL;
	return h_proc_json(p, timeout_ms);
}

/* Has workload w dump its region to path, within timeout_ms; 0 when it says ok. */
int dump_to(struct h_proc *w, const char *path, int timeout_ms)
{
	char line[300];
	json_t *j;
	int r;

	snprintf(line, sizeof(line), "dump %s\n", path);
	j = cmd(w, line, timeout_ms);
	r = j && json_is_true(json_object_get(j, "ok")) ? 0 : -1;
	json_decref(j);
	return r;
}

/* Tells both workloads to exit and waits for them; 0 when both exited. */
int exit_both(struct h_proc *src, struct h_proc *dst)
{
	int r;

	h_proc_write(src, "exit\n");
	h_proc_write(dst, "exit\n");
	r = h_proc_wait(src, 10000);
	return h_proc_wait(dst, 10000) || r ? -1 : 0;
}

/*
 * Asks the source's agent (ctl) for the switchover of job id, then waits
 * for one of `phases` (space separated, as wait_phase()); 0 once there,
 * -1 (and why, printed) if the request or the wait fails.
 */
/*
 * The source switches over, then the destination's workload starts on the
 * session `in` names (dump: where it dumps, "-" for nowhere) and the
 * source reaches one of `phases` within 30 s.
 */
int switch_over_to_dest(struct pair *p, const char *id, json_t *in, struct h_proc *dst,
			const char *dump, const char *phases)
{
	json_t *m = h_call(p->sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	bool there;

	if (!m) {
		printf("    migration %s: no switchover\n", id);
		return -1;
	}
	json_decref(m);
	if (start_dest(dst, str(json_object_get(in, "session"), "socket"), "16M", dump))
		return -1;
	m = wait_phase(p->sctl, id, phases, 30000);
	there = m != NULL;
	json_decref(m);
	return there ? 0 : -1;
}

int switch_over_and_wait(int ctl, const char *id, const char *phases, int timeout_ms)
{
	json_t *m = h_call(ctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	bool there;

	if (!m) {
		printf("    migration %s: no switchover\n", id);
		return -1;
	}
	json_decref(m);
	m = wait_phase(ctl, id, phases, timeout_ms);
	there = m != NULL;
	json_decref(m);
	return there ? 0 : -1;
}

/*
 * Agents started from now on (h_setup) are build/faultline-agent-inject
 * with FAULTLINE_INJECT=what, for the self-checks that show a comparison
 * would see what the injected fault breaks; what NULL: the plain agent
 * again.  -1 (said why) when the injecting agent is missing.
 */
int inject_agent(const struct t_env *env, const char *what)
{
	char path[PATH_MAX], dir[PATH_MAX];

	if (!what) {
		unsetenv("FAULTLINE_INJECT");
		h_setup(env->agent_path);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", env->agent_path);
	snprintf(path, sizeof(path), "%s/faultline-agent-inject", dirname(dir));
	if (access(path, X_OK)) {
		printf("    %s is missing (make builds it with the tests)\n", path);
		return -1;
	}
	h_setup(path);
	setenv("FAULTLINE_INJECT", what, 1);
	return 0;
}

/*
 * Pages that differ between two dumps, the destination's markers (last 16
 * bytes of marked pages) excepted, and page `except` left out (UINT64_MAX:
 * none): its non-zero bytes in b go to *except_nonzero.  -1: unreadable.
 */
long compare_dumps_except(const char *a, const char *b, uint64_t size, uint64_t except,
			  uint64_t *except_nonzero)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	uint8_t pa[MIG_PAGE], pb[MIG_PAGE];
	uint64_t pages = size / MIG_PAGE, step = pages / MIG_MARKS;
	long diff = 0;

	*except_nonzero = 0;
	if (!fa || !fb) {
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		return -1;
	}
	for (uint64_t p = 0; p < pages; p++) {
		if (fread(pa, 1, MIG_PAGE, fa) != MIG_PAGE || fread(pb, 1, MIG_PAGE, fb) != MIG_PAGE) {
			diff = -1;
			break;
		}
		if (p == except) {
			for (unsigned i = 0; i < MIG_PAGE; i++)
				*except_nonzero += pb[i] != 0;
			continue;
		}
		if (p % step == 0 && p / step < MIG_MARKS)
			memcpy(pb + 4080, pa + 4080, 16);
		if (memcmp(pa, pb, MIG_PAGE)) {
			if (diff < 5)
				printf("    page %llu differs\n", (unsigned long long)p);
			diff++;
		}
	}
	fclose(fa);
	fclose(fb);
	return diff;
}

/* Pages that differ, the destination's markers excepted; -1: unreadable. */
long compare_dumps(const char *a, const char *b, uint64_t size)
{
	uint64_t nonzero;

	return compare_dumps_except(a, b, size, UINT64_MAX, &nonzero);
}

void new_id(char *out)
{
	FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");

	if (!f || !fgets(out, JX_UUID_LEN + 1, f))
		snprintf(out, JX_UUID_LEN + 1, "6f0c2b0e-2c44-4f3e-9f1a-3a7d8c1b2e4f");
	if (f)
		fclose(f);
}

/* A run of len bytes equal to b in buf: page contents in clear. */
static bool has_run(const uint8_t *buf, size_t n, uint8_t b, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		run = buf[i] == b ? run + 1 : 0;
		if (run >= len)
			return true;
	}
	return false;
}

/*
 * The full path: precopy while two threads write, switchover after three
 * rounds, the destination workload's first writes and then a read of every
 * page, completion, the source told; every byte compared.
 */
int migrate_and_compare(const char *size_s, uint64_t size, bool cut)
{
	return migrate_via(size_s, size, cut ? RELAY_CUT : RELAY_NONE, NULL);
}

/*
 * extra: more agent options for both agents (NULL: none).  RELAY_CAPTURE
 * keeps the main channel's bytes and checks that no page content is in
 * them (TLS), or is (--page-channel-plaintext, the test's own control);
 * RELAY_FLIP flips one byte of it, 1 MiB in: that connection must end,
 * the job resume on a new one and the bytes still arrive exact.
 */
int migrate_via(const char *size_s, uint64_t size, enum relay_mode mode,
		const char *const *extra)
{
	struct via v = { .mode = mode, .extra = extra, .push_used = 1 };

	return migrate_with(size_s, size, &v);
}

/*
 * Every connection that pushes carried pages, as the job's stats on both
 * agents say (m: the source's completed job, dm: the destination's).
 */
static int pushed_on_all(json_t *m, json_t *dm, unsigned used)
{
	json_t *pages = json_object_get(json_object_get(m, "stats"), "push_pages");

	CHECKF(stat_of(m, "push_connections") == used && stat_of(dm, "push_connections") == used,
	       "push_connections %llu at the source, %llu at the destination, wanted %u",
	       (unsigned long long)stat_of(m, "push_connections"),
	       (unsigned long long)stat_of(dm, "push_connections"), used);
	CHECK(json_is_array(pages) && json_array_size(pages) == used);
	for (unsigned i = 0; i < used; i++) {
		t_logf("connection %u pushed %lld pages", i,
		       (long long)json_integer_value(json_array_get(pages, i)));
		CHECKF(json_integer_value(json_array_get(pages, i)) > 0, "connection %u pushed no page", i);
	}
	return T_PASS;
}

int migrate_with(const char *size_s, uint64_t size, const struct via *v)
{
	enum relay_mode mode = v->mode;
	const char *const *extra = v->extra;
	bool cut = mode == RELAY_CUT, relayed = mode != RELAY_NONE;
	bool plain = extra && extra[0] && !strcmp(extra[0], "--page-channel-plaintext");
	struct pair p;
	struct h_proc src, dst;
	struct relay relay;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *opts, *j;
	const char *sock, *channel;
	long diff;

	CHECK_OK(pair_start_with(&p, extra));
	/* captured: no writers, so that every populated page is 0x5A, a pattern to look for */
	CHECK_OK(start_source_n(&p, &src, size_s, region, mode == RELAY_CAPTURE ? "0" : "2"));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in && !strcmp(str(in, "phase"), "precopy") && !strcmp(str(in, "role"), "destination"));
	sock = str(json_object_get(in, "session"), "socket");
	channel = str(in, "channel");
	CHECK(sock && channel);
	if (relayed)
		CHECK_OK(relay_start(&relay, channel, v->look));
	if (mode == RELAY_CAPTURE) {
		relay.cap_max = (size_t)size * 2;
		relay.cap = malloc(relay.cap_max);
		CHECK(relay.cap);
	}
	if (mode == RELAY_FLIP)
		atomic_store(&relay.flip_at, 1u << 20);
	/* with a cut the background push is slowed, so that the cut lands mid-postcopy */
	opts = json_pack("{s:i, s:s, s:I}", "max_rounds", 3, "postcopy", "auto",
			 "bandwidth_bytes_per_s", (json_int_t)(cut ? size / 2 : 0));
	if (v->push)
		json_object_set_new(opts, "push_connections", json_integer(v->push));
	out = mig_out(&p, id, region, relayed ? relay.addr : channel, SECRET, opts);
	CHECK(out && !strcmp(str(out, "phase"), "precopy") && !strcmp(str(out, "role"), "source"));
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	/* the destination workload attaches now: its faults wait for the switchover */
	CHECK_OK(start_dest(&dst, sock, size_s, ddump));
	m = wait_phase(p.sctl, id, "postcopy completed", 60000);
	CHECK(m);
	CHECK(stat_of(m, "rounds") >= 1 && stat_of(m, "precopy_pages") >= size / MIG_PAGE);
	json_decref(m);
	/* the source's writers are held from the switchover on: this is the state to carry */
	CHECK_OK(dump_to(&src, sdump, 30000));
	if (cut) {
		m = wait_phase(p.dctl, id, "postcopy", 10000);
		CHECK(m);
		json_decref(m);
		atomic_store(&relay.refuse, 1);
		atomic_store(&relay.cut, 1);
		m = wait_phase(p.sctl, id, "paused", 10000);
		CHECK_OK(h_wait_log(p.dst.log, "page channel broken, migration paused", 10000));
		CHECK(m && !strcmp(str(m, "paused_in"), "postcopy"));
		json_decref(m);
		m = wait_phase(p.dctl, id, "paused", 10000);
		CHECK(m && stat_of(m, "remaining_bytes") > 0);
		json_decref(m);
		/* while the link is down the destination's faults wait: nothing completes */
		m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		CHECK(m && strcmp(str(m, "phase"), "completed"));
		json_decref(m);
		atomic_store(&relay.refuse, 0);
		m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s}", "migration_id", id);
		CHECK(m);
		json_decref(m);
	}
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	if (cut || mode == RELAY_FLIP)
		CHECK(stat_of(m, "reconnects") >= 1);
	if (v->push) {
		json_t *dm = wait_phase(p.dctl, id, "completed", 60000);

		CHECK(dm);
		CHECK_OK(pushed_on_all(m, dm, v->push_used));
		json_decref(dm);
	}
	json_decref(m);
	if (mode == RELAY_FLIP) {
		CHECK(atomic_load(&relay.flipped));
		CHECK_OK(h_wait_log(p.dst.log, "page channel data failed its integrity check", 5000));
	}
	if (mode == RELAY_CAPTURE) {
		/* the populated pages are all 0x5A: in clear, long runs of it */
		t_logf("captured %zu bytes of the main channel", relay.cap_len);
		CHECK(relay.cap_len >= size / 2);
		CHECKF(has_run(relay.cap, relay.cap_len, 0x5A, 256) == plain,
		       plain ? "page contents not found in a plaintext channel: the check is blind"
			     : "page contents travel in clear");
	}
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	CHECK(json_is_integer(json_object_get(json_object_get(m, "stats"), "downtime_ms")));
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(m, "stats"),
								 "demand_latency"), "count")) > 0);
	t_logf("downtime %lld ms, demand p99 %lld ns",
	       (long long)json_integer_value(json_object_get(json_object_get(m, "stats"), "downtime_ms")),
	       (long long)json_integer_value(json_object_get(
		       json_object_get(json_object_get(m, "stats"), "demand_latency"), "p99_ns")));
	json_decref(m);
	/* the destination's own writes stay after every background page arrived */
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers")) == MIG_MARKS &&
	      json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	/* a page the destination workload drops reads zero, not the migrated bytes */
	j = cmd(&dst, "drop 3\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "nonzero_bytes")) == 0);
	json_decref(j);
	diff = compare_dumps(sdump, ddump, size);
	CHECKF(diff == 0, "%ld pages differ between the source at the hold and the destination", diff);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	/* deleting the finished jobs: the destination's memory is its own, no agent needed */
	m = h_call(p.dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(h_wait_log(p.dst.log, "destination region released to its workload", 10000));
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	j = cmd(&dst, "drop 7\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "nonzero_bytes")) == 0);
	json_decref(j);
	CHECK_OK(exit_both(&src, &dst));
	if (relayed)
		relay_stop(&relay);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * A migration_out with options opts (JSON text) is refused with
 * BAD_REQUEST, and its message names field.  The job would be "00…01".
 */
int out_refused_naming(int ctl, const char *region, const char *dest, const char *opts,
			      const char *field)
{
	char req[1024], *payload = NULL;
	struct proto_hdr h;
	json_t *j;
	int ret = -1;

	snprintf(req, sizeof(req), "{\"migration_id\":\"00000000-0000-4000-8000-000000000001\","
		 "\"region_id\":\"%s\",\"destination\":\"%s\",\"secret\":\"%s\",\"options\":%s}",
		 region, dest, SECRET, opts);
	if (h_send_frame(ctl, PROTO_T_MIGRATION_OUT, 0, 9001, req) ||
	    h_recv_frame(ctl, H_TIMEOUT_MS, &h, &payload))
		return -1;
	j = json_loads(payload, 0, NULL);
	if (h.id == 9001 && (h.flags & PROTO_F_ERROR) && j && !strcmp(str(j, "code") ?: "", "BAD_REQUEST") &&
	    strstr(str(j, "message") ?: "", field))
		ret = 0;
	else
		printf("    options %s: wanted BAD_REQUEST naming \"%s\", got %s\n", opts, field, payload);
	json_decref(j);
	free(payload);
	return ret;
}

/* The TLS contexts of the tests' fake peers: the job's secret as PSK, as the agents'. */
struct ptls *test_tls(void)
{
	static struct ptls *t;
	struct ptls_opts o = { 0 };
	char why[256];

	if (!t)
		t = ptls_new(&o, why, sizeof(why));
	return t;
}

uint64_t deadline_in(unsigned ms)
{
	return mono_now_ns() + (uint64_t)ms * 1000000u;
}

/* Authenticates to the destination's page channel as the source would. */
struct ptls_conn *fake_source(const char *channel, const char *id, enum pchan_kind kind,
			      char *err, size_t err_len)
{
	uint8_t secret[PCHAN_SECRET_LEN], buf[PCHAN_HELLO_LEN], sn[PCHAN_NONCE_LEN], mac[PCHAN_MAC_LEN];
	struct pchan_hello hello = { .kind = kind };
	struct pchan_hdr h = { .type = PCHAN_T_HELLO, .length = PCHAN_HELLO_LEN };
	struct pchan_geom g = { 0 };
	int fd = pchan_connect(channel, 2000);
	struct ptls_conn *c;

	if (fd < 0 || pchan_parse_secret(SECRET, secret)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c = ptls_connect(test_tls(), fd, "127.0.0.1", id, secret, deadline_in(5000), err, err_len);
	if (!c) {
		close(fd);
		return NULL;
	}
	ptls_set_deadline(c, 0);
	memcpy(hello.id, id, PCHAN_ID_LEN + 1);
	pchan_nonce(hello.nonce);
	pchan_encode_hello(&hello, buf);
	if (pchan_send(c, &h, buf) || pchan_recv(c, &h, buf, sizeof(buf), &g, 5000) ||
	    h.type != PCHAN_T_CHALLENGE)
		goto fail;
	memcpy(sn, buf, sizeof(sn));
	pchan_mac(secret, false, id, kind, hello.nonce, sn, mac);
	h = (struct pchan_hdr){ .type = PCHAN_T_AUTH, .length = PCHAN_MAC_LEN };
	if (pchan_send(c, &h, mac) || pchan_recv(c, &h, buf, sizeof(buf), &g, 5000))
		goto fail;
	if (h.type != PCHAN_T_AUTH_OK) {
		snprintf(err, err_len, "%.*s", (int)h.length, (char *)buf);
		goto fail;
	}
	pchan_mac(secret, true, id, kind, hello.nonce, sn, mac);
	if (!pchan_mac_equal(mac, buf))
		goto fail;
	return c;
fail:
	ptls_close(c);
	return NULL;
}

/* Writes counted by the source demo, after at least one more than `since` (deadline ~10 s). */
uint64_t writes_after(struct h_proc *src, uint64_t since)
{
	uint64_t w = since;

	for (int i = 0; i < 1000 && w <= since; i++) {
		json_t *j = cmd(src, "dump /dev/null\n", 10000);

		w = j ? (uint64_t)json_integer_value(json_object_get(j, "writes")) : since;
		json_decref(j);
		if (w <= since)
			nap_ms(10);
	}
	return w;
}

/* Polls migration_get until stats.key >= min; the object, or NULL after timeout_ms. */
json_t *wait_stat(int ctl, const char *id, const char *key, uint64_t min, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);

		if (m && stat_of(m, key) >= min)
			return m;
		json_decref(m);
		if (waited >= timeout_ms) {
			printf("    migration %s: stats.%s < %llu after %d ms\n", id, key,
			       (unsigned long long)min, timeout_ms);
			return NULL;
		}
		nap_ms(10);
	}
}

/* Polls migration_get until `more` rounds after the current one have started; as wait_stat(). */
json_t *wait_more_rounds(int ctl, const char *id, uint64_t more, int timeout_ms)
{
	json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	uint64_t rounds;

	if (!m)
		return NULL;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	return wait_stat(ctl, id, "rounds", rounds + more, timeout_ms);
}
