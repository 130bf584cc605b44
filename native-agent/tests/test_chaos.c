/*
 * Chaos: kill -9 of the agent at a random moment of a workload's life, a
 * new agent on the same state directory and sockets, and then: the
 * workload finishes within a bound (no hang), every byte it reads is the
 * image's (or zero where it removed the page), and nothing is left behind
 * once it is gone (no kept uffd, no record of removed pages, no temporary
 * file).  Each round picks its moment and its workload's options from its
 * own seed, printed when the round fails, so that a failure replays:
 *
 *   FAULTLINE_CHAOS_ROUNDS=100 FAULTLINE_CHAOS_SEED=42 build/faultline-tests -f chaos/
 *
 * Defaults: 3 rounds (make check), the seed from the clock.  Each scenario
 * ends with one line: scenario, rounds, hangs, wrong bytes, leaks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "content.h"
#include "hfc.h"
#include "hwork.h"
#include "test.h"
#include "uffd_compat.h"

#define CHAOS_BOUND_MS 30000
#define CHAOS_IMAGE_MIB 16

struct chaos {
	const char *scenario;
	unsigned rounds;
	uint64_t seed;
	unsigned hangs, wrong, leaks;
	struct h_agent a; /* the agent alive now */
	int ctl;
	char image[256];
};

