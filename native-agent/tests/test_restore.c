/*
 * Lazy restore end to end: the real agent, a restore session, and
 * faultline-demo processes registering through libfaultline and checking
 * every byte they touch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "around.h"
#include "content.h"
#include "hwork.h"
#include "test.h"

#define MIB (UINT64_C(1) << 20)

struct restore_case {
	const char *pattern;
	const char *threads;
	unsigned fault_around;
	uint64_t size;
};

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

static int64_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/*
 * The worker reports a region detached after it finished every fault it
 * read before, so from then on the region's counters are final.
 */
static int detached(const struct h_agent *a, const char *id)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "msg=\"region detached\" id=%s", id);
	return h_wait_log(a->log, needle, H_TIMEOUT_MS);
}

/* An agent, an image of size bytes and a session on it with these options. */
static int session(struct h_agent *a, int *ctl, uint64_t size, const char *opts, json_t **rs,
		   char *image, size_t image_len)
{
	const char *const args[] = { "--workers", "2", NULL };

	if (h_agent_start(a, args) || (*ctl = h_ctl_open(a)) < 0 ||
	    h_image(a, "vm.mem", size, 7, image, image_len))
		return -1;
	*rs = h_restore_create(*ctl, image, opts);
	return *rs ? 0 : -1;
}

/*
 * Every byte the demo touched was right, and the region's counters agree
 * with each other: pages installed == pages present, one latency sample
 * per fault, zero pages exactly where the image is zero.
 */
static int check_counters(json_t *reg, uint64_t pages, unsigned around, bool all_touched,
			  bool sequential)
{
	uint64_t faults = h_stat(reg, "faults", "missing");
	uint64_t installed = h_stat(reg, "installed", "demand") + h_stat(reg, "installed", "fault_around") +
			     h_stat(reg, "installed", "prefetch") + h_stat(reg, "installed", "background") +
			     h_stat(reg, "installed", "detach");
	json_t *lat = json_object_get(json_object_get(reg, "stats"), "latency_ns");
	uint64_t present = (uint64_t)num(json_object_get(reg, "pages"), "present");

	CHECKF(installed == present, "installed %llu, present %llu", (unsigned long long)installed,
	       (unsigned long long)present);
	CHECKF((uint64_t)num(lat, "count") == faults, "latency samples %lld, faults %llu",
	       (long long)num(lat, "count"), (unsigned long long)faults);
	CHECK(h_stat(reg, "installed", "demand") <= faults);
	CHECK(num(lat, "p50") > 0 && num(lat, "p50") <= num(lat, "p99") && num(lat, "p99") <= num(lat, "max"));
	if (all_touched) {
		CHECK(present == pages);
		CHECKF(h_stat(reg, NULL, "zero_pages") == pages / 8, "zero pages %llu",
		       (unsigned long long)h_stat(reg, NULL, "zero_pages"));
	}
	/* one fault per window, the window growing along the run (engine/around.h) */
	if (sequential)
		CHECKF(faults == around_run_faults(around, pages),
		       "%llu faults for %llu pages, window %u, want %llu", (unsigned long long)faults,
		       (unsigned long long)pages, around,
		       (unsigned long long)around_run_faults(around, pages));
	return T_PASS;
}

