/*
 * Migration tests of pages that are not sent: populated zero pages travel
 * as zero runs, and with "skip_unchanged" a page written with the bytes it
 * was last sent with is not sent again (§3.4), in precopy rounds, at the
 * switchover and after a reconnect; self-checks against agents that get it
 * wrong on purpose (build/faultline-agent-inject) show the byte
 * comparisons would see it.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>

#include "hwork.h"
#include "jx.h"
#include "proto.h"
#include "test.h"
#include "test_mig_common.h"

/*
 * Populated pages of zeros (the source's holes, written with zeros) travel
 * as zero runs: no payload bytes for them, and they arrive as zeros; every
 * page compared byte for byte.
 */
int t_mig_zero_pages_not_sent(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, data;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	const char *args[] = { "mig-source", "--socket", NULL, "--size", size_s, "--threads", "0",
			       "--name", "demo", "--zero-holes", NULL };
	json_t *in, *out, *m, *j;

	(void)env;
	CHECK_OK(pair_start(&p));
	args[2] = p.handoff;
	CHECK_OK(h_demo(&src, args));
	j = h_proc_json(&src, 10000);
	CHECK(j && str(j, "region_id"));
	snprintf(region, sizeof(region), "%s", str(j, "region_id"));
	json_decref(j);
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s}", "max_rounds", 1, "postcopy", "auto"));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	data = stat_of(m, "precopy_bytes") + stat_of(m, "postcopy_bytes") + stat_of(m, "demand_bytes");
	t_logf("%llu payload bytes for %llu bytes of which half are zeros", (unsigned long long)data,
	       (unsigned long long)size);
	/* the 0x5A half, not a byte of the zero half (nothing writes: one round sends all) */
	CHECKF(data == size / 2, "%llu payload bytes sent, expected %llu", (unsigned long long)data,
	       (unsigned long long)(size / 2));
	CHECK(stat_of(m, "precopy_pages") >= size / MIG_PAGE);
	json_decref(m);
	CHECK_OK(dump_to(&src, sdump, 30000));
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * "skip_unchanged": the source workload (no writer threads; half its pages
 * 0x5A, half never touched) writes every page once during precopy, with
 * the bytes they hold ("same") or new ones ("change"), either once round 1
 * has sent everything (the next round finds them) or in the middle of a
 * slow round 1 just before the switchover (the final dirty set finds
 * them).  Every byte is compared at the end.
 */
struct rewrite_case {
	const char *name;
	const char *rewrite;   /* "same" or "change" */
	bool skip;             /* the job's skip_unchanged */
	bool at_switchover;    /* rewritten mid-round 1, switched over at once, */
	uint64_t downtime_ms;  /* with this max_downtime_ms: half of it for looking at the dirty set */
	bool inject;           /* an agent whose compare says "unchanged" always */
	/* expected */
	uint64_t min_unchanged, max_unchanged;
	uint64_t min_bytes, max_bytes; /* page bytes sent, in region sizes / 2 */
	bool differs;
};

