/*
 * Clone restores end to end: the real agent, a restore session of mode
 * clone, and several clone processes (libfaultline) mapping the image's one
 * shared copy.  Each clone is checked differentially against the kernel's
 * own MAP_PRIVATE mapping of the image file with the same operations
 * applied (the reference): its writes read back, the image's bytes
 * everywhere else, a MADV_DONTNEED gives the image's bytes back, and no
 * clone ever sees another's writes nor changes the shared copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "content.h"
#include "mono.h"
#include "faultline.h"
#include "hfc.h"
#include "hwork.h"
#include "test.h"

#define CL_PAGES 2048u /* 8 MiB */
#define CL_PS 4096u
#define CL_CLONES 4u

struct clone_env {
	const char *socket;
	const char *image;
	unsigned idx;
	size_t unit;      /* the copy's page size: what a write copies, what a removal drops */
	unsigned units;   /* region size in units */
	unsigned writes;  /* units written */
	int ready_w; /* child -> parent: registered and written */
	int go_r;    /* parent -> child: everyone has written, check now */
};

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

static uint64_t rnd(uint64_t *st)
{
	uint64_t x = *st += UINT64_C(0x9E3779B97F4A7C15);

	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

/* The first page where a and b differ, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, unsigned pages)
{
	for (unsigned p = 0; p < pages; p++) {
		if (memcmp(a + (size_t)p * CL_PS, b + (size_t)p * CL_PS, CL_PS))
			return (long)p;
	}
	return -1;
}

/* The same write to the clone and to the reference: a pattern only this clone writes. */
static void write_both(uint8_t *clone, uint8_t *ref, unsigned idx, size_t unit, unsigned p)
{
	for (unsigned off = 0; off < CL_PS; off += 64) {
		uint8_t v = (uint8_t)(0x40 + idx * 16 + (p + off / 64) % 16);

		clone[(size_t)p * unit + off] = v;
		ref[(size_t)p * unit + off] = v;
	}
}

/* A clone process; exits 0 when everything it read was right. */
static int clone_main(const struct clone_env *ce)
{
	size_t len = ce->unit * ce->units;
	unsigned pages = (unsigned)(len / CL_PS);
	uint64_t rng = 1000 + ce->idx;
	uint8_t *region, *ref, one = 1;
	fl_client *c;
	fl_region *r;
	long d;
	int fd;

	/* aligned to the copy's page size, which the mapping of it takes */
	region = mmap(NULL, len + ce->unit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region != MAP_FAILED)
		region = (uint8_t *)(((uintptr_t)region + ce->unit - 1) & ~((uintptr_t)ce->unit - 1));
	fd = open(ce->image, O_RDONLY | O_CLOEXEC);
	ref = fd >= 0 ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (region == MAP_FAILED || ref == MAP_FAILED) {
		printf("    clone %u: cannot map: %s\n", ce->idx, strerror(errno));
		return 1;
	}
	c = fl_connect(ce->socket);
	if (!c || fl_region_register(c, region, len, "clone", NULL, FL_MODE_MISSING, &r)) {
		printf("    clone %u: register: %s\n", ce->idx, fl_last_error());
		return 1;
	}
	/* a random 10% of the pages get this clone's pattern */
	for (unsigned i = 0; i < ce->writes; i++)
		write_both(region, ref, ce->idx, ce->unit, (unsigned)(rnd(&rng) % ce->units));
	if (write(ce->ready_w, &one, 1) != 1 || read(ce->go_r, &one, 1) != 1)
		return 1;
	/* every other clone has written by now: none of it may show here */
	d = first_diff(region, ref, pages);
	if (d >= 0) {
		printf("    clone %u: page %ld differs from the kernel's MAP_PRIVATE reference "
		       "(clone byte 0x%02x, reference 0x%02x)\n", ce->idx, d, region[d * CL_PS],
		       ref[d * CL_PS]);
		return 1;
	}
	/* MADV_DONTNEED of a private file mapping: the file's bytes again, written or not */
	for (unsigned i = 0; i < (ce->units > 64 ? 64u : ce->units); i++) {
		unsigned n = ce->units > 4 ? 1 + (unsigned)(rnd(&rng) % 4) : 1;
		unsigned p = (unsigned)(rnd(&rng) % (ce->units - n + 1));

		if (madvise(region + (size_t)p * ce->unit, (size_t)n * ce->unit, MADV_DONTNEED) ||
		    madvise(ref + (size_t)p * ce->unit, (size_t)n * ce->unit, MADV_DONTNEED)) {
			printf("    clone %u: madvise: %s\n", ce->idx, strerror(errno));
			return 1;
		}
		if (i % 2)
			write_both(region, ref, ce->idx, ce->unit, p);
	}
	d = first_diff(region, ref, pages);
	if (d >= 0) {
		printf("    clone %u: after MADV_DONTNEED page %ld differs from the reference "
		       "(clone byte 0x%02x, reference 0x%02x)\n", ce->idx, d, region[d * CL_PS],
		       ref[d * CL_PS]);
		return 1;
	}
	fl_region_unregister(r);
	fl_disconnect(c);
	return 0;
}

static pid_t spawn(struct clone_env *ce, int ready[2], int go[2])
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		ce->ready_w = ready[1];
		ce->go_r = go[0];
		_exit(clone_main(ce));
	}
	return pid;
}