static int restore_run(const struct restore_case *rc)
{
	struct h_agent a;
	char image[256], size[32], opts[128];
	uint64_t pages = rc->size / CONTENT_PAGE;
	json_t *rs, *sum, *reg;
	int ctl;

	snprintf(opts, sizeof(opts), "{\"fault_around_pages\":%u,\"populate_delay_ms\":-1,"
		 "\"working_set\":\"off\"}", rc->fault_around);
	CHECK_OK(session(&a, &ctl, rc->size, opts, &rs, image, sizeof(image)));
	snprintf(size, sizeof(size), "%llu", (unsigned long long)rc->size);
	{
		const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", size,
					     "--seed", "7", "--pattern", rc->pattern, "--threads",
					     rc->threads, NULL };

		CHECK(h_demo_run(args, &sum) == 0);
	}
	CHECK(sum && num(sum, "mismatches") == 0 && (uint64_t)num(sum, "touched") == pages);
	CHECK_OK(detached(&a, str(sum, "region_id")));
	reg = h_region_of(ctl, str(sum, "region_id"));
	CHECK(reg);
	CHECK(!strcmp(str(json_object_get(reg, "backing"), "kind"), "image"));
	CHECK(!strcmp(str(json_object_get(reg, "backing"), "restore_id"), str(rs, "id")));
	CHECK(check_counters(reg, pages, rc->fault_around, true, !strcmp(rc->pattern, "seq") &&
								 !strcmp(rc->threads, "1")) == T_PASS);
	json_decref(reg);
	json_decref(sum);
	/* restore-to-run: registered, then the first fault served, then COMPLETE */
	reg = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(reg && !strcmp(str(reg, "state"), "COMPLETE"));
	{
		json_t *t = json_object_get(reg, "timing");

		CHECKF(json_is_integer(json_object_get(t, "registered_ms")) &&
			       json_is_integer(json_object_get(t, "first_fault_ms")) &&
			       json_is_integer(json_object_get(t, "complete_ms")),
		       "timing %s", json_dumps(t, JSON_COMPACT));
		CHECK(num(t, "registered_ms") >= 0 && num(t, "registered_ms") <= num(t, "first_fault_ms") &&
		      num(t, "first_fault_ms") <= num(t, "complete_ms"));
	}
	json_decref(reg);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

int t_restore_seq(const struct t_env *env)
{
	static const struct restore_case rc = { "seq", "1", 16, 32 * MIB };

	(void)env;
	return restore_run(&rc);
}

int t_restore_random(const struct t_env *env)
{
	static const struct restore_case rc = { "random", "1", 16, 32 * MIB };

	(void)env;
	return restore_run(&rc);
}

int t_restore_two_threads(const struct t_env *env)
{
	static const struct restore_case rc = { "random", "2", 16, 32 * MIB };

	(void)env;
	return restore_run(&rc);
}

/* Without fault-around every page is a fault; zero pages go by ZEROPAGE. */
int t_restore_zero_pages(const struct t_env *env)
{
	static const struct restore_case rc = { "seq", "1", 0, 8 * MIB };

	(void)env;
	return restore_run(&rc);
}

/* A window of 64 pages: a 64th of the faults, 63/64 installed around them. */
int t_restore_fault_around(const struct t_env *env)
{
	static const struct restore_case rc = { "seq", "1", 64, 16 * MIB };

	(void)env;
	return restore_run(&rc);
}

/* THP-eligible memory (MADV_HUGEPAGE) restores like any other. */
int t_restore_thp(const struct t_env *env)
{
	struct h_agent a;
	char image[256];
	json_t *rs, *sum;
	int ctl;

	(void)env;
	CHECK_OK(session(&a, &ctl, 16 * MIB, "{\"populate_delay_ms\":-1}", &rs, image, sizeof(image)));
	{
		const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", "16M",
					     "--seed", "7", "--pattern", "random", "--thp", NULL };

		CHECK(h_demo_run(args, &sum) == 0);
	}
	CHECK(sum && num(sum, "mismatches") == 0);
	json_decref(sum);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/*
 * hugetlbfs 2 MiB pages: the agent copies whole huge pages, and zeros (a
 * removed huge page) by copying from a zero source since hugetlb has no
 * zeropage ioctl.
 */
int t_restore_hugetlb(const struct t_env *env)
{
	struct h_agent a;
	char image[256];
	json_t *rs, *sum, *reg;
	int ctl;

	(void)env;
	CHECK_OK(h_hugepages(16));
	CHECK_OK(session(&a, &ctl, 16 * MIB, "{\"populate_delay_ms\":-1,\"fault_around_pages\":0}",
			 &rs, image, sizeof(image)));
	{
		const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", "16M",
					     "--seed", "7", "--pattern", "random", "--hugetlb", NULL };

		CHECK(h_demo_run(args, &sum) == 0);
	}
	CHECK(sum && num(sum, "mismatches") == 0 && num(sum, "touched") == 4096);
	CHECK_OK(detached(&a, str(sum, "region_id")));
	reg = h_region_of(ctl, str(sum, "region_id"));
	CHECK(reg && num(reg, "page_size") == 2 * (int64_t)MIB);
	CHECK(num(json_object_get(reg, "pages"), "total") == 8);
	CHECK(h_stat(reg, "faults", "missing") == 8);
	CHECK(h_stat(reg, NULL, "bytes_installed") == 16 * MIB);
	json_decref(reg);
	json_decref(sum);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}
