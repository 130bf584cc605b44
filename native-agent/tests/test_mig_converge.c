/*
 * Migration tests of auto-converge ("auto_converge"): a writer that
 * outruns the page channel is throttled until the rounds converge, with
 * WP_ASYNC tracking as on the hold uffd; a workload the agent may not stop
 * switches over as without the option; and however a throttling job ends,
 * its workload runs on, traced by nobody.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hwork.h"
#include "jx.h"
#include "proto.h"
#include "test.h"
#include "test_mig_common.h"

/*
 * Threads of process pid that are traced or in a ptrace stop (auto-converge
 * must never leave one so once a job ends); -1 when /proc cannot be read.
 */
static int traced_threads(pid_t pid)
{
	char path[320], line[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* exited meanwhile */
		while (fgets(line, sizeof(line), f)) {
			if ((!strncmp(line, "TracerPid:", 10) && atoi(line + 10) != 0) ||
			    (!strncmp(line, "State:", 6) && strpbrk(line + 6, "tT"))) {
				n++;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Polls the source's job until its stats say throttle == want (timeout_ms); the job, or NULL. */
static json_t *wait_throttle(int ctl, const char *id, const char *want, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		const char *t = m ? str(json_object_get(m, "stats"), "throttle") : NULL;

		if (t && !strcmp(t, want))
			return m;
		if (waited >= timeout_ms || (m && strcmp(str(m, "phase"), "precopy"))) {
			char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;

			printf("    throttle not \"%s\" after %d ms: %s\n", want, waited, s ? s : "(no reply)");
			free(s);
			json_decref(m);
			return NULL;
		}
		json_decref(m);
		nap_ms(10);
	}
}

/*
 * auto_converge: a writer that outruns the page channel (20,000 random
 * writes a second against 40 MB/s, 16 MiB) never lets the rounds converge: without
 * the option the source switches over after the first round with most of
 * the region stale; with it, each round that does not converge stops the
 * writer for a larger share of every 100 ms (20%, 30%, ...) until the
 * rounds catch up, and the switchover leaves far fewer pages to send,
 * with WP_ASYNC tracking as on the hold uffd.  (The writer is paced: the
 * throttle slows it by what it cannot catch up, at most 10 ms per period.)
 * Every page arrives byte-exact either way, and no thread of the workload
 * is traced or stopped once the job is over.
 */
int t_mig_auto_converge(const struct t_env *env)
{
	/* on the hold uffd the job's granule_pages (1 by default) lifts page by page, as WP_ASYNC
	 * tracks (16 pages a fault would keep this writer's pages all dirty until the throttle is
	 * near its top) */
	static const struct {
		bool auto_converge;
		const char *tracking;
		unsigned min_pct; /* the throttle at the switchover at least (hold: its faults slow the writer too) */
	} cases[] = { { false, "auto", 0 }, { true, "auto", 30 }, { true, "hold", 20 } };
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, stale[3] = { 0, 0, 0 };

	(void)env;
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pair p;
		struct h_proc src, dst;
		char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
		json_t *in, *out, *m, *j, *st;
		const char *thr;

		CHECK_OK(pair_start(&p));
		CHECK_OK(start_source_paced(&p, &src, size_s, region, "2", "20000"));
		new_id(id);
		in = mig_in(&p, id, "demo", size, SECRET);
		CHECK(in);
		out = mig_out(&p, id, region, str(in, "channel"), SECRET,
			      json_pack("{s:I, s:i, s:i, s:s, s:n, s:b, s:s}", "bandwidth_bytes_per_s",
					(json_int_t)40000000, "max_rounds", 40, "max_downtime_ms", 20,
					"postcopy", "auto", "postcopy_after_ms", "auto_converge",
					cases[c].auto_converge, "tracking", cases[c].tracking));
		CHECK(out);
		snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
		snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
		m = wait_phase(p.sctl, id, "postcopy completed", 120000);
		CHECK(m);
		json_decref(m);
		CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
		CHECK_OK(dump_to(&src, sdump, 30000));
		j = h_proc_json(&dst, 60000);
		CHECK(j && str(j, "dumped"));
		json_decref(j);
		m = wait_phase(p.sctl, id, "completed", 60000);
		CHECK(m);
		st = json_object_get(m, "stats");
		thr = str(st, "throttle");
		stale[c] = stat_of(m, "postcopy_pages") + stat_of(m, "demand_pages");
		t_logf("auto_converge %s, tracking %s: %llu rounds, %llu pages stale at the switchover, throttle %s at "
		       "%llu%%, held %llu ms", cases[c].auto_converge ? "on" : "off",
		       cases[c].tracking, (unsigned long long)stat_of(m, "rounds"), (unsigned long long)stale[c],
		       thr ? thr : "null", (unsigned long long)stat_of(m, "throttle_pct"),
		       (unsigned long long)stat_of(m, "throttled_ms"));
		if (cases[c].auto_converge) {
			CHECKF(thr && !strcmp(thr, "stopped"), "throttle %s after the job", thr ? thr : "null");
			CHECKF(stat_of(m, "throttle_pct") >= cases[c].min_pct, "the throttle stopped at %llu%%",
			       (unsigned long long)stat_of(m, "throttle_pct"));
			CHECK(stat_of(m, "throttled_ms") > 0);
		} else {
			CHECK(!thr && stat_of(m, "throttle_pct") == 0 && stat_of(m, "throttled_ms") == 0);
		}
		json_decref(m);
		CHECKF(compare_dumps(sdump, ddump, size) == 0, "pages differ (auto_converge %d)",
		       cases[c].auto_converge);
		CHECKF(traced_threads(src.pid) == 0, "the source workload is still traced or stopped");
		CHECK_OK(exit_both(&src, &dst));
		json_decref(in);
		json_decref(out);
	}
	/* typically a tenth; the drain before the stop (up to 2 s, the workload throttled) adds some */
	for (unsigned c = 1; c < sizeof(cases) / sizeof(cases[0]); c++)
		CHECKF(stale[c] * 3 < stale[0] * 2, "auto-converge (tracking %s) left %llu pages stale, %llu without it",
		       cases[c].tracking, (unsigned long long)stale[c], (unsigned long long)stale[0]);
	return T_PASS;
}

/*
 * A workload the source agent may not stop (ptrace refused; injected, as
 * the tests run as root): auto_converge reports the throttle "unavailable"
 * and the job switches over as without it, every page byte-exact.
 */
int t_mig_auto_converge_unavailable(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j;
	const char *thr;
	int r = T_FAIL;

	CHECK_OK(inject_agent(env, "throttle-eperm"));
	if (pair_start(&p) || start_source_paced(&p, &src, size_s, region, "2", "20000"))
		goto out;
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	if (!in)
		goto out;
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:I, s:i, s:i, s:s, s:n, s:b}", "bandwidth_bytes_per_s", (json_int_t)40000000,
				"max_rounds", 40, "max_downtime_ms", 20, "postcopy", "auto", "postcopy_after_ms",
				"auto_converge", true));
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	m = out ? wait_phase(p.sctl, id, "postcopy completed", 120000) : NULL;
	if (!m)
		goto out_in;
	json_decref(m);
	if (start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump) ||
	    dump_to(&src, sdump, 30000))
		goto out_in;
	j = h_proc_json(&dst, 60000);
	if (!j || !str(j, "dumped")) {
		json_decref(j);
		goto out_in;
	}
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	if (!m)
		goto out_in;
	thr = str(json_object_get(m, "stats"), "throttle");
	t_logf("throttle %s after %llu round(s), held %llu ms", thr ? thr : "null",
	       (unsigned long long)stat_of(m, "rounds"), (unsigned long long)stat_of(m, "throttled_ms"));
	if (!thr || strcmp(thr, "unavailable") || stat_of(m, "throttled_ms") != 0 ||
	    stat_of(m, "rounds") != 1) {
		printf("    expected throttle \"unavailable\", nothing held, the switchover after round 1\n");
		json_decref(m);
		goto out_in;
	}
	json_decref(m);
	if (compare_dumps(sdump, ddump, size) != 0 || traced_threads(src.pid) != 0 || exit_both(&src, &dst))
		goto out_in;
	r = T_PASS;