static int wait_ok(pid_t pid)
{
	int status = 0;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0
													: -1;
}

/* A byte from fd within the harness bound (a clone that hangs fails the test). */
static int read_bounded(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b;

	return poll(&p, 1, H_READ_BOUND_MS) == 1 && read(fd, &b, 1) == 1 ? 0 : -1;
}

int t_clone_isolated(const struct t_env *env)
{
	const char *const args[] = { "--workers", "2", NULL };
	struct clone_env ce[CL_CLONES + 1];
	pid_t pids[CL_CLONES + 1];
	int ready[CL_CLONES + 1][2], go[CL_CLONES + 1][2];
	char image[256];
	struct h_agent a;
	json_t *rs, *got, *clones;
	uint64_t minor = 0, zero = 0;
	json_int_t resident;
	int ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, args));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "clone.mem", (uint64_t)CL_PAGES * CL_PS, 7, image, sizeof(image)));
	rs = h_restore_create(ctl, image, "{\"mode\":\"clone\",\"populate_delay_ms\":-1,"
					  "\"working_set\":\"off\"}");
	CHECK(rs && !strcmp(str(rs, "mode"), "clone"));
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(rs, "clone"),
								 "shared_copy"), "bytes")) ==
	      (json_int_t)CL_PAGES * CL_PS);
	resident = json_integer_value(json_object_get(json_object_get(json_object_get(rs, "clone"),
								      "shared_copy"), "resident_bytes"));
	CHECK(resident > 0 && resident < (json_int_t)CL_PAGES * CL_PS); /* the image's zeros are holes */
	for (unsigned i = 0; i <= CL_CLONES; i++) {
		ce[i] = (struct clone_env){ .socket = str(rs, "socket"), .image = image, .idx = i,
					    .unit = CL_PS, .units = CL_PAGES, .writes = CL_PAGES / 10 };
		CHECK(!pipe2(ready[i], O_CLOEXEC) && !pipe2(go[i], O_CLOEXEC));
	}
	for (unsigned i = 0; i < CL_CLONES; i++) {
		pids[i] = spawn(&ce[i], ready[i], go[i]);
		CHECK(pids[i] > 0);
	}
	for (unsigned i = 0; i < CL_CLONES; i++)
		CHECKF(!read_bounded(ready[i][0]), "clone %u never reported its writes", i);

	/* every clone holds its own writes privately, the rest is the shared copy */
	got = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	clones = json_object_get(json_object_get(got, "clone"), "clones");
	CHECKF(json_array_size(clones) == CL_CLONES, "%zu clones reported",
	       json_array_size(clones));
	for (size_t i = 0; i < json_array_size(clones); i++) {
		json_t *cl = json_array_get(clones, i);
		json_int_t priv = json_integer_value(json_object_get(cl, "private_bytes"));
		json_int_t shared = json_integer_value(json_object_get(cl, "shared_bytes"));

		/* at most 10% written (repeats), at least some */
		CHECKF(priv > 0 && priv <= (json_int_t)(CL_PAGES / 10) * CL_PS,
		       "clone %zu: %lld private bytes", i, (long long)priv);
		CHECKF(shared >= 0, "clone %zu: %lld shared bytes", i, (long long)shared);
	}
	json_decref(got);

	for (unsigned i = 0; i < CL_CLONES; i++) {
		uint8_t one = 1;

		CHECK(write(go[i][1], &one, 1) == 1);
	}
	for (unsigned i = 0; i < CL_CLONES; i++)
		CHECKF(!wait_ok(pids[i]), "clone %u failed", i);

	/* one more clone after them all: the shared copy is still the image */
	pids[CL_CLONES] = spawn(&ce[CL_CLONES], ready[CL_CLONES], go[CL_CLONES]);
	CHECK(pids[CL_CLONES] > 0);
	CHECK(!read_bounded(ready[CL_CLONES][0]));
	{
		uint8_t one = 1;

		CHECK(write(go[CL_CLONES][1], &one, 1) == 1);
	}
	CHECK(!wait_ok(pids[CL_CLONES]));

	/*
	 * Reads were served by UFFDIO_CONTINUE (minor faults, no copies), the
	 * image's zero pages (holes of the copy) by the zero page (missing
	 * faults): no clone filled a hole of the shared copy.
	 */
	got = h_call(ctl, PROTO_T_REGION_LIST, "{s:b}", "include_detached", 1);
	{
		json_t *regs = json_object_get(got, "regions"), *reg;
		size_t i;

		json_array_foreach(regs, i, reg) {
			minor += h_stat(reg, "faults", "minor");
			zero += h_stat(reg, NULL, "zero_pages");
		}
	}
	CHECK(minor > 0 && zero > 0);
	json_decref(got);
	got = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECKF(json_integer_value(json_object_get(json_object_get(json_object_get(got, "clone"),
								  "shared_copy"), "resident_bytes")) ==
		       resident,
	       "the shared copy grew from %lld to %lld bytes: clones filled its holes",
	       (long long)resident,
	       (long long)json_integer_value(json_object_get(
		       json_object_get(json_object_get(got, "clone"), "shared_copy"), "resident_bytes")));
	json_decref(got);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/*
 * The shared copy on hugetlbfs (2 MiB pages): two clones, each writing one
 * huge page of its own (the kernel copies the whole huge page) and dropping
 * some with MADV_DONTNEED, against the kernel's MAP_PRIVATE of the image.
 */
