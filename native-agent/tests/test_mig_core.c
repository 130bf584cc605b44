/*
 * Migration tests, the main path (PROTOCOL.md §1.9, §3): two real agents
 * on this machine with faultline-demo workloads, a source that writes
 * without pause during precopy and a destination that attaches by region
 * name.  Precopy and the switchover (WP_ASYNC tracking, or the hold uffd
 * with the job's granule), postcopy with demand pages ahead of the push,
 * the operator's pause, resume and switchover, a source workload or
 * switchover record that fails, and the destination region after the
 * migration.  The destination's memory is compared byte for byte with the
 * source's memory captured while its writers are held.  Shared parts:
 * test_mig_common.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "faultline.h"
#include "harness.h"
#include "hwork.h"
#include "jx.h"
#include "pchan.h"
#include "proto.h"
#include "ptls.h"
#include "test.h"
#include "test_mig_common.h"

/*
 * A region migrated while 4 threads write to random pages without pause,
 * so that writes land in every instant around the switchover; then the
 * source's memory (held) and the destination's are compared page by page.
 * The writers are paced (20,000 writes/s in all): unpaced, they dirty
 * every page between any two scans, everything is stale at the
 * switchover, and a lost write could not show.  tracking: the job's "tracking" option.  Returns the pages that
 * differ (or -1), and the tracking the source used into used[8].
 */
static long migrate_hammered(const char *tracking, char used[8])
{
	const char *size_s = "32M";
	uint64_t size = UINT64_C(32) << 20;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], cmdline[300];
	json_t *in, *m, *j;
	const char *sock, *channel;
	long diff = -1;

	used[0] = '\0';
	if (pair_start(&p) || start_source_paced(&p, &src, size_s, region, "4", "20000"))
		return -1;
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	sock = in ? str(json_object_get(in, "session"), "socket") : NULL;
	channel = in ? str(in, "channel") : NULL;
	if (!sock || !channel)
		goto out;
	m = mig_out(&p, id, region, channel, SECRET,
		    json_pack("{s:i, s:s, s:s}", "max_rounds", 2, "postcopy", "auto", "tracking", tracking));
	if (!m)
		goto out;
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	if (start_dest(&dst, sock, size_s, ddump))
		goto out;
	m = wait_phase(p.sctl, id, "postcopy completed", 60000);
	if (!m)
		goto out;
	if (str(json_object_get(m, "stats"), "tracking"))
		snprintf(used, 8, "%s", str(json_object_get(m, "stats"), "tracking"));
	json_decref(m);
	snprintf(cmdline, sizeof(cmdline), "dump %s\n", sdump);
	j = cmd(&src, cmdline, 30000);
	if (!j || !json_is_true(json_object_get(j, "ok"))) {
		json_decref(j);
		goto out;
	}
	json_decref(j);
	j = h_proc_json(&dst, 60000);
	if (j && str(j, "dumped"))
		diff = compare_dumps(sdump, ddump, size);
	json_decref(j);
	h_proc_write(&src, "exit\n");
	h_proc_write(&dst, "exit\n");
	h_proc_wait(&src, 10000);
	h_proc_wait(&dst, 10000);
out:
	json_decref(in);
	return diff;
}

/*
 * WP_ASYNC tracking moves the range from the track uffd to the hold uffd
 * at the switchover, which clears its uffd-wp bits: writes between the
 * last scan and the new protection would be unseen unless the workload is
 * stopped meanwhile (mig_src_engine.c).  With the stop, every page is
 * exact; the self-check runs the same against an agent that skips the
 * stop and widens the window (build/faultline-agent-inject,
 * FAULTLINE_INJECT=mig-gap), and the comparison must catch it.
 */