out_in:
	json_decref(in);
	json_decref(out);
out:
	inject_agent(env, NULL);
	return r;
}

/*
 * However a job ends while it throttles its workload, the workload runs on
 * at once, traced by nobody: cancelled, paused (it is unthrottled until the
 * job goes on), or the source agent stopped.
 */
int t_mig_auto_converge_lets_go(const struct t_env *env)
{
	enum end { END_CANCEL, END_PAUSE, END_AGENT_STOP };
	static const struct {
		const char *name;
		enum end end;
	} cases[] = { { "cancel", END_CANCEL }, { "pause", END_PAUSE }, { "agent stop", END_AGENT_STOP } };

	(void)env;
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pair p;
		struct h_proc src;
		char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
		json_t *in, *out, *m;
		uint64_t w;

		t_logf("ends by %s", cases[c].name);
		CHECK_OK(pair_start(&p));
		CHECK_OK(start_source_n(&p, &src, "4M", region, "1"));
		new_id(id);
		in = mig_in(&p, id, "demo", UINT64_C(4) << 20, SECRET);
		CHECK(in);
		if (c == 0) {
			/* a flag that is not a boolean is refused, not taken for false */
			m = mig_out(&p, id, region, str(in, "channel"), SECRET,
				    json_pack("{s:s}", "auto_converge", "yes"));
			CHECK(!m);
		}
		out = mig_out(&p, id, region, str(in, "channel"), SECRET,
			      json_pack("{s:I, s:i, s:s, s:n, s:b}", "bandwidth_bytes_per_s",
					(json_int_t)1000000, "max_rounds", 1000, "postcopy", "auto",
					"postcopy_after_ms", "auto_converge", true));
		CHECK(out);
		m = wait_throttle(p.sctl, id, "throttling", 30000);
		CHECK(m);
		CHECK(stat_of(m, "throttle_pct") >= 20);
		json_decref(m);
		switch (cases[c].end) {
		case END_CANCEL:
			m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
			CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
			json_decref(m);
			break;
		case END_PAUSE:
			m = h_call(p.sctl, PROTO_T_MIGRATION_PAUSE, "{s:s}", "migration_id", id);
			CHECK(m);
			json_decref(m);
			/* logged once the job thread has unthrottled and parked */
			CHECK_OK(h_wait_log(p.src.log, "migration paused on request", 10000));
			m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
			CHECK(m && !strcmp(str(json_object_get(m, "stats"), "throttle"), "ready") &&
			      stat_of(m, "throttle_pct") == 0);
			json_decref(m);
			break;
		case END_AGENT_STOP:
			CHECK_OK(kill(p.src.pid, SIGTERM));
			CHECK_OK(h_agent_wait_exit(&p.src, H_TIMEOUT_MS));
			CHECK(h_agent_exit_code(&p.src) == 0);
			break;
		}
		CHECKF(traced_threads(src.pid) == 0, "%s: the workload is still traced or stopped",
		       cases[c].name);
		w = writes_after(&src, 0);
		CHECKF(writes_after(&src, w) > w, "%s: the workload does not run on", cases[c].name);
		h_proc_write(&src, "exit\n");
		CHECK_OK(h_proc_wait(&src, 10000));
		json_decref(in);
		json_decref(out);
	}
	return T_PASS;
}