static int rewrite_run(const struct t_env *env, const struct rewrite_case *c)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, bytes, unchanged;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], line[64];
	json_t *in, *out, *m, *j;
	long diff;

	if (c->inject)
		CHECK_OK(inject_agent(env, "unchanged-always"));
	CHECK_OK(pair_start(&p));
	if (c->inject)
		inject_agent(env, NULL);
	CHECK_OK(start_source_n(&p, &src, size_s, region, "0"));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	/* mid-round 1: 4 MiB/s, so round 1 takes 2 s */
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:b, s:I, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"skip_unchanged", c->skip, "bandwidth_bytes_per_s",
				(json_int_t)(c->at_switchover ? size / 4 : 0), "max_downtime_ms",
				(json_int_t)(c->at_switchover ? c->downtime_ms : 10)));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	/* round 1 done (every page sent), or a quarter of its bytes out */
	m = c->at_switchover ? wait_stat(p.sctl, id, "precopy_bytes", size / 8, 30000)
			     : wait_stat(p.sctl, id, "rounds", 1, 30000);
	CHECK(m);
	json_decref(m);
	snprintf(line, sizeof(line), "rewrite %s\n", c->rewrite);
	j = cmd(&src, line, 10000);
	CHECK(j && json_integer_value(json_object_get(j, "rewritten")) == (json_int_t)(size / MIG_PAGE));
	json_decref(j);
	if (!c->at_switchover) {
		/* the round after the one under way took the writes; the one after it dealt with them */
		m = wait_more_rounds(p.sctl, id, 2, 30000);
		CHECK(m);
		json_decref(m);
	}
	CHECK_OK(switch_over_and_wait(p.sctl, id, "postcopy completed", 30000));
	CHECK_OK(dump_to(&src, sdump, 30000));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	bytes = stat_of(m, "precopy_bytes") + stat_of(m, "postcopy_bytes") + stat_of(m, "demand_bytes");
	unchanged = stat_of(m, "unchanged_pages");
	diff = compare_dumps(sdump, ddump, size);
	t_logf("%s: %llu page bytes sent for %llu populated (%llu of them on demand), %llu pages unchanged, "
	       "%ld pages differ", c->name, (unsigned long long)bytes, (unsigned long long)(size / 2),
	       (unsigned long long)stat_of(m, "demand_bytes"), (unsigned long long)unchanged, diff);
	/*
	 * At the switchover every page sent in precopy was written since: with time
	 * to look at them all, each one must have been found unchanged, not listed
	 * stale (the demand answers and the push may still overlap, as they do
	 * without the option).  Without, the push finds them (`current` frames),
	 * unless the destination's demand requests fetched them first.
	 */
	if (c->at_switchover && c->downtime_ms)
		CHECKF(unchanged >= stat_of(m, "precopy_bytes") / MIG_PAGE,
		       "%s: %llu pages unchanged, but %llu data pages were sent before the switchover",
		       c->name, (unsigned long long)unchanged,
		       (unsigned long long)(stat_of(m, "precopy_bytes") / MIG_PAGE));
	json_decref(m);
	CHECKF(unchanged >= c->min_unchanged && unchanged <= c->max_unchanged,
	       "%s: %llu pages unchanged, expected %llu-%llu", c->name, (unsigned long long)unchanged,
	       (unsigned long long)c->min_unchanged, (unsigned long long)c->max_unchanged);
	CHECKF(bytes >= c->min_bytes * (size / 2) && bytes <= c->max_bytes * (size / 2),
	       "%s: %llu page bytes sent, expected %llu-%llu x %llu", c->name, (unsigned long long)bytes,
	       (unsigned long long)c->min_bytes, (unsigned long long)c->max_bytes,
	       (unsigned long long)(size / 2));
	if (c->differs)
		CHECKF(diff > 0, "%s: a compare that says \"unchanged\" always went unnoticed: the test is "
		       "blind", c->name);
	else
		CHECKF(diff == 0, "%s: %ld pages differ between the source at the hold and the destination",
		       c->name, diff);
	/* an option that is not a boolean is refused, not taken for the default */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_OUT, "BAD_REQUEST", "{s:s, s:s, s:s, s:s, s:{s:s}}",
			      "migration_id", "00000000-0000-4000-8000-000000000002", "region_id", region,
			      "destination", str(in, "channel"), "secret", SECRET, "options",
			      "skip_unchanged", "yes"));
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * Pages are 4096: 2048 of 0x5A (8 MiB, "size / 2" below) and 2048 never
 * touched, sent as a zero run; a rewrite populates those with zeros
 * ("same") or makes them data ("change").
 */