int t_mig_switchover_gap_covered(const struct t_env *env)
{
	char used[8];
	long diff;

	diff = migrate_hammered("auto", used);
	CHECKF(!strcmp(used, "async"), "the source tracked with \"%s\", not WP_ASYNC", used);
	CHECKF(diff == 0, "%ld pages differ after a WP_ASYNC switchover under hammering writers", diff);
	/* the fallback: tracking on the hold uffd for the whole job */
	diff = migrate_hammered("hold", used);
	CHECKF(!strcmp(used, "hold"), "the source tracked with \"%s\", not on the hold uffd", used);
	CHECKF(diff == 0, "%ld pages differ after a switchover tracked on the hold uffd", diff);
	/* the self-check: without the stop the gap loses writes, and the comparison sees it */
	CHECK_OK(inject_agent(env, "mig-gap"));
	diff = migrate_hammered("auto", used);
	inject_agent(env, NULL);
	t_logf("without the stop, %ld pages differ", diff);
	CHECKF(diff > 0, "an uncovered switchover gap went unnoticed (%ld pages differ): the test is blind",
	       diff);
	return T_PASS;
}

int t_mig_byte_for_byte(const struct t_env *env)
{
	(void)env;
	return migrate_and_compare("64M", UINT64_C(64) << 20, false);
}

int t_mig_byte_for_byte_256m(const struct t_env *env)
{
	(void)env;
	return migrate_and_compare("256M", UINT64_C(256) << 20, false);
}

/*
 * Operator controls: pause in precopy (both sides pause, nothing moves),
 * resume, then a manual switchover by request; the migration completes
 * and the destination's copy equals the source's at the hold.
 */
int t_mig_pause_resume_switchover(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	uint64_t size = UINT64_C(16) << 20, before;
	json_t *in, *out, *m, *j;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n}", "postcopy", "manual", "postcopy_after_ms"));
	CHECK(out);
	for (int i = 0;; i++) {
		m = wait_phase(p.sctl, id, "precopy", 10000);
		CHECK(m && i < 1000);
		if (stat_of(m, "rounds") >= 2)
			break;
		json_decref(m);
		nap_ms(10);
	}
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_PAUSE, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "paused") && !strcmp(str(m, "paused_in"), "precopy"));
	json_decref(m);
	m = wait_phase(p.dctl, id, "paused", 10000);
	CHECK(m);
	json_decref(m);
	/* the source's job thread is parked from this line on */
	CHECK_OK(h_wait_log(p.src.log, "migration paused on request", 10000));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m);
	before = stat_of(m, "precopy_pages");
	json_decref(m);
	/* a switchover is refused while paused */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "CONFLICT", "{s:s}", "migration_id",
			      id));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && stat_of(m, "precopy_pages") == before); /* nothing moves while paused */
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.sctl, id, "precopy", 10000);
	CHECK(m);
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(switch_over_to_dest(&p, id, in, &dst, ddump, "postcopy completed"));
	CHECK_OK(dump_to(&src, sdump, 30000));
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.dctl, id, "completed", 30000);
	CHECK(m);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The source workload dies in the middle of postcopy: the pages it still
 * held are lost, so both sides fail and say why; the destination's
 * workload is never handed a page that did not come from the source.
 */