static uint64_t next(uint64_t *s)
{
	/* splitmix64: every round's choices follow from its seed alone */
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static int chaos_init(struct chaos *c, const char *scenario)
{
	const char *r = getenv("FAULTLINE_CHAOS_ROUNDS"), *s = getenv("FAULTLINE_CHAOS_SEED");

	memset(c, 0, sizeof(*c));
	c->scenario = scenario;
	c->rounds = r ? (unsigned)strtoul(r, NULL, 10) : 3;
	c->seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
	if (!c->rounds)
		c->rounds = 1;
	printf("    %s: %u rounds, seed %llu\n", scenario, c->rounds, (unsigned long long)c->seed);
	if (h_agent_start(&c->a, NULL) || (c->ctl = h_ctl_open(&c->a)) < 0 ||
	    h_image(&c->a, "chaos.mem", CHAOS_IMAGE_MIB * H_FC_MIB, H_FC_SEED, c->image,
		    sizeof(c->image)))
		return -1;
	return 0;
}

/* The chaos itself: the agent dies at the moment chosen, a new one takes over. */
static int kill_and_restart(struct chaos *c, unsigned delay_us)
{
	struct timespec ts = { .tv_sec = delay_us / 1000000, .tv_nsec = (long)(delay_us % 1000000) * 1000 };
	struct h_agent next_agent;

	close(c->ctl);
	c->ctl = -1;
	nanosleep(&ts, NULL);
	if (kill(c->a.pid, SIGKILL) || h_agent_wait_exit(&c->a, H_TIMEOUT_MS))
		return -1;
	h_agents_forget_exited();
	if (h_agent_spawn(&next_agent, c->a.dir, c->a.sock, NULL) ||
	    h_agent_wait_ready(&next_agent, H_TIMEOUT_MS))
		return -1;
	c->a = next_agent;
	c->ctl = h_ctl_open(&c->a);
	return c->ctl < 0 ? -1 : 0;
}

static unsigned files_in(const char *dir, const char *suffix)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(suffix);

		if (de->d_name[0] != '.' && len >= sl && !strcmp(de->d_name + len - sl, suffix))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * Once the workload is gone: its session can be deleted, and then every
 * region has ended, no uffd is kept, no record of removed pages is left
 * (they live as long as their session: a workload that never reconnected
 * may still do so) and no temporary file is.  The agent applies a
 * workload's exit as an event of its own, so this is polled until a
 * deadline.
 */
static unsigned leaks_after(struct chaos *c, const char *session_id)
{
	bool deleted = false;
	char dir[320];
	uint64_t waited = 0;
	unsigned left = 0;

	for (;;) {
		size_t i, attached = 0;
		json_t *v, *r;

		if (!deleted) {
			v = h_call(c->ctl, PROTO_T_RESTORE_DELETE, "{s:s}", "id", session_id);
			deleted = v != NULL; /* CONFLICT while a region is still being restored */
			json_decref(v);
		}
		v = h_call(c->ctl, PROTO_T_REGION_LIST, "{}");
		json_array_foreach(json_object_get(v, "regions"), i, r)
			attached += strcmp(json_string_value(json_object_get(r, "state")), "DETACHED") != 0;
		json_decref(v);
		snprintf(dir, sizeof(dir), "%s/kept", c->a.state);
		left = (unsigned)attached + files_in(dir, ".json") + !deleted;
		snprintf(dir, sizeof(dir), "%s/removed", c->a.state);
		left += files_in(dir, ".removed");
		snprintf(dir, sizeof(dir), "%s/restore", c->a.state);
		left += files_in(dir, ".tmp") + files_in(c->a.state, ".tmp");
		if (!left || waited >= H_TIMEOUT_MS) {
			if (left)
				printf("    left behind: %zu regions not detached, session %s, %u files\n",
				       attached, deleted ? "deleted" : "not deletable",
				       left - (unsigned)attached - !deleted);
			break;
		}
		usleep(10000);
		waited += 10;
	}
	return left;
}

static int chaos_report(struct chaos *c)
{
	printf("    chaos %s: rounds=%u hangs=%u wrong_bytes=%u leaks=%u seed=%llu\n", c->scenario,
	       c->rounds, c->hangs, c->wrong, c->leaks, (unsigned long long)c->seed);
	if (c->ctl >= 0)
		close(c->ctl);
	return c->hangs || c->wrong || c->leaks ? T_FAIL : T_PASS;
}

/*
 * A libfaultline workload (faultline-demo restore) restoring an image from
 * two threads, random or sequential touches, with or without background
 * population; the agent dies within 40 ms of serving its region.
 */
int t_chaos_restore_libfaultline(const struct t_env *env)
{
	struct chaos c;

	(void)env;
	CHECK_OK(chaos_init(&c, "restore-libfaultline"));
	for (unsigned round = 0; round < c.rounds; round++) {
		uint64_t rs = c.seed + round;
		static const char *const patterns[] = { "random", "seq", "hot10" };
		const char *pattern = patterns[next(&rs) % 3];
		int populate = (int)(next(&rs) % 3) * 10 - 10; /* -1 -> off, 0, 10 ms */
		unsigned delay_us = (unsigned)(next(&rs) % 40000);
		char opts[128], size[16], needle[64];
		struct h_proc p;
		json_t *s, *sum;

		snprintf(opts, sizeof(opts), "{\"populate_delay_ms\":%d,\"working_set\":\"off\"}",
			 populate < 0 ? -1 : populate);
		s = h_restore_create(c.ctl, c.image, opts);
		CHECK(s);
		snprintf(size, sizeof(size), "%dM", CHAOS_IMAGE_MIB);
		{
			const char *const args[] = { "restore", "--socket",
						     json_string_value(json_object_get(s, "socket")),
						     "--size", size, "--seed", "7", "--pattern", pattern,
						     "--threads", "2", NULL };

			CHECK_OK(h_demo(&p, args));
		}
		/*
		 * The moment is chosen once the workload's region is served: an agent
		 * that dies before fl_connect() or during fl_region_register() makes
		 * them fail with an error the workload sees (not a hang; the README says
		 * so), which is not what this campaign measures.
		 */
		snprintf(needle, sizeof(needle), " pid=%d start=", (int)p.pid);
		CHECK_OK(h_wait_log(c.a.log, needle, H_TIMEOUT_MS));
		CHECK_OK(kill_and_restart(&c, delay_us));
		sum = h_proc_json(&p, CHAOS_BOUND_MS);
		if (!sum) {
			c.hangs++;
			printf("    round %u (seed %llu): the workload did not finish within %d ms\n",
			       round, (unsigned long long)(c.seed + round), CHAOS_BOUND_MS);
			kill(p.pid, SIGKILL);
		} else if (json_integer_value(json_object_get(sum, "mismatches"))) {
			c.wrong++;
			printf("    round %u (seed %llu): %lld pages wrong\n", round,
			       (unsigned long long)(c.seed + round),
			       (long long)json_integer_value(json_object_get(sum, "mismatches")));
		}
		json_decref(sum);
		h_proc_wait(&p, H_TIMEOUT_MS);
		if (leaks_after(&c, json_string_value(json_object_get(s, "id")))) {
			c.leaks++;
			printf("    round %u (seed %llu): state left behind\n", round,
			       (unsigned long long)(c.seed + round));
		}
		json_decref(s);
	}
	return chaos_report(&c);
}

/*
 * A Firecracker guest in a process of its own (it exits 0 when every page
 * read right, 1 otherwise), touching its memory in a random order from its
 * seed, after ballooning a random range of its first region; the agent
 * dies within 30 ms of the guest telling (on ready_fd) that the agent
 * recorded the balloon.  (An agent killed between reading a REMOVE event
 * and recording it loses that range: a window of microseconds, documented
 * in docs/reliability.md, which the campaign leaves out like the lost
 * handshake.)
 */
static int fc_guest(const char *session_sock, uint64_t seed, const char *log, int ready_fd)
{
	const size_t len = (size_t)CHAOS_IMAGE_MIB / 2 * H_FC_MIB, pages = 2 * len / CONTENT_PAGE;
	uint64_t first = next(&seed) % (pages / 2 - 64), n = 1 + next(&seed) % 64, bad = 0;
	char needle[96];
	uint8_t *mem = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char msg[512];
	int uffd, sock;

	if (mem == MAP_FAILED)
		return 2;
	uffd = h_fc_uffd(mem, 2 * len, UFFD_FEATURE_EVENT_REMOVE);
	sock = h_connect(session_sock);
	if (uffd < 0 || sock < 0)
		return 2;
	snprintf(msg, sizeof(msg),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":0,\"page_size\":4096},"
		 "{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":%zu,\"page_size\":4096}]",
		 (unsigned long long)(uintptr_t)mem, len, (unsigned long long)(uintptr_t)(mem + len),
		 len, len);
	if (h_send_fd(sock, msg, strlen(msg), uffd))
		return 2;
	/* a balloon early in the guest's life; the agent has recorded it once it logs it */
	if (madvise(mem + first * CONTENT_PAGE, n * CONTENT_PAGE, MADV_DONTNEED))
		return 2;
	snprintf(needle, sizeof(needle), " first=%llu pages=%llu", (unsigned long long)first,
		 (unsigned long long)n);
	if (h_wait_log(log, needle, H_TIMEOUT_MS) || write(ready_fd, "r", 1) != 1)
		return 2;
	close(ready_fd);
	for (uint64_t k = 0; k < pages; k++) {
		/* a walk over every page in an order from the seed: p = (a * k + b) mod pages */
		uint64_t p = ((2 * (seed % pages) + 1) * k + seed / 3) % pages;
		const uint8_t *page = mem + p * CONTENT_PAGE;

		if (p >= first && p < first + n ? !h_zero_page(page) : content_check(H_FC_SEED, p, page) != 0)
			bad++;
	}
	return bad ? 1 : 0;
}

int t_chaos_restore_firecracker(const struct t_env *env)
{
	struct chaos c;

	(void)env;
	CHECK_OK(chaos_init(&c, "restore-firecracker"));
	for (unsigned round = 0; round < c.rounds; round++) {
		uint64_t rs = c.seed + round;
		unsigned delay_us = (unsigned)(next(&rs) % 30000);
		char log[160], needle[64];
		int pidfd, status = -1, ready[2];
		json_t *s;
		pid_t g;

		s = h_restore_create(c.ctl, c.image, "{\"name\":\"fc\",\"populate_delay_ms\":-1}");
		CHECK(s);
		snprintf(log, sizeof(log), "%s", c.a.log);
		CHECK_OK(pipe2(ready, O_CLOEXEC));
		fflush(NULL);
		g = fork();
		CHECK(g >= 0);
		if (g == 0) {
			close(ready[0]);
			_exit(fc_guest(json_string_value(json_object_get(s, "socket")), next(&rs), log,
				       ready[1]));
		}
		close(ready[1]);
		CHECK((pidfd = (int)syscall(SYS_pidfd_open, g, 0)) >= 0);
		/*
		 * The moment is chosen once the agent kept the guest's uffd: before
		 * that, an agent killed with the handshake unread takes Firecracker's
		 * only hand-over with it, and no agent can do anything about it.
		 */
		snprintf(needle, sizeof(needle), " pid=%d regions=2", (int)g);
		CHECK_OK(h_wait_log(c.a.log, needle, H_TIMEOUT_MS));
		{
			struct pollfd pf = { .fd = ready[0], .events = POLLIN };
			char b;

			/* the guest's balloon is recorded (or the guest failed: it is reported below) */
			if (poll(&pf, 1, H_TIMEOUT_MS) == 1 && read(ready[0], &b, 1) < 0)
				b = 0;
			close(ready[0]);
		}
		CHECK_OK(kill_and_restart(&c, delay_us));
		{
			struct h_agent guest = { .pid = g, .pidfd = pidfd };

			if (h_agent_wait_exit(&guest, CHAOS_BOUND_MS)) {
				c.hangs++;
				printf("    round %u (seed %llu): the guest did not finish within %d ms\n",
				       round, (unsigned long long)(c.seed + round), CHAOS_BOUND_MS);
				kill(g, SIGKILL);
				waitpid(g, NULL, 0);
			} else {
				status = h_agent_exit_code(&guest);
			}
		}
		if (status == 1) {
			c.wrong++;
			printf("    round %u (seed %llu): guest pages wrong\n", round,
			       (unsigned long long)(c.seed + round));
		} else if (status > 1) {
			printf("    round %u (seed %llu): the guest could not start (%d)\n", round,
			       (unsigned long long)(c.seed + round), status);
			c.hangs++; /* counted as a failure all the same */
		}
		if (leaks_after(&c, json_string_value(json_object_get(s, "id")))) {
			c.leaks++;
			printf("    round %u (seed %llu): state left behind\n", round,
			       (unsigned long long)(c.seed + round));
		}
		json_decref(s);
	}
	return chaos_report(&c);
}

/* ---- live snapshots ------------------------------------------------------ */

/* Whether the process used CPU within bound_ms: a writer held for good uses none. */
static bool running(pid_t pid, int bound_ms)
{
	long t0 = h_proc_cpu_ticks(pid);

	for (int waited = 0; t0 >= 0 && waited < bound_ms; waited += 20) {
		long t = h_proc_cpu_ticks(pid);

		if (t < 0)
			return false;
		if (t > t0 + 1) /* more than the tick the first reading may have straddled */
			return true;
		usleep(20000);
	}
	return false;
}

/* Whether region id is attached again (libfaultline re-registers it by itself). */
static bool reattached(struct chaos *c, const char *id, int bound_ms)
{
	for (int waited = 0; waited < bound_ms; waited += 20) {
		json_t *r = h_region_of(c->ctl, id);
		bool yes = r && !strcmp(json_string_value(json_object_get(r, "state")) ?: "", "ATTACHED");

		json_decref(r);
		if (yes)
			return true;
		usleep(20000);
	}
	return false;
}

/* The ledger a restore session serves holds its invariant (faultline-demo ledger-check). */
static bool session_ledger_ok(const char *sock)
{
	const char *const args[] = { "ledger-check", "--socket", sock, "--size", "32M", "--accounts",
				     "50000", NULL };
	json_t *sum = NULL;
	int st = h_demo_run(args, &sum);
	bool ok = st == 0 && json_is_true(json_object_get(sum, "ok"));

	json_decref(sum);
	return ok;
}

/* A restore session of a snapshot chain, or NULL (refused). */
static json_t *chain_session(struct chaos *c, const char *const *chain, unsigned n)
{
	json_t *req = json_pack("{s:[], s:s, s:i}", "chain", "name", "chaos-check",
				"populate_delay_ms", -1), *s;

	for (unsigned i = 0; req && i < n; i++)
		json_array_append_new(json_object_get(req, "chain"), json_string(chain[i]));
	s = req ? h_callj(c->ctl, PROTO_T_SNAPSHOT_RESTORE, req) : NULL;
	json_decref(req);
	return s;
}

/* The ledger in path's chain holds its invariant. */
static bool ledger_ok(struct chaos *c, const char *const *chain, unsigned n)
{
	json_t *s = chain_session(c, chain, n), *v;
	bool ok;

	if (!s)
		return false;
	ok = session_ledger_ok(json_string_value(json_object_get(s, "socket")));
	v = h_call(c->ctl, PROTO_T_RESTORE_DELETE, "{s:s}", "id",
		   json_string_value(json_object_get(s, "id")));
	json_decref(v);
	json_decref(s);
	return ok;
}

/*
 * The ledger the snapshot scenarios take their snapshots of (faultline-demo
 * ledger, 32 MiB, 50,000 accounts) on the agent's handoff socket; its region
 * id into region (40 bytes) and the snapshot directory into snapdir.
 */
static int ledger_start(struct chaos *c, struct h_proc *ledger, char *snapdir, size_t len,
			char *region)
{
	char handoff[192];
	const char *const args[] = { "ledger", "--socket", handoff, "--size", "32M", "--accounts",
				     "50000", NULL };
	json_t *hello;
	const char *id;

	snprintf(handoff, sizeof(handoff), "%s/handoff.sock", c->a.state);
	snprintf(snapdir, len, "%s/snapshots", c->a.state);
	if (h_demo(ledger, args))
		return -1;
	hello = h_proc_json(ledger, H_TIMEOUT_MS);
	id = json_string_value(json_object_get(hello, "region_id"));
	if (id)
		snprintf(region, 40, "%s", id);
	json_decref(hello);
	return id ? 0 : -1;
}

/*
 * A ledger (faultline-demo ledger: transfers between accounts as fast as
 * it can, an invariant checkable at any instant) is snapshotted, full or
 * incremental on the last snapshot that completed, and the agent dies
 * within 1.5 s of the request: during the rounds, at T, while pages are
 * saved or written out, or after the image is complete.  Then: the ledger
 * goes on (its region re-registered, its writer not held), the snapshot in
 * flight either completed (its image restores to a ledger that holds the
 * invariant) or left nothing behind (no image, no .tmp: the new agent
 * removed it at start), and a new full snapshot restores right.
 */
int t_chaos_snapshot_ledger(const struct t_env *env)
{
	struct chaos c;
	struct h_proc ledger;
	char snapdir[192], region[40], last[256] = "", last_id[40] = "";

	(void)env;
	CHECK_OK(chaos_init(&c, "snapshot-ledger"));
	CHECK_OK(ledger_start(&c, &ledger, snapdir, sizeof(snapdir), region));
	for (unsigned round = 0; round < c.rounds; round++) {
		uint64_t rs = c.seed + round;
		bool incremental = last[0] && next(&rs) % 2;
		unsigned delay_us = (unsigned)(next(&rs) % 1500000);
		char id[40], path[256], tmp[300], after_id[40], after[256];
		const char *chain[2];
		json_t *req, *v;
		struct stat st;
		char *text;

		snprintf(id, sizeof(id), "5a0a5a0a-0000-4000-8000-%012llx", (unsigned long long)round * 2 + 1);
		snprintf(after_id, sizeof(after_id), "5a0a5a0a-0000-4000-8000-%012llx",
			 (unsigned long long)round * 2 + 2);
		snprintf(path, sizeof(path), "%s/chaos-%u.flsnap", snapdir, round);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		snprintf(after, sizeof(after), "%s/chaos-%u-after.flsnap", snapdir, round);
		req = json_pack("{s:s, s:s, s:s, s:s}", "snapshot_id", id, "region_id", region, "path", path,
				"kind", incremental ? "incremental" : "full");
		if (incremental)
			json_object_set_new(req, "parent", json_pack("{s:s, s:s}", "snapshot_id", last_id,
								      "path", last));
		text = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		CHECK(text && !h_send_frame(c.ctl, PROTO_T_SNAPSHOT_TAKE, 0, 7000 + round, text));
		free(text);
		CHECK_OK(kill_and_restart(&c, delay_us));
		if (!reattached(&c, region, CHAOS_BOUND_MS) || !running(ledger.pid, CHAOS_BOUND_MS)) {
			c.hangs++;
			printf("    round %u (seed %llu): the ledger %s after the restart\n", round,
			       (unsigned long long)(c.seed + round),
			       kill(ledger.pid, 0) ? "died" : "stays held");
			break;
		}
		/* the snapshot in flight: complete and right, or gone without a trace */
		chain[0] = incremental ? last : path;
		chain[1] = path;
		t_logf("round %u: %s snapshot, agent killed after %u us: %s", round,
		       incremental ? "incremental" : "full", delay_us,
		       !stat(path, &st) ? "it had completed" : "it was interrupted");
		if (!stat(path, &st)) {
			if (!ledger_ok(&c, chain, incremental ? 2 : 1)) {
				c.wrong++;
				printf("    round %u (seed %llu): the snapshot completed before the kill"
				       " restores to a broken ledger\n", round, (unsigned long long)(c.seed + round));
			}
		}
		if (!stat(tmp, &st)) {
			c.leaks++;
			printf("    round %u (seed %llu): %s left behind\n", round,
			       (unsigned long long)(c.seed + round), tmp);
		}
		/* the new agent snapshots the region right (full: tracking restarted with it) */
		v = h_call(c.ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s, s:s}", "snapshot_id", after_id,
			   "region_id", region, "path", after, "kind", "full");
		chain[0] = after;
		t_logf("round %u: the snapshot after the restart took %lld ms", round,
		       (long long)json_integer_value(json_object_get(v, "duration_ms")));
		if (!v || !ledger_ok(&c, chain, 1)) {
			c.wrong++;
			printf("    round %u (seed %llu): the snapshot after the restart %s\n", round,
			       (unsigned long long)(c.seed + round), v ? "restores to a broken ledger" : "failed");
		}
		json_decref(v);
		/* the parent of the next round's incremental: the last one that completed */
		if (last[0])
			json_decref(h_call(c.ctl, PROTO_T_SNAPSHOT_DELETE, "{s:s}", "path", last));
		json_decref(h_call(c.ctl, PROTO_T_SNAPSHOT_DELETE, "{s:s}", "path", path));
		snprintf(last, sizeof(last), "%s", after);
		snprintf(last_id, sizeof(last_id), "%s", after_id);
	}
	kill(ledger.pid, SIGTERM);
	if (h_proc_wait(&ledger, H_TIMEOUT_MS))
		c.hangs++;
	if (files_in(snapdir, ".tmp") || files_in(c.a.state, ".tmp")) {
		c.leaks++;
		printf("    temporary files left in %s\n", c.a.state);
	}
	return chaos_report(&c);
}