int t_mig_unchanged_not_sent(const struct t_env *env)
{
	static const struct rewrite_case cases[] = {
		/*
		 * nothing goes twice: the 0x5A pages and the zeroed ones are all unchanged
		 * (counted per time a page was found so: the rewrite's two stores to a page
		 * can straddle a round's scan, which then reports it in two rounds)
		 */
		{ "same after round 1", "same", true, false, 0, false, 2048, 8192, 1, 1, false },
		/* what was sent of round 1 is not stale at the switchover, the rest goes once */
		{ "same mid-round 1", "same", true, true, 2000, false, 1, 8192, 1, 2, false },
		/* no time to look at the switchover: stale, then found current by the push */
		{ "same mid-round 1, no time at the switchover", "same", true, true, 0, false, 1, 8192, 1, 2,
		  false },
		/*
		 * changed bytes always go again: each page once more, 2 x 8 MiB of it,
		 * exactly, so no changed page was skipped.  Some are found unchanged all
		 * the same, rightly: a page whose two stores straddled a round's scan is
		 * reported in the round after it went too, and the tracking may report a
		 * page of a huge page written before the rewrite reached it (sent later).
		 */
		{ "change after round 1", "change", true, false, 0, false, 0, 4096, 3, 3, false },
		/* without the option the same bytes go again */
		{ "same, skip_unchanged off", "same", false, false, 0, false, 0, 0, 2, 3, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (rewrite_run(env, &cases[i]) != T_PASS)
			return T_FAIL;
	return T_PASS;
}

/*
 * The self-check: against an agent whose compare takes every page with a
 * fingerprint for unchanged (build/faultline-agent-inject,
 * FAULTLINE_INJECT=unchanged-always), the changed pages stay behind and
 * the byte comparison must see it.
 */
int t_mig_unchanged_compare_checked(const struct t_env *env)
{
	static const struct rewrite_case broken[] = {
		/* in a precopy round */
		{ "change, broken compare", "change", true, false, 0, true, 2048, 8192, 1, 1, true },
		/* in the postcopy push: `current` frames for stale pages that changed */
		{ "change mid-round 1, broken compare", "change", true, true, 0, true, 1, 8192, 0, 2, true },
	};

	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (rewrite_run(env, &broken[i]) != T_PASS)
			return T_FAIL;
	return T_PASS;
}

/*
 * Frames that never reached the destination: once round 1 is staged there,
 * the relay throws the source's bytes away, the workload changes every
 * page and the source sends them all (lost), then the relay cuts and the
 * source reconnects.  The destination's auth_ok seq names the last frame
 * it processed, so the source sends those pages again; their bytes are
 * the very ones it last sent, so their fingerprints match, but the
 * destination has the older bytes: only forgetting the fingerprints of
 * unprocessed frames on the reconnect sends them.  Returns the pages that
 * differ at the end, or -1.
 */
static long lost_frames_run(void)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, rounds, sent;
	struct pair p;
	struct h_proc src, dst;
	struct relay relay;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in = NULL, *m, *j;
	long diff = -1;
	bool relayed = false;

	if (pair_start(&p) || start_source_n(&p, &src, size_s, region, "0"))
		return -1;
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	if (!in || relay_start(&relay, str(in, "channel"), 0))
		goto out;
	relayed = true;
	m = mig_out(&p, id, region, relay.addr, SECRET, json_pack("{s:s, s:n}", "postcopy", "manual",
								   "postcopy_after_ms"));
	if (!m)
		goto out;
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	if (start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump))
		goto out;
	/*
	 * Round 1 sent, and idle rounds after it while the destination stages
	 * it (loopback: far less than those rounds take); if it had not, the
	 * pages would go again anyway, and only the self-check could miss.
	 */
	if (!(m = wait_stat(p.sctl, id, "rounds", 1, 30000)))
		goto out;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	if (!(m = wait_stat(p.sctl, id, "rounds", rounds + 10, 30000)))
		goto out;
	sent = stat_of(m, "precopy_bytes");
	json_decref(m);
	atomic_store(&relay.drop, 1);
	j = cmd(&src, "rewrite change\n", 10000);
	if (!j || !json_object_get(j, "rewritten")) {
		json_decref(j);
		goto out;
	}
	json_decref(j);
	/* every page went out again (into the relay's bin) */
	if (!(m = wait_stat(p.sctl, id, "precopy_bytes", sent + size, 30000)))
		goto out;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	if (!(m = wait_stat(p.sctl, id, "rounds", rounds + 2, 30000)))
		goto out;
	json_decref(m);
	atomic_store(&relay.cut, 1);
	atomic_store(&relay.drop, 0);
	if (!(m = wait_stat(p.sctl, id, "reconnects", 1, 30000)))
		goto out;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	/* a round on the new connection dealt with what it had to send again */
	if (!(m = wait_stat(p.sctl, id, "rounds", rounds + 2, 30000)))
		goto out;
	json_decref(m);
	if (switch_over_and_wait(p.sctl, id, "postcopy completed", 30000))
		goto out;
	if (dump_to(&src, sdump, 30000))
		goto out;
	j = h_proc_json(&dst, 60000);
	if (j && str(j, "dumped"))
		diff = compare_dumps(sdump, ddump, size);
	json_decref(j);
	if (exit_both(&src, &dst))
		diff = -1;
out:
	if (relayed)
		relay_stop(&relay);
	json_decref(in);
	return diff;
}

/*
 * The self-check runs it against an agent that keeps the fingerprints
 * over a reconnect (build/faultline-agent-inject,
 * FAULTLINE_INJECT=unchanged-keep): the destination keeps the older bytes
 * and the comparison must see it.
 */
int t_mig_unchanged_forgotten_on_reconnect(const struct t_env *env)
{
	long diff;

	diff = lost_frames_run();
	CHECKF(diff == 0, "%ld pages differ after frames were lost and the source reconnected", diff);
	CHECK_OK(inject_agent(env, "unchanged-keep"));
	diff = lost_frames_run();
	inject_agent(env, NULL);
	t_logf("fingerprints kept over the reconnect: %ld pages differ", diff);
	CHECKF(diff > 0, "fingerprints of lost frames kept over a reconnect went unnoticed (%ld pages "
	       "differ): the test is blind", diff);
	return T_PASS;
}