int t_mig_source_workload_dies(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], ddump[256];
	json_t *in, *out, *m;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	/* 8 MiB/s: the background push cannot finish before the kill */
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:i}", "max_rounds", 1, "bandwidth_bytes_per_s", 8 << 20));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	m = wait_phase(p.sctl, id, "postcopy", 30000);
	CHECK(m && stat_of(m, "remaining_bytes") > 0);
	json_decref(m);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	m = wait_phase(p.sctl, id, "failed", 30000);
	CHECK(m && str(m, "error"));
	json_decref(m);
	m = wait_phase(p.dctl, id, "failed", 30000);
	CHECK(m && str(m, "error") && strstr(str(m, "error"), "the source failed"));
	json_decref(m);
	/* a destination workload that comes now waits for pages; it is never given zeros */
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", ddump));
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "failed"));
	json_decref(m);
	CHECK_OK(kill(dst.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&dst, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The switchover marker cannot be written (here: a directory is in its
 * place): no switchover.  The job fails with the reason before the source
 * holds its writers, the destination is told, and the source workload goes
 * on writing - the region's only current copy stays where it is.
 */
int t_mig_switchover_unrecorded(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], path[400];
	json_t *in, *out, *m;
	long t0, t;
	int waited = 0;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	snprintf(path, sizeof(path), "%s/migration", p.src.state);
	CHECK(!mkdir(path, 0700) || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/migration/%s.held", p.src.state, region);
	CHECK_OK(mkdir(path, 0700));
	snprintf(path, sizeof(path), "%s/migration/%s.held/in-the-way", p.src.state, region);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		CHECK(fd >= 0);
		close(fd);
	}
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET, json_object());
	CHECK(out);
	m = wait_phase(p.sctl, id, "failed completed", 60000);
	CHECKF(m && !strcmp(str(m, "phase"), "failed") && strstr(str(m, "error") ?: "", "cannot record the switchover"),
	       "the source's job: %s", m ? str(m, "phase") : "no answer");
	json_decref(m);
	m = wait_phase(p.dctl, id, "failed", 30000);
	CHECK(m && strstr(str(m, "error") ?: "", "the source failed"));
	json_decref(m);
	/* the source workload is not held: it uses CPU */
	t0 = h_proc_cpu_ticks(src.pid);
	for (t = t0; t0 >= 0 && t <= t0 + 1 && waited < 10000; waited += 20) {
		nap_ms(20);
		t = h_proc_cpu_ticks(src.pid);
	}
	CHECKF(t > t0 + 1, "the source workload stays held after the failed switchover");
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* ---- the destination region after the migration completed --------------- */

struct toucher {
	volatile uint8_t *addr;
	size_t len;
	bool drop;
	atomic_bool stop;
	int done_fd;
};

/*
 * Reads one byte of every page again and again (faulting on what was
 * removed), or drops the range again and again (MADV_DONTNEED), so that
 * faults meet pending removals (EAGAIN from the agent's installs).
 */
static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	uint64_t one = 1;
	unsigned sum = 0;

	while (!atomic_load(&t->stop)) {
		if (t->drop) {
			madvise((void *)t->addr, t->len, MADV_DONTNEED);
			continue;
		}
		for (size_t off = 0; off < t->len; off += MIG_PAGE)
			sum += t->addr[off];
	}
	(void)sum;
	if (write(t->done_fd, &one, sizeof(one)) < 0)
		abort();
	return NULL;
}

/*
 * The test is the destination workload (libfaultline, in process).  Once
 * both sides report the migration completed, ranges of the region are
 * removed (MADV_DONTNEED, zapped late) while another thread keeps faulting
 * on them: every read returns promptly, removed pages read zero and the
 * others keep the migrated bytes.
 */
int t_mig_dst_remove_after_complete(const struct t_env *env)
{
	const uint64_t size = UINT64_C(16) << 20, pages = size / MIG_PAGE;
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	uint8_t *mem, *ref = malloc(size), *buf = malloc(size);
	json_t *in, *out, *m;
	fl_client *c;
	fl_region *r;

	(void)env;
	CHECK(ref && buf);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return t_skip("late removals need a second CPU for the agent");
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s}", "max_rounds", 2, "postcopy", "auto"));
	CHECK(out);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	c = fl_connect(str(json_object_get(in, "session"), "socket"));
	CHECKF(c && !fl_region_register(c, mem, size, "demo", NULL, FL_MODE_MISSING, &r),
	       "register the destination: %s", fl_last_error());
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECKF(h_read_bounded(mem, size, ref) == 0, "reading the migrated region hangs");
	for (unsigned round = 0; round < 8; round++) {
		uint64_t first = (round * 131) % (pages / 2), n = 32 + (round * 257) % (pages / 4);
		/* the reader and the dropper share the last 16 pages; the late removal is elsewhere */
		struct toucher t[2] = {
			{ .addr = mem + size - 16 * MIG_PAGE, .len = 16 * MIG_PAGE },
			{ .addr = mem + size - 16 * MIG_PAGE, .len = 16 * MIG_PAGE, .drop = true },
		};
		pthread_t th[2];

		for (int k = 0; k < 2; k++) {
			t[k].done_fd = eventfd(0, EFD_CLOEXEC);
			CHECK(t[k].done_fd >= 0 && !pthread_create(&th[k], NULL, toucher_main, &t[k]));
		}
		CHECK_OK(h_remove_late(mem + first * MIG_PAGE, n * MIG_PAGE));
		for (int k = 0; k < 2; k++) {
			struct pollfd pfd = { .fd = t[k].done_fd, .events = POLLIN };

			atomic_store(&t[k].stop, true);
			CHECKF(poll(&pfd, 1, H_READ_BOUND_MS) == 1,
			       "round %u: a thread %s the last 16 pages while pages %llu..%llu were removed"
			       " hangs", round, t[k].drop ? "dropping" : "reading",
			       (unsigned long long)first, (unsigned long long)(first + n - 1));
			pthread_join(th[k], NULL);
			close(t[k].done_fd);
		}
		memset(ref + size - 16 * MIG_PAGE, 0, 16 * MIG_PAGE);
		memset(ref + first * MIG_PAGE, 0, n * MIG_PAGE);
		CHECKF(h_read_bounded(mem, size, buf) == 0, "round %u: a read after the removal hangs",
		       round);
		for (uint64_t pg = 0; pg < pages; pg++)
			CHECKF(!memcmp(buf + pg * MIG_PAGE, ref + pg * MIG_PAGE, MIG_PAGE),
			       "round %u: page %llu differs", round, (unsigned long long)pg);
	}
	fl_region_unregister(r);
	fl_disconnect(c);
	munmap(mem, size);
	json_decref(in);
	json_decref(out);
	free(ref);
	free(buf);
	return T_PASS;
}