/* A snapshot of the ledger's region, waited for; false when it failed. */
static bool take_snapshot(struct chaos *c, const char *region, const char *id, const char *path,
			  const char *parent_id, const char *parent_path)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "snapshot_id", id, "region_id", region, "path",
				path, "kind", parent_id ? "incremental" : "full"), *v;

	if (req && parent_id)
		json_object_set_new(req, "parent", json_pack("{s:s, s:s}", "snapshot_id", parent_id,
							      "path", parent_path));
	v = req ? h_callj(c->ctl, PROTO_T_SNAPSHOT_TAKE, req) : NULL;
	json_decref(req);
	json_decref(v);
	return v != NULL;
}

/*
 * The service's retention on a running ledger's chain (full A, incremental
 * B on A, incremental C on B): C is consolidated onto B's parent while a
 * restore session serves the chain, and the agent dies within 1 s of
 * the request (before, during or after the rewrite of C).  Then: the
 * ledger goes on; no C.tmp is left (the new agent removes it at start);
 * C is either as it was (the chain A, B, C restores) or consolidated (A, C
 * restores), with the ledger's invariant either way; and the session
 * opened before the kill serves a ledger that holds it too.
 */
int t_chaos_consolidate(const struct t_env *env)
{
	struct chaos c;
	struct h_proc ledger;
	char snapdir[192], region[40];

	(void)env;
	CHECK_OK(chaos_init(&c, "consolidate"));
	CHECK_OK(ledger_start(&c, &ledger, snapdir, sizeof(snapdir), region));
	for (unsigned round = 0; round < c.rounds; round++) {
		uint64_t rs = c.seed + round;
		unsigned delay_us = (unsigned)(next(&rs) % 1000000);
		char ids[3][40], paths[3][256], tmp[300], sid[40] = "", sock[300] = "";
		const char *abc[3] = { paths[0], paths[1], paths[2] }, *ac[2] = { paths[0], paths[2] };
		json_t *req, *v;
		struct stat st;
		char *text;
		bool done;

		for (int i = 0; i < 3; i++) {
			snprintf(ids[i], sizeof(ids[i]), "5a0a5a0a-0000-4000-8000-%012llx",
				 (unsigned long long)round * 3 + (unsigned)i + 1);
			snprintf(paths[i], sizeof(paths[i]), "%s/cons-%u-%d.flsnap", snapdir, round, i);
			CHECK(take_snapshot(&c, region, ids[i], paths[i], i ? ids[i - 1] : NULL,
					    i ? paths[i - 1] : NULL));
		}
		snprintf(tmp, sizeof(tmp), "%s.tmp", paths[2]);
		v = chain_session(&c, abc, 3);
		CHECK(v);
		snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(v, "id")));
		snprintf(sock, sizeof(sock), "%s", json_string_value(json_object_get(v, "socket")));
		json_decref(v);
		req = json_pack("{s:s, s:s}", "parent_path", paths[1], "child_path", paths[2]);
		text = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		CHECK(text && !h_send_frame(c.ctl, PROTO_T_SNAPSHOT_CONSOLIDATE, 0, 9000 + round, text));
		free(text);
		CHECK_OK(kill_and_restart(&c, delay_us));
		if (!reattached(&c, region, CHAOS_BOUND_MS) || !running(ledger.pid, CHAOS_BOUND_MS)) {
			c.hangs++;
			printf("    round %u (seed %llu): the ledger %s after the restart\n", round,
			       (unsigned long long)(c.seed + round),
			       kill(ledger.pid, 0) ? "died" : "stays held");
			break;
		}
		if (!stat(tmp, &st)) {
			c.leaks++;
			printf("    round %u (seed %llu): %s left behind\n", round,
			       (unsigned long long)(c.seed + round), tmp);
		}
		done = !ledger_ok(&c, abc, 3);
		t_logf("round %u: agent killed %u us after the consolidation request: %s", round, delay_us,
		       done ? "C was consolidated" : "C was not");
		if (done && !ledger_ok(&c, ac, 2)) {
			c.wrong++;
			printf("    round %u (seed %llu): neither A,B,C nor A,C restores a ledger that holds"
			       " its invariant\n", round, (unsigned long long)(c.seed + round));
		}
		if (!session_ledger_ok(sock)) {
			c.wrong++;
			printf("    round %u (seed %llu): the session opened before the kill does not serve"
			       " the ledger\n", round, (unsigned long long)(c.seed + round));
		}
		v = h_call(c.ctl, PROTO_T_RESTORE_DELETE, "{s:s}", "id", sid);
		json_decref(v);
		for (int i = 0; i < 3; i++)
			json_decref(h_call(c.ctl, PROTO_T_SNAPSHOT_DELETE, "{s:s}", "path", paths[i]));
	}
	kill(ledger.pid, SIGTERM);
	if (h_proc_wait(&ledger, H_TIMEOUT_MS))
		c.hangs++;
	if (files_in(snapdir, ".tmp") || files_in(c.a.state, ".tmp")) {
		c.leaks++;
		printf("    temporary files left in %s\n", c.a.state);
	}
	{
		char dir[320];

		snprintf(dir, sizeof(dir), "%s/inflight", c.a.state);
		if (files_in(dir, ".json")) {
			c.leaks++;
			printf("    in-flight records left in %s\n", dir);
		}
	}
	return chaos_report(&c);
}