int t_clone_hugetlb(const struct t_env *env)
{
	const char *const args[] = { "--workers", "2", NULL };
	struct clone_env ce[2];
	pid_t pids[2];
	int ready[2][2], go[2][2];
	char image[256];
	struct h_agent a;
	json_t *rs;
	int ctl;

	(void)env;
	/* the copy's 4 pages, and each clone's private mapping reserves its 4 */
	CHECK_OK(h_hugepages(12));
	CHECK_OK(h_agent_start(&a, args));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "clone.mem", 8 << 20, 7, image, sizeof(image)));
	rs = h_restore_create(ctl, image, "{\"mode\":\"clone\",\"clone_memory\":\"hugetlbfs\","
					  "\"populate_delay_ms\":-1,\"working_set\":\"off\"}");
	CHECK(rs);
	CHECK(!strcmp(str(json_object_get(rs, "clone"), "memory"), "hugetlbfs"));
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(rs, "clone"),
								 "shared_copy"), "page_size")) == 2 << 20);
	for (unsigned i = 0; i < 2; i++) {
		ce[i] = (struct clone_env){ .socket = str(rs, "socket"), .image = image, .idx = i,
					    .unit = 2 << 20, .units = 4, .writes = 1 };
		CHECK(!pipe2(ready[i], O_CLOEXEC) && !pipe2(go[i], O_CLOEXEC));
		pids[i] = spawn(&ce[i], ready[i], go[i]);
		CHECK(pids[i] > 0);
	}
	for (unsigned i = 0; i < 2; i++)
		CHECKF(!read_bounded(ready[i][0]), "clone %u never reported its writes", i);
	for (unsigned i = 0; i < 2; i++) {
		uint8_t one = 1;

		CHECK(write(go[i][1], &one, 1) == 1);
	}
	for (unsigned i = 0; i < 2; i++)
		CHECKF(!wait_ok(pids[i]), "clone %u failed", i);
	{
		json_t *got = h_call(ctl, PROTO_T_REGION_LIST, "{s:b}", "include_detached", 1), *reg;
		size_t i, n = 0;

		json_array_foreach(json_object_get(got, "regions"), i, reg) {
			CHECK(json_integer_value(json_object_get(reg, "page_size")) == 2 << 20);
			CHECK(h_stat(reg, "faults", "minor") > 0 && h_stat(reg, "faults", "missing") == 0);
			n++;
		}
		CHECK(n == 2);
		json_decref(got);
	}
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