/*
 * A destination that never waits for a page (its workload attaches after the
 * switchover) has a downtime all the same: from the source's hold to the
 * moment the destination ran, before any fault was served.
 */
int t_mig_downtime_without_faults(const struct t_env *env)
{
	const char *size_s = "4M";
	uint64_t size = UINT64_C(4) << 20;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j, *st;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, size_s, region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s}", "max_rounds", 1, "postcopy", "auto"));
	CHECK(out);
	/* switched over with no destination workload: nothing can fault there yet */
	m = wait_phase(p.dctl, id, "postcopy", 60000);
	CHECK(m);
	st = json_object_get(m, "stats");
	CHECKF(json_is_null(json_object_get(st, "first_fault_at_ms")) &&
		       json_is_integer(json_object_get(st, "downtime_ms")) &&
		       json_integer_value(json_object_get(st, "downtime_ms")) < 60000,
	       "downtime %s, first fault %s", json_dumps(json_object_get(st, "downtime_ms"), JSON_ENCODE_ANY),
	       json_dumps(json_object_get(st, "first_fault_at_ms"), JSON_ENCODE_ANY));
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(dump_to(&src, sdump, 30000));
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* ---- granule_pages --------------------------------------------------------- */

/*
 * One job tracked on the hold uffd with granule_pages `granule`, on agents
 * whose own granule (--track-granule-pages) is 4: once round 1 has sent
 * every page, the workload writes every page once; *faults: the tracking
 * faults that took.  The job is cancelled at the end (the worker lets go).
 */
