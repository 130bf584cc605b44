/*
 * Migrations that push their pages on several connections
 * (push_connections, PROTOCOL.md §3.4): byte for byte through the full
 * path with every connection carrying pages; a push connection whose data
 * fails its integrity check ends its session and the job resumes on new
 * connections; every connection cut mid-postcopy; a destination that
 * takes fewer push connections than asked; bad values refused.
 */
#define _GNU_SOURCE
#include <string.h>

#include "harness.h"
#include "jx.h"
#include "test.h"
#include "test_mig_common.h"

#define PUSH_SIZE_S "64M"
#define PUSH_SIZE (UINT64_C(64) << 20)

/* Four connections push (the main one and three more): every page arrives exact. */
int t_mig_push_byte_exact(const struct t_env *env)
{
	struct via v = { .mode = RELAY_NONE, .push = 4, .push_used = 4 };

	(void)env;
	return migrate_with(PUSH_SIZE_S, PUSH_SIZE, &v);
}

/*
 * One byte flipped 1 MiB into the first push connection (the third the
 * source opens, after main and preempt): that connection ends, and with it
 * its session, since a frame the others wait for may be lost; the job
 * resumes on new connections and the bytes still arrive exact.
 */
int t_mig_push_tampered(const struct t_env *env)
{
	struct via v = { .mode = RELAY_FLIP, .push = 3, .push_used = 3, .look = 2 };

	(void)env;
	return migrate_with(PUSH_SIZE_S, PUSH_SIZE, &v);
}

/* Every connection cut mid-postcopy and refused for a while: the job resumes on all of them. */
int t_mig_push_cut(const struct t_env *env)
{
	struct via v = { .mode = RELAY_CUT, .push = 3, .push_used = 3 };

	(void)env;
	return migrate_with(PUSH_SIZE_S, PUSH_SIZE, &v);
}

/*
 * A destination that takes one push connection (--page-channel-max-push 1;
 * 0 is how a destination from before push connections looks): a job that
 * asks for four pushes on two, says so, and arrives exact.
 */
int t_mig_push_fewer(const struct t_env *env)
{
	static const char *const extra[] = { "--page-channel-max-push", "1", NULL };
	struct via v = { .mode = RELAY_NONE, .extra = extra, .push = 4, .push_used = 2 };

	(void)env;
	return migrate_with(PUSH_SIZE_S, PUSH_SIZE, &v);
}

/* push_connections outside 1-8, or not an integer, is refused with BAD_REQUEST naming it. */
int t_mig_push_refused(const struct t_env *env)
{
	static const char *const bad[] = { "0", "9", "-1", "\"2\"", "1.5", "true" };
	struct pair p;
	struct h_proc src;
	char region[JX_UUID_LEN + 1], id[JX_UUID_LEN + 1], opts[64];
	json_t *in;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source_n(&p, &src, "4M", region, "0"));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(4) << 20, SECRET);
	CHECK(in);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(opts, sizeof(opts), "{\"push_connections\":%s}", bad[i]);
		CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), opts, "push_connections"));
	}
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	return T_PASS;
}