static long long jnum(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/*
 * The agent killed while a clone is half restored: the clone's threads
 * wait, libfaultline registers the region again with the restarted agent
 * (which reopens the session and makes its own copy), and the rest of the
 * clone's faults are continued on the clone's own mapping: every byte right.
 */
int t_clone_agent_killed(const struct t_env *env)
{
	struct h_agent a, b;
	struct h_proc p;
	char image[256];
	json_t *rs, *v, *sum, *reg;
	int ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "clone.mem", 16 << 20, 7, image, sizeof(image)));
	rs = h_restore_create(ctl, image, "{\"mode\":\"clone\",\"populate_delay_ms\":-1,"
					  "\"fault_around_pages\":0,\"working_set\":\"off\"}");
	CHECK(rs);
	close(ctl);
	{
		const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", "16M",
					     "--seed", "7", "--pattern", "seq", "--pause-after", "1000",
					     "--clone", NULL };

		CHECK_OK(h_demo(&p, args));
	}
	v = h_proc_json(&p, H_TIMEOUT_MS);
	CHECK(v && jnum(v, "paused") == 1000);
	json_decref(v);

	CHECK_OK(kill(a.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	CHECK_OK(h_proc_write(&p, "go\n"));
	CHECK_OK(h_agent_spawn(&b, a.dir, a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));

	sum = h_proc_json(&p, 30000);
	CHECK(sum && jnum(sum, "touched") == 4096);
	CHECKF(jnum(sum, "mismatches") == 0, "%lld pages wrong after the agent restart",
	       jnum(sum, "mismatches"));
	CHECK_OK(h_proc_wait(&p, H_TIMEOUT_MS));
	CHECK(p.status == 0);
	CHECK((ctl = h_ctl_open(&b)) >= 0);
	reg = h_region_of(ctl, str(sum, "region_id"));
	/* minor faults for the copy's pages, missing ones only for its holes (the image's zeros) */
	CHECK(reg && h_stat(reg, "faults", "minor") > 0);
	json_decref(reg);
	json_decref(sum);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/* Bad requests get clear errors: an unknown mode, clone_memory on a copy session. */
int t_clone_refusals(const struct t_env *env)
{
	const char *const args[] = { NULL };
	char image[256];
	struct h_agent a;
	int ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, args));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "clone.mem", 1 << 20, 7, image, sizeof(image)));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "BAD_REQUEST", "{s:s, s:s}", "image",
			      image, "mode", "fork"));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "BAD_REQUEST", "{s:s, s:s}", "image",
			      image, "clone_memory", "shmem"));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "BAD_REQUEST", "{s:s, s:s, s:s}",
			      "image", image, "mode", "clone", "clone_memory", "dram"));
	CHECK_OK(h_call_error(ctl, PROTO_T_SNAPSHOT_RESTORE, "BAD_REQUEST", "{s:[s], s:s}", "chain",
			      image, "restore_mode", "fork"));
	{
		json_t *rs = h_restore_create(ctl, image, "{}");
		int fd;

		CHECK(rs && !strcmp(str(rs, "mode"), "copy"));
		fd = h_connect(str(rs, "socket"));
		CHECK(fd >= 0 && !h_hello(fd));
		CHECK_OK(h_send_frame(fd, PROTO_T_CLONE_MEMORY, 0, 5, "{}"));
		CHECK_OK(h_expect_error(fd, PROTO_T_CLONE_MEMORY, 5, "CONFLICT"));
		close(fd);
		json_decref(rs);
	}
	close(ctl);
	return T_PASS;
}