static int granule_run(uint64_t granule, uint64_t *faults)
{
	static const char *const agent_granule[] = { "--track-granule-pages", "4", NULL };
	const uint64_t size = UINT64_C(16) << 20;
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m, *j;
	uint64_t before;

	CHECK_OK(pair_start_with(&p, agent_granule));
	CHECK_OK(start_source_n(&p, &src, "16M", region, "0"));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:s, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"tracking", "hold", "granule_pages", (json_int_t)granule));
	CHECK(out);
	m = wait_stat(p.sctl, id, "rounds", 1, 30000);
	CHECK(m && !strcmp(str(json_object_get(m, "stats"), "tracking") ?: "", "hold"));
	before = stat_of(m, "tracking_faults");
	json_decref(m);
	j = cmd(&src, "rewrite change\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "rewritten")) == (json_int_t)(size / MIG_PAGE));
	json_decref(j);
	/* the worker counts a fault as it lifts it: a round it served after them sees them all */
	m = wait_more_rounds(p.sctl, id, 1, 30000);
	CHECK(m);
	*faults = stat_of(m, "tracking_faults") - before;
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	/* bad values are refused, naming the option, not clamped */
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":0}",
				    "granule_pages"));
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":513}",
				    "granule_pages"));
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":-16}",
				    "granule_pages"));
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":\"16\"}",
				    "granule_pages"));
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * "granule_pages": a job that tracks on the hold uffd lifts its own granule
 * per write fault, not the agent's: writing each of 4096 pages once costs
 * about 4096 faults with 1 and about 256 with 16 (a round that protects a
 * page between the writer's two stores to it adds one), and the agent's 4
 * (1024) would fail both.
 */
int t_mig_granule_pages_applied(const struct t_env *env)
{
	static const uint64_t granules[] = { 1, 16 };
	const uint64_t pages = (UINT64_C(16) << 20) / MIG_PAGE;

	(void)env;
	for (size_t i = 0; i < sizeof(granules) / sizeof(granules[0]); i++) {
		uint64_t g = granules[i], faults = 0;

		if (granule_run(g, &faults) != T_PASS)
			return T_FAIL;
		t_logf("granule_pages %llu: %llu tracking faults for %llu pages written once",
		       (unsigned long long)g, (unsigned long long)faults, (unsigned long long)pages);
		CHECKF(faults >= pages / g && faults < 2 * pages / g,
		       "granule_pages %llu: %llu tracking faults, expected %llu-%llu: the job's granule is "
		       "not the one lifted", (unsigned long long)g, (unsigned long long)faults,
		       (unsigned long long)(pages / g), (unsigned long long)(2 * pages / g - 1));
	}
	return T_PASS;
}

/* Page p's bytes as the fake source sends them first: its number in every byte. */
static void first_copy(uint8_t *page, uint64_t p)
{
	memset(page, (int)(p * 7 + 1), MIG_PAGE);
	memcpy(page, &p, sizeof(p));
}

/*
 * After the switchover a staged page that is ready may be installed from
 * the staging at any moment, so the destination never writes into it
 * again: not a second copy of it (raw, or zstd, which decompresses with
 * its output buffer as scratch), whatever it holds.  A fake source sends
 * every page, the switchover, then the same pages again with other bytes
 * (raw and pages_z, on both channels); the workload attaches only after
 * that, so nothing was installed in between, and must read the first
 * copies, byte for byte.  (Caught a destination that decompressed pages_z
 * frames straight into the staging of pages being installed.)
 */
int t_mig_dest_keeps_first_copy(const struct t_env *env)
{
	const uint64_t pages = 256, size = pages * MIG_PAGE;
	struct pair p;
	struct h_proc dst;
	char id[JX_UUID_LEN + 1], err[256] = "", ddump[256];
	const char *args[] = { "mig-dest", "--socket", NULL, "--size", "1M", "--name", "demo",
			       "--dump", NULL, NULL };
	uint8_t *pg = malloc(64 * MIG_PAGE), *z = malloc(ZSTD_compressBound(64 * MIG_PAGE));
	uint8_t setup[12], ms[8] = { 0 }, in[64];
	struct pchan_geom g = { .n_pages = pages, .page_size = MIG_PAGE };
	struct pchan_hdr h;
	struct ptls_conn *c, *pc;
	uint64_t seq = 0, acked = 0;
	FILE *f;
	json_t *j, *mi;

	(void)env;
	CHECK(pg && z);
	CHECK_OK(pair_start(&p));
	new_id(id);
	mi = mig_in(&p, id, "demo", size, SECRET);
	CHECK(mi);
	c = fake_source(str(mi, "channel"), id, PCHAN_MAIN, err, sizeof(err));
	CHECKF(c, "main channel: %s", err);
	pc = fake_source(str(mi, "channel"), id, PCHAN_PREEMPT, err, sizeof(err));
	CHECKF(pc, "preempt channel: %s", err);
	for (int b = 0; b < 8; b++)
		setup[b] = (uint8_t)(size >> (56 - 8 * b));
	for (int b = 0; b < 4; b++)
		setup[8 + b] = (uint8_t)((uint32_t)MIG_PAGE >> (24 - 8 * b));
	h = (struct pchan_hdr){ .type = PCHAN_T_SETUP, .length = 12 };
	CHECK_OK(pchan_send(c, &h, setup));
	for (uint64_t first = 0; first < pages; first += 64) {
		for (uint64_t i = 0; i < 64; i++)
			first_copy(pg + i * MIG_PAGE, first + i);
		h = (struct pchan_hdr){ .type = PCHAN_T_PAGES, .seq = ++seq, .page = first, .count = 64,
					.length = 64 * MIG_PAGE };
		CHECK_OK(pchan_send(c, &h, pg));
	}
	h = (struct pchan_hdr){ .type = PCHAN_T_SWITCHOVER, .seq = ++seq, .length = 8 };
	CHECK_OK(pchan_send(c, &h, ms));
	/* the destination runs (as a real source, the preempt channel carries pages only from then on) */
	j = wait_phase(p.dctl, id, "postcopy", 10000);
	CHECK(j);
	json_decref(j);
	/* every page again, with other bytes: zstd and raw, main and preempt */
	memset(pg, 0xEE, 64 * MIG_PAGE);
	for (uint64_t first = 0; first < pages; first += 64) {
		bool zstd = first / 64 % 2 == 0;
		struct ptls_conn *on = first / 128 ? pc : c;
		size_t n = zstd ? ZSTD_compress(z, ZSTD_compressBound(64 * MIG_PAGE), pg, 64 * MIG_PAGE, 1)
				: 64 * MIG_PAGE;

		CHECK(!ZSTD_isError(n));
		h = (struct pchan_hdr){ .type = zstd ? PCHAN_T_PAGES_Z : PCHAN_T_PAGES,
					.seq = on == c ? ++seq : 0, .page = first, .count = 64,
					.length = (uint32_t)n };
		CHECK_OK(pchan_send(on, &h, zstd ? z : pg));
	}
	/* a last frame on each channel after them: once it is staged, so are they */
	first_copy(pg, pages - 1);
	h = (struct pchan_hdr){ .type = PCHAN_T_PAGES, .page = pages - 1, .count = 1, .length = MIG_PAGE };
	CHECK_OK(pchan_send(pc, &h, pg));
	h.seq = ++seq;
	CHECK_OK(pchan_send(c, &h, pg));
	while (acked < seq) {
		CHECK_OK(pchan_recv(c, &h, in, sizeof(in), &g, 10000));
		if (h.type == PCHAN_T_ACK)
			acked = h.seq;
	}
	j = NULL;
	for (int i = 0; i < 1000; i++) {
		json_decref(j);
		j = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		if (j && stat_of(j, "demand_pages") >= 128 + 1)
			break;
		nap_ms(10);
	}
	CHECKF(j && stat_of(j, "demand_pages") >= 128 + 1, "the preempt channel's pages were not staged");
	json_decref(j);
	/* now the workload: every page installed from the staging */
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	args[2] = str(json_object_get(mi, "session"), "socket");
	args[8] = ddump;
	CHECK_OK(h_demo(&dst, args));
	j = h_proc_json(&dst, 10000);
	CHECK(j && str(j, "region_id"));
	json_decref(j);
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	f = fopen(ddump, "rb");
	CHECK(f);
	for (uint64_t q = 0; q < pages; q++) {
		uint8_t want[MIG_PAGE];

		CHECK(fread(pg, 1, MIG_PAGE, f) == MIG_PAGE);
		first_copy(want, q);
		CHECKF(!memcmp(pg, want, MIG_PAGE), "page %llu is not its first copy (byte 100: 0x%02x)",
		       (unsigned long long)q, pg[100]);
	}
	fclose(f);
	h_proc_write(&dst, "exit\n");
	CHECK_OK(h_proc_wait(&dst, 10000));
	ptls_close(c);
	ptls_close(pc);
	json_decref(mi);
	free(pg);
	free(z);
	return T_PASS;
}

/*
 * Demand pages go ahead of the background push and are not held to its
 * bandwidth limit: the push is limited to 256 KiB/s (it would need a minute
 * for this region), the switchover is asked for at once, so nearly every
 * page is stale, and the destination workload still reads all of them in
 * seconds, through demand requests; every page compared byte for byte.
 */
int t_mig_demand_ahead_of_push(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, t0;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j;
	struct timespec ts;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, size_s, region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:i}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", 256 << 10));
	CHECK(out);
	CHECK_OK(switch_over_and_wait(p.sctl, id, "postcopy", 30000));
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(dump_to(&src, sdump, 30000));
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	/* the push alone would take 64 s: the dump must not wait for it */
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t_logf("destination read 16 MiB in %llu ms with the push limited to 256 KiB/s",
	       (unsigned long long)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - t0));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && stat_of(m, "demand_pages") >= size / MIG_PAGE / 4);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	m = wait_phase(p.sctl, id, "completed", 30000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}
