/*
 * Migration tests of agents that die and links that break: one agent or
 * both killed (SIGKILL) before or after the switchover and started again
 * on their state directories, the jobs read back from their journals
 * (and the chaos campaign's migration scenarios, tests/test_chaos.c has
 * the others), a cancel that survives a restart, and a page channel cut
 * mid-postcopy that the job resumes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hwork.h"
#include "jx.h"
#include "proto.h"
#include "test.h"
#include "test_mig_common.h"

int t_mig_cut_and_resume(const struct t_env *env)
{
	(void)env;
	return migrate_and_compare("64M", UINT64_C(64) << 20, true);
}

/*
 * The source agent is killed mid-precopy, its writers waiting on the hold
 * uffd; the agent started again on the same state directory gives the
 * region back to the track uffd when libfaultline registers it again, so
 * the workload runs on (nothing had switched over).
 */
int t_mig_source_agent_killed(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	struct h_agent again;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m;
	uint64_t w, w2;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n}", "postcopy", "manual", "postcopy_after_ms"));
	CHECK(out);
	for (int i = 0;; i++) {
		m = wait_phase(p.sctl, id, "precopy", 10000);
		CHECK(m && i < 1000);
		if (stat_of(m, "rounds") >= 1)
			break;
		json_decref(m);
		nap_ms(10);
	}
	json_decref(m);
	CHECK_OK(kill(p.src.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&p.src, H_TIMEOUT_MS));
	close(p.sctl);
	CHECK_OK(h_agent_spawn(&again, p.src.dir, p.src.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&again, H_TIMEOUT_MS));
	w = writes_after(&src, 0);
	w2 = writes_after(&src, w);
	CHECKF(w2 > w, "the workload's writers stay blocked after the agent restarted");
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* Bytes of a file from off (0 when it is shorter or missing). */
static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (long)st.st_size;
}

/*
 * The destination agent is killed (SIGKILL) in the middle of postcopy,
 * after its workload dropped a page it never read.  Started again on the
 * same state directory and address, it reads the job back from its
 * journal (paused: the secret is not on disk), the workload registers its
 * region again (libfaultline, resume_id), the control plane gives the
 * secret back, the source reconnects and sends what the destination lost;
 * the migration completes, every page equals the source's at the hold,
 * the workload's own writes stay, and the dropped page reads zero.
 */