/* An integer member in microseconds or milliseconds, or -1 when absent or null. */
static long long timing_of(json_t *session, const char *k)
{
	json_t *v = json_object_get(json_object_get(session, "timing"), k);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/*
 * Restore-to-run (PROTOCOL.md §1.8 "timing"), for a copy and a clone
 * session: each stage is reported once it happened, null before, in the
 * order the path runs (request, reply, registration, first fault, COMPLETE).
 * The session file names the region as soon as the registration is answered
 * (a restarted agent needs it), and never holds what clones use (smaps, live).
 * No durations are asserted: this machine's timing is the benchmark's.
 */
int t_clone_timing(const struct t_env *env)
{
	static const char *const modes[] = { "copy", "clone" };
	struct h_agent a;
	char image[256], opts[160], path[256];
	uint8_t want[CL_PS], got[CL_PS];
	int ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "timing.mem", 1 << 20, 11, image, sizeof(image)));
	for (unsigned m = 0; m < 2; m++) {
		size_t len = 1 << 20;
		uint8_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		json_t *rs, *now, *file, *reg;
		fl_client *c;
		fl_region *r;
		char id[40];

		CHECK(mem != MAP_FAILED);
		snprintf(opts, sizeof(opts), "{\"mode\":\"%s\",\"populate_delay_ms\":-1,"
			 "\"working_set\":\"off\"}", modes[m]);
		rs = h_restore_create(ctl, image, opts);
		CHECKF(rs, "%s session not created", modes[m]);
		snprintf(id, sizeof(id), "%s", str(rs, "id"));
		CHECKF(timing_of(rs, "reply_us") >= 0, "%s: no reply_us in the reply", modes[m]);
		CHECK(timing_of(rs, "registered_ms") == -1 && timing_of(rs, "registered_us") == -1);
		CHECK(timing_of(rs, "first_fault_ms") == -1 && timing_of(rs, "first_fault_us") == -1);
		CHECK(timing_of(rs, "complete_ms") == -1);

		c = fl_connect(str(rs, "socket"));
		CHECKF(c && !fl_region_register(c, mem, len, "timing", NULL, FL_MODE_MISSING, &r), "%s",
		       fl_last_error());
		/* answered: the file names the region already */
		snprintf(path, sizeof(path), "%s/restore/%s.json", a.state, id);
		file = json_load_file(path, 0, NULL);
		CHECKF(file, "%s: no session file %s", modes[m], path);
		CHECK(!strcmp(str(file, "state"), "ACTIVE"));
		CHECK(!strcmp(json_string_value(json_array_get(json_object_get(file, "regions"), 0)),
			      fl_region_id(r)));
		if (m == 1)
			CHECK(json_array_size(json_object_get(json_object_get(file, "clone"), "clones")) == 0);
		json_decref(file);

		content_page(11, 5, want);
		CHECK_OK(h_read_bounded(mem + 5 * CL_PS, CL_PS, got));
		CHECKF(!memcmp(want, got, CL_PS), "%s: page 5 is not the image's", modes[m]);
		/*
		 * The install wakes the reader before the worker has accounted the
		 * fault (first_fault_us comes a moment after the read returned): polled,
		 * with a deadline.
		 */
		for (uint64_t until = mono_now_ns() + UINT64_C(5000000000);;) {
			now = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", id);
			CHECK(now);
			if (timing_of(now, "first_fault_us") >= 0 || mono_now_ns() >= until)
				break;
			json_decref(now);
			sched_yield();
		}
		CHECKF(timing_of(now, "reply_us") == timing_of(rs, "reply_us"), "%s: reply_us changed",
		       modes[m]);
		CHECKF(timing_of(now, "registered_us") >= timing_of(now, "reply_us") &&
		       timing_of(now, "first_fault_us") >= timing_of(now, "registered_us"),
		       "%s: reply %lld us, registered %lld us, first fault %lld us", modes[m],
		       timing_of(now, "reply_us"), timing_of(now, "registered_us"),
		       timing_of(now, "first_fault_us"));
		CHECK(timing_of(now, "registered_ms") >= 0 &&
		      timing_of(now, "first_fault_ms") >= timing_of(now, "registered_ms"));
		CHECK(timing_of(now, "registered_ms") == timing_of(now, "registered_us") / 1000 &&
		      timing_of(now, "first_fault_ms") == timing_of(now, "first_fault_us") / 1000);
		CHECK(timing_of(now, "complete_ms") == -1);
		json_decref(now);

		/* every page installed: COMPLETE, after the first fault */
		reg = h_call(ctl, PROTO_T_REGION_DETACH, "{s:s, s:b}", "id", fl_region_id(r), "populate", 1);
		CHECK(reg);
		json_decref(reg);
		now = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", id);
		CHECK(now && !strcmp(str(now, "state"), "COMPLETE"));
		CHECKF(timing_of(now, "complete_ms") >= timing_of(now, "first_fault_ms"),
		       "%s: complete at %lld ms, first fault at %lld ms", modes[m],
		       timing_of(now, "complete_ms"), timing_of(now, "first_fault_ms"));
		json_decref(now);
		fl_region_unregister(r);
		fl_disconnect(c);
		munmap(mem, len);
		json_decref(rs);
	}
	close(ctl);
	return T_PASS;
}