int t_mig_dst_agent_killed(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	struct h_agent again;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256],
		removed[400], journal[400], channel[300], dregion[JX_UUID_LEN + 1];
	const char *extra[3] = { "--page-channel-listen", channel, NULL };
	uint64_t size = UINT64_C(16) << 20, nonzero;
	json_t *in, *out, *m, *j;
	int dctl;
	long diff;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	snprintf(channel, sizeof(channel), "%s", str(in, "channel"));
	/* 4 MiB/s and a switchover at once: the background push lasts seconds */
	out = mig_out(&p, id, region, channel, SECRET,
		      json_pack("{s:s, s:n, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", (json_int_t)(size / 4)));
	CHECK(out);
	CHECK_OK(switch_over_to_dest(&p, id, in, &dst, "-", "postcopy"));
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(dump_to(&src, sdump, 30000));
	/* the workload's marks are written: it runs on the destination */
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && !strcmp(str(m, "phase"), "postcopy") && stat_of(m, "remaining_bytes") > 0,
	       "the destination should be mid-postcopy: %s", m ? str(m, "phase") : "no answer");
	snprintf(dregion, sizeof(dregion), "%s", str(m, "destination_region_id"));
	json_decref(m);
	/* dropped, never read: only the record says it must read zero */
	j = cmd(&dst, "forget 11\n", 10000);
	CHECK(j && json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	snprintf(removed, sizeof(removed), "%s/migration/%s.removed", p.dst.state, dregion);
	for (int waited = 0; file_size(removed) < 16; waited += 10) {
		CHECKF(waited < 10000, "no record of the removed page in %s", removed);
		nap_ms(10);
	}
	snprintf(journal, sizeof(journal), "%s/migration/%s.job", p.dst.state, id);
	{
		char text[4096] = "";
		FILE *f = fopen(journal, "r");
		size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

		if (f)
			fclose(f);
		text[n] = '\0';
		CHECKF(n > 0, "no journal at %s", journal);
		CHECKF(!strstr(text, SECRET) && !strstr(text, "secret"), "the secret is in the journal");
	}
	CHECK_OK(kill(p.dst.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&p.dst, H_TIMEOUT_MS));
	close(p.dctl);
	m = wait_phase(p.sctl, id, "paused", 10000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(h_agent_spawn(&again, p.dst.dir, p.dst.sock, extra));
	CHECK_OK(h_agent_wait_ready(&again, H_TIMEOUT_MS));
	dctl = h_ctl_open(&again);
	CHECK(dctl >= 0);
	m = h_call(dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && !strcmp(str(m, "phase"), "paused") && strstr(str(m, "error") ?: "", "secret") &&
		       json_is_true(json_object_get(m, "needs_secret")),
	       "the job read back: %s", m ? str(m, "phase") : "not found");
	json_decref(m);
	/* libfaultline registers the region again on the job's session socket */
	CHECK_OK(h_wait_log(again.log, "migration destination attached again", 10000));
	m = h_call(dctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret", SECRET);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	CHECK_OK(dump_to(&dst, ddump, 60000));
	m = wait_phase(dctl, id, "completed", 60000);
	CHECK(m && !strcmp(str(m, "destination_region_id") ?: "", dregion) &&
	      json_is_false(json_object_get(m, "needs_secret")));
	json_decref(m);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m && stat_of(m, "reconnects") >= 1);
	json_decref(m);
	diff = compare_dumps_except(sdump, ddump, size, 11, &nonzero);
	CHECKF(diff == 0, "%ld pages differ between the source at the hold and the destination", diff);
	CHECKF(nonzero == 0, "the page dropped before the restart reads %llu non-zero bytes",
	       (unsigned long long)nonzero);
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	m = h_call(dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECKF(access(journal, F_OK) && access(removed, F_OK), "the job's files outlive its delete");
	CHECK_OK(exit_both(&src, &dst));
	close(dctl);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The source agent is killed (SIGKILL) after the switchover, in the middle
 * of the background push.  Started again, it reads the job back from its
 * journal; libfaultline registers the source region again and the agent
 * keeps it held (the marker): its writers never run on the source again.
 * The control plane gives the secret back, the source sends every page and
 * the switchover again, and the migration completes byte-exact.
 */
int t_mig_source_agent_killed_held(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	struct h_agent again;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], line[300];
	uint64_t size = UINT64_C(16) << 20, w, w2;
	json_t *in, *out, *m, *j;
	int sctl;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", (json_int_t)(size / 4)));
	CHECK(out);
	CHECK_OK(switch_over_to_dest(&p, id, in, &dst, "-", "postcopy"));
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	snprintf(line, sizeof(line), "dump %s\n", sdump);
	j = cmd(&src, line, 30000);
	CHECK(j && json_is_true(json_object_get(j, "ok")));
	w = (uint64_t)json_integer_value(json_object_get(j, "writes"));
	json_decref(j);
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && stat_of(m, "remaining_bytes") > 0, "the destination should miss pages still");
	json_decref(m);
	CHECK_OK(kill(p.src.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&p.src, H_TIMEOUT_MS));
	close(p.sctl);
	m = wait_phase(p.dctl, id, "paused", 10000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(h_agent_spawn(&again, p.src.dir, p.src.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&again, H_TIMEOUT_MS));
	CHECK_OK(h_wait_log(again.log, "region stays held: it migrated to another host", 10000));
	sctl = h_ctl_open(&again);
	CHECK(sctl >= 0);
	m = h_call(sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && !strcmp(str(m, "phase"), "paused") && strstr(str(m, "error") ?: "", "secret"),
	       "the job read back: %s", m ? str(m, "phase") : "not found");
	json_decref(m);
	/* no cancel after the switchover, also after a restart */
	CHECK_OK(h_call_error(sctl, PROTO_T_MIGRATION_CANCEL, "CONFLICT", "{s:s}", "migration_id", id));
	/* the region is served again: region_get says ATTACHED once it is */
	for (int waited = 0;; waited += 10) {
		m = h_call(sctl, PROTO_T_REGION_GET, "{s:s}", "id", region);
		if (m && !strcmp(str(m, "state") ?: "", "ATTACHED"))
			break;
		json_decref(m);
		CHECKF(waited < 10000, "the source region is not attached again");
		nap_ms(10);
	}
	json_decref(m);
	/* held: the writers' count stays where it was at the hold */
	j = cmd(&src, "dump /dev/null\n", 10000);
	CHECK(j);
	w2 = (uint64_t)json_integer_value(json_object_get(j, "writes"));
	json_decref(j);
	CHECKF(w2 == w, "the source's writers ran again after the restart (%llu writes): split brain",
	       (unsigned long long)(w2 - w));
	m = h_call(sctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret", SECRET);
	CHECK(m);
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(line, sizeof(line), "dump %s\n", ddump);
	j = h_proc_json(&dst, 60000); /* the marks are written */
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	j = cmd(&dst, line, 60000);
	CHECK(j && json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	m = wait_phase(sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	j = cmd(&src, "dump /dev/null\n", 10000);
	CHECK(j && (uint64_t)json_integer_value(json_object_get(j, "writes")) == w);
	json_decref(j);
	m = h_call(sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	h_proc_write(&dst, "exit\n");
	CHECK_OK(h_proc_wait(&dst, 10000));
	close(sctl);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

enum restart_who { RS_SOURCE = 1, RS_DEST = 2, RS_BOTH = 3 };

/* Kills agent a (SIGKILL) and starts it again on its state directory; *ctl: a new control connection. */
static int restart_agent(struct h_agent *a, struct h_agent *again, int *ctl, const char *const *extra)
{
	if (kill(a->pid, SIGKILL) || h_agent_wait_exit(a, H_TIMEOUT_MS))
		return -1;
	close(*ctl);
	if (h_agent_spawn(again, a->dir, a->sock, extra) || h_agent_wait_ready(again, H_TIMEOUT_MS))
		return -1;
	*ctl = h_ctl_open(again);
	return *ctl < 0 ? -1 : 0;
}

/*
 * One or both agents killed (SIGKILL) and started again, before the
 * switchover (mid-precopy, the destination workload waiting) or after it
 * (mid-push): the jobs come back paused from their journals, the workloads
 * register again, the control plane gives the secrets back, and the
 * migration completes with every page equal to the source's at the hold.
 */
struct restart_out {
	long wrong;       /* pages that differ (-1: not compared) */
	unsigned leaks;   /* journals, records of removed pages, temporary files left */
};

/* Files of a migration's that outlive its jobs (the source's .held marker stays: by design). */
static unsigned mig_leftovers(const char *state)
{
	char dir[320];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/migration", state);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if ((len > 4 && !strcmp(de->d_name + len - 4, ".job")) ||
		    (len > 8 && !strcmp(de->d_name + len - 8, ".removed")) || strstr(de->d_name, ".tmp")) {
			printf("    left behind: %s/%s\n", dir, de->d_name);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static int migrate_through_restart_at(struct pair *pp, enum restart_who who, bool after_switchover,
				      unsigned delay_us, struct restart_out *res);

static int migrate_through_restart(enum restart_who who, bool after_switchover)
{
	struct restart_out res;
	struct pair p;
	int ret;

	CHECK_OK(pair_start(&p));
	ret = migrate_through_restart_at(&p, who, after_switchover, 0, &res);
	close(p.sctl);
	close(p.dctl);
	return ret;
}

/* pp: the agents, started (and again, in place, when they are restarted here) */
static int migrate_through_restart_at(struct pair *pp, enum restart_who who, bool after_switchover,
				      unsigned delay_us, struct restart_out *res)
{
	struct pair p = *pp;
	struct h_proc src, dst;
	struct h_agent s2, d2;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], line[300],
		channel[300];
	const char *dextra[3] = { "--page-channel-listen", channel, NULL };
	uint64_t size = UINT64_C(16) << 20;
	json_t *in, *out, *m, *j;
	bool dumped = false;

	res->wrong = -1;
	res->leaks = 0;
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	snprintf(channel, sizeof(channel), "%s", str(in, "channel"));
	out = mig_out(&p, id, region, channel, SECRET,
		      json_pack("{s:s, s:n, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", (json_int_t)(size / 4)));
	CHECK(out);
	if (after_switchover) {
		m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
		CHECK(m);
		json_decref(m);
	}
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", "-"));
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	snprintf(line, sizeof(line), "dump %s\n", sdump);
	if (after_switchover) {
		m = wait_phase(p.sctl, id, "postcopy", 30000);
		CHECK(m);
		json_decref(m);
		j = cmd(&src, line, 30000);
		CHECK(j && json_is_true(json_object_get(j, "ok")));
		json_decref(j);
		dumped = true;
	} else {
		/* mid-precopy: some pages staged, the destination's faults wait */
		for (int waited = 0;; waited += 10) {
			m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
			if (m && (stat_of(m, "setup_ms") > 0 || waited > 10000))
				break;
			json_decref(m);
			nap_ms(10);
		}
		CHECK(m && !strcmp(str(m, "phase"), "precopy"));
		json_decref(m);
	}
	if (delay_us) {
		/* chaos: the moment of the kill, from the round's seed */
		struct timespec ts = { .tv_sec = delay_us / 1000000,
				       .tv_nsec = (long)(delay_us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}
	if (who & RS_SOURCE) {
		CHECK_OK(restart_agent(&p.src, &s2, &p.sctl, NULL));
		p.src = s2;
		*pp = p;
	}
	if (who & RS_DEST) {
		CHECK_OK(restart_agent(&p.dst, &d2, &p.dctl, dextra));
		p.dst = d2;
		*pp = p;
	}
	if (who & RS_DEST)
		CHECK_OK(h_wait_log(d2.log, "migration destination attached again", 10000));
	if (who & RS_DEST) {
		m = h_call(p.dctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret",
			   SECRET);
		CHECK(m);
		json_decref(m);
	}
	if (who & RS_SOURCE) {
		/* resumed once the workload registered its region again */
		for (int waited = 0;; waited += 10) {
			m = h_call(p.sctl, PROTO_T_REGION_GET, "{s:s}", "id", region);
			if (m && !strcmp(str(m, "state") ?: "", "ATTACHED"))
				break;
			json_decref(m);
			CHECKF(waited < 10000, "the source region is not attached again");
			nap_ms(10);
		}
		json_decref(m);
	}
	m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret", SECRET);
	CHECK(m);
	json_decref(m);
	if (!after_switchover) {
		m = wait_phase(p.sctl, id, "precopy", 30000);
		CHECK(m);
		json_decref(m);
		CHECK_OK(switch_over_and_wait(p.sctl, id, "postcopy completed", 30000));
		j = cmd(&src, line, 30000);
		CHECK(j && json_is_true(json_object_get(j, "ok")));
		json_decref(j);
		dumped = true;
	}
	CHECK(dumped);
	j = h_proc_json(&dst, 60000); /* the marks are written */
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	CHECK_OK(dump_to(&dst, ddump, 60000));
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	res->wrong = compare_dumps(sdump, ddump, size);
	CHECKF(res->wrong == 0, "%ld pages differ from the source's at the hold", res->wrong);
	j = cmd(&dst, "check\n", 30000);
	res->wrong = j ? json_integer_value(json_object_get(j, "markers_wrong")) : -1;
	CHECKF(res->wrong == 0, "the destination's own writes are lost");
	json_decref(j);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	m = h_call(p.dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	h_proc_write(&dst, "exit\n");
	CHECK_OK(h_proc_wait(&dst, 10000));
	res->leaks = mig_leftovers(p.src.state) + mig_leftovers(p.dst.state);
	CHECKF(!res->leaks, "%u files outlive the jobs", res->leaks);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The migration scenarios of the chaos campaign (tests/test_chaos.c has the
 * others): per round, from its seed, which agent dies (source,
 * destination, both), whether before the switchover or after it, and when
 * (up to 100 ms after that moment).  FAULTLINE_CHAOS_ROUNDS (default 3),
 * FAULTLINE_CHAOS_SEED (default: the clock).  A round that fails other than
 * by wrong bytes or leaked files counts as a hang (nothing completed in
 * its bounds).
 */
int t_chaos_migration(const struct t_env *env)
{
	const char *r = getenv("FAULTLINE_CHAOS_ROUNDS"), *sd = getenv("FAULTLINE_CHAOS_SEED");
	unsigned rounds = r ? (unsigned)strtoul(r, NULL, 10) : 3, hangs = 0, wrong = 0, leaks = 0;
	uint64_t seed = sd ? strtoull(sd, NULL, 10) : (uint64_t)time(NULL);
	struct pair p;

	(void)env;
	rounds = rounds ? rounds : 1;
	/* one pair of agents for every round (restarted in place): the harness's slots are few */
	CHECK_OK(pair_start(&p));
	printf("    migration: %u rounds, seed %llu\n", rounds, (unsigned long long)seed);
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t rs = (seed + i) * UINT64_C(0x9E3779B97F4A7C15);
		enum restart_who who;
		bool after;
		unsigned delay_us;
		struct restart_out res;
		int ret;

		/* splitmix64's finaliser: every choice follows from the round's seed alone */
		rs = (rs ^ (rs >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		rs = (rs ^ (rs >> 27)) * UINT64_C(0x94D049BB133111EB);
		rs ^= rs >> 31;
		who = (enum restart_who)(1 + rs % 3);
		after = (rs >> 8) & 1;
		delay_us = (unsigned)((rs >> 16) % 100000);

		printf("    round %u (seed %llu): kill %s %s the switchover, %u us in\n", i,
		       (unsigned long long)(seed + i),
		       who == RS_SOURCE ? "the source" : who == RS_DEST ? "the destination" : "both",
		       after ? "after" : "before", delay_us);
		ret = migrate_through_restart_at(&p, who, after, delay_us ? delay_us : 1, &res);
		if (res.wrong > 0)
			wrong++;
		else if (res.leaks)
			leaks++;
		else if (ret != T_PASS)
			hangs++;
		h_agents_forget_exited();
		if (ret != T_PASS) {
			/* the agents may be in any state now: the campaign stops here */
			printf("    round %u failed: replay with FAULTLINE_CHAOS_SEED=%llu "
			       "FAULTLINE_CHAOS_ROUNDS=1\n", i, (unsigned long long)(seed + i));
			rounds = i + 1;
			break;
		}
	}
	close(p.sctl);
	close(p.dctl);
	printf("    chaos migration: rounds=%u hangs=%u wrong_bytes=%u leaks=%u seed=%llu\n", rounds,
	       hangs, wrong, leaks, (unsigned long long)seed);
	return hangs || wrong || leaks ? T_FAIL : T_PASS;
}

/*
 * A source job read back after a restart before its switchover can still
 * be cancelled by the operator, and a cancelled job comes back cancelled
 * from its journal after the next restart: it is never started again.
 */
int t_mig_cancel_survives_restart(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	struct h_agent s2, s3;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n}", "postcopy", "manual", "postcopy_after_ms"));
	CHECK(out);
	m = wait_phase(p.sctl, id, "precopy", 10000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(restart_agent(&p.src, &s2, &p.sctl, NULL));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "paused"));
	json_decref(m);
	/* no secret yet: a resume says what it needs */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_RESUME, "CONFLICT", "{s:s}", "migration_id", id));
	m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	CHECK_OK(restart_agent(&s2, &s3, &p.sctl, NULL));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_RESUME, "CONFLICT", "{s:s, s:s}", "migration_id",
			      id, "secret", SECRET));
	m = h_call(p.sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK(mig_leftovers(s3.state) == 0);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	close(p.sctl);
	close(p.dctl);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

int t_mig_dst_killed_precopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_DEST, false);
}

int t_mig_src_killed_precopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_SOURCE, false);
}

int t_mig_both_killed_precopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_BOTH, false);
}

int t_mig_both_killed_postcopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_BOTH, true);
}