/*
 * Firecracker's handshake on a clone session is refused with the reason
 * (docs/restore.md "Clones and Firecracker"): the agent closes the
 * connection, attaches nothing, and says why in its log; the session
 * stays WAITING for a workload that can map the copy.
 */
int t_clone_firecracker_refused(const struct t_env *env)
{
	struct h_fc vm;
	struct pollfd pfd;
	char line[4096], *why = NULL;
	json_t *got, *s;
	FILE *log;

	(void)env;
	CHECK_OK(h_fc_start_with(&vm, NULL, "{\"name\":\"fc\",\"mode\":\"clone\",\"populate_delay_ms\":-1}"));
	pfd = (struct pollfd){ .fd = vm.sock, .events = POLLIN };
	CHECKF(poll(&pfd, 1, H_TIMEOUT_MS) == 1, "the agent kept Firecracker's connection open");
	CHECK(read(vm.sock, line, sizeof(line)) <= 0);
	got = h_call(vm.ctl, PROTO_T_REGION_LIST, "{s:b}", "include_detached", 1);
	CHECK(got && json_array_size(json_object_get(got, "regions")) == 0);
	json_decref(got);
	s = h_call(vm.ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(vm.rs, "id"));
	CHECK(s && !strcmp(str(s, "state"), "WAITING"));
	json_decref(s);
	log = fopen(vm.a.log, "re");
	CHECK(log);
	while (!why && fgets(line, sizeof(line), log))
		why = strstr(line, "Firecracker handshake refused") ? strstr(line, "never a shared copy") : NULL;
	fclose(log);
	CHECKF(why, "no refusal with its reason in %s", vm.a.log);
	h_fc_stop(&vm);
	return T_PASS;
}
