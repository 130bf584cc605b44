/*
 * The fault engine in-process: the test is the workload and hosts the
 * engine, so the interleavings that are races in real life (a remove event
 * queued between reading a fault and installing its page) can be produced
 * step by step with a worker driven by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "around.h"
#include "content.h"
#include "fault.h"
#include "harness.h"
#include "hwork.h"
#include "image.h"
#include "log.h"
#include "region.h"
#include "strategy.h"
#include "test.h"
#include "uffd.h"
#include "uffd_compat.h"
#include "ufd.h"

#define SEED 42

struct fixture {
	struct log lg;
	struct fault_engine *e;
	struct image *im;
	struct region *r;
	uint8_t *mem;
	size_t len;
	int uffd;
};

static uint64_t extra_features; /* per test process */
static uint64_t extra_mode;     /* UFFDIO_REGISTER_MODE_*, per test process */

static int make_uffd(uint8_t *mem, size_t len)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
			    UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_MISSING_HUGETLBFS | extra_features,
	};
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | extra_mode,
	};
	enum uffd_source src;
	bool umo;
	int fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &src, &umo, NULL, 0);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		printf("    uffd setup: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* An image-backed region over fresh memory; workers = 0 drives it by hand. */
static int setup_mem(struct fixture *f, size_t len, unsigned workers, unsigned fault_around,
		     int mmap_flags, uint32_t page_size)
{
	struct fault_cfg cfg = { .workers = workers, .spin_us = 20, .chunk_pages = 512 };
	char dir[64], path[128], why[256];
	char *dirs[1] = { dir };

	memset(f, 0, sizeof(*f));
	f->len = len;
	if (log_init(&f->lg, LOG_LVL_WARN, NULL) || h_tmpdir(dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/image", dir);
	if (content_write_image(path, len, SEED) ||
	    image_open(path, dirs, 1, &f->im, why, sizeof(why)) != IMAGE_OK) {
		printf("    image: %s\n", why);
		return -1;
	}
	f->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | mmap_flags,
		      -1, 0);
	if (f->mem == MAP_FAILED) {
		printf("    mmap: %s\n", strerror(errno));
		return -1;
	}
	if ((f->uffd = make_uffd(f->mem, len)) < 0)
		return -1;
	f->r = region_new(NULL, "test", NULL, (uintptr_t)f->mem, len, page_size);
	if (!f->r)
		return -1;
	f->r->kind = REGION_IMAGE;
	f->r->image = image_get(f->im);
	f->r->modes = REGION_MODE_MISSING | (extra_mode & UFFDIO_REGISTER_MODE_WP ? REGION_MODE_WP : 0);
	f->r->w.fault_around = fault_around;
	f->e = fault_start(&f->lg, &cfg);
	return f->e ? 0 : -1;
}

static int setup(struct fixture *f, size_t len, unsigned workers, unsigned fault_around)
{
	return setup_mem(f, len, workers, fault_around, 0, CONTENT_PAGE);
}

static void teardown(struct fixture *f)
{
	if (f->e)
		fault_stop(f->e, NULL, NULL);
	region_put(f->r);
	image_put(f->im);
	if (f->uffd >= 0)
		close(f->uffd);
	log_fini(&f->lg);
}

static int wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, H_TIMEOUT_MS) == 1 ? 0 : -1;
}

struct toucher {
	pthread_t t;
	const uint8_t *page;
	uint8_t copy[CONTENT_PAGE];
};

static void *touch(void *arg)
{
	struct toucher *t = arg;

	memcpy(t->copy, t->page, CONTENT_PAGE);
	return NULL;
}

struct remover {
	pthread_t t;
	void *addr;
	size_t len;
	int ret;
};

static void *do_remove(void *arg)
{
	struct remover *rm = arg;

	rm->ret = madvise(rm->addr, rm->len, MADV_DONTNEED);
	return NULL;
}

static bool zero(const uint8_t *p)
{
	for (size_t i = 0; i < CONTENT_PAGE; i++) {
		if (p[i])
			return false;
	}
	return true;
}

/*
 * A fault is read, then the workload removes the page (MADV_DONTNEED, a
 * balloon inflating) before it is installed: the install meets EAGAIN, the
 * fault waits, the remove event is applied, and the retried fault reads
 * zeros - not the image bytes the page held before it was removed.
 */
int t_engine_eagain_retry(const struct t_env *env)
{
	struct fixture f;
	struct toucher a = { 0 }, c = { 0 };
	struct remover b = { 0 };
	struct ufd *u;

	(void)env;
	CHECK_OK(setup(&f, 64 * CONTENT_PAGE, 0, 1));
	u = ufd_new(fault_manual_worker(f.e), dup(f.uffd), -1, getpid());
	CHECK(u && !ufd_add_region(u, f.r));

	a.page = f.mem + 5 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&a.t, NULL, touch, &a));
	CHECK_OK(wait_readable(f.uffd));
	CHECK(ufd_read(u) == 1 && u->n_todo == 1);

	b.addr = f.mem + 4 * CONTENT_PAGE;
	b.len = 4 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&b.t, NULL, do_remove, &b));
	CHECK_OK(wait_readable(f.uffd)); /* the remove event is queued: the mm is changing */
	CHECK(ufd_resolve(u) == 1);
	CHECK(u->n_todo == 1 && region_stat(&f.r->st.eagain) == 1);

	CHECK(ufd_read(u) == 1); /* the remove event: the madvise may now finish */
	CHECK(region_stat(&f.r->st.events[RE_REMOVE]) == 1);
	CHECK_OK(pthread_join(b.t, NULL));
	CHECK(b.ret == 0);
	CHECK(ufd_resolve(u) == 0 && u->n_todo == 0);
	CHECK_OK(pthread_join(a.t, NULL));
	CHECKF(zero(a.copy), "a removed page must read as zero, not as image bytes");
	CHECK(region_stat(&f.r->st.zero_pages) == 1 && region_stat(&f.r->st.faults[RF_MISSING]) == 1);

	/* a page outside the removed range still comes from the image */
	c.page = f.mem + 10 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&c.t, NULL, touch, &c));
	CHECK_OK(wait_readable(f.uffd));
	CHECK(ufd_read(u) == 1 && ufd_resolve(u) == 0);
	CHECK_OK(pthread_join(c.t, NULL));
	CHECK(content_check(SEED, 10, c.copy) == 0);
	ufd_free(u);
	teardown(&f);
	return T_PASS;
}

/* Threads of the engine serve the test's own touches: bytes and counters. */
int t_engine_threaded_restore(const struct t_env *env)
{
	enum { PAGES = 4096, AROUND = 16 };
	struct fault_done done[8];
	struct fixture f;
	uint64_t windows = 0;
	size_t bad;
	bool complete = false;

	(void)env;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 1, AROUND));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	for (uint64_t p = 0; p < PAGES; p++) {
		bad = content_check(SEED, p, f.mem + p * CONTENT_PAGE);
		CHECKF(!bad, "page %llu differs at byte %zu", (unsigned long long)p, bad - 1);
	}
	/* the counters are final once the region is complete */
	while (!complete) {
		CHECK_OK(wait_readable(fault_notify_fd(f.e)));
		for (unsigned i = 0, n = fault_take(f.e, done, 8); i < n; i++) {
			complete |= done[i].kind == FAULT_COMPLETE;
			wset_rec_free(&done[i].rec);
		}
	}
	/* sequential touches fault once per window, and the window doubles along the run (around.h) */
	windows = around_run_faults(AROUND, PAGES);
	CHECKF(region_stat(&f.r->st.faults[RF_MISSING]) == windows, "%llu faults, %llu windows",
	       (unsigned long long)region_stat(&f.r->st.faults[RF_MISSING]),
	       (unsigned long long)windows);
	CHECK(region_stat(&f.r->st.installed[RP_DEMAND]) == windows);
	CHECK(region_stat(&f.r->st.installed[RP_AROUND]) == PAGES - windows);
	CHECK(region_stat(&f.r->st.present) == PAGES);
	CHECK(region_stat(&f.r->st.zero_pages) == PAGES / 8);
	CHECK(region_stat(&f.r->st.lat_count) == windows);
	teardown(&f);
	return T_PASS;
}

/*
 * hugetlbfs has no zeropage ioctl: a removed 2 MiB page must still read as
 * zero, installed with UFFDIO_COPY from the engine's zero source.
 */
int t_engine_hugetlb_remove(const struct t_env *env)
{
	const size_t huge = 2u << 20;
	struct fixture f;

	(void)env;
	CHECK_OK(h_hugepages(4));
	CHECK_OK(setup_mem(&f, 4 * huge, 1, 1, MAP_HUGETLB, (uint32_t)huge));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	for (uint64_t p = 0; p < 2 * huge / CONTENT_PAGE; p += 97)
		CHECK(content_check(SEED, p, f.mem + p * CONTENT_PAGE) == 0);
	CHECK_OK(madvise(f.mem, huge, MADV_DONTNEED));
	for (uint64_t p = 0; p < huge / CONTENT_PAGE; p++)
		CHECKF(zero(f.mem + p * CONTENT_PAGE), "4K page %llu of a removed huge page",
		       (unsigned long long)p);
	/* the other huge page was not removed */
	CHECK(content_check(SEED, huge / CONTENT_PAGE + 1, f.mem + huge + CONTENT_PAGE) == 0);
	CHECK(region_stat(&f.r->st.events[RE_REMOVE]) == 1);
	teardown(&f);
	return T_PASS;
}

/* Completions until one of kind arrives (others are dropped); its region. */
static struct region *wait_done(struct fault_engine *e, enum fault_done_kind kind)
{
	struct fault_done done[8];

	for (;;) {
		struct region *found = NULL;

		if (wait_readable(fault_notify_fd(e)))
			return NULL;
		for (unsigned i = 0, n = fault_take(e, done, 8); i < n; i++) {
			if (done[i].kind == kind && !found)
				found = done[i].r;
			wset_rec_free(&done[i].rec);
		}
		if (found)
			return found;
	}
}

/*
 * mremap of part of a region: the moved pages become a region of their
 * own at the new address, still served from their place in the image; the
 * old region counts them gone.
 */
int t_engine_partial_remap(const struct t_env *env)
{
	enum { PAGES = 64, FIRST = 16, N = 16 };
	struct fixture f;
	struct region *moved;
	uint8_t *dst;

	(void)env;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 1, 1));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	CHECK(content_check(SEED, 0, f.mem) == 0);
	CHECK(content_check(SEED, FIRST + 1, f.mem + (FIRST + 1) * CONTENT_PAGE) == 0);
	dst = mmap(NULL, N * CONTENT_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(dst != MAP_FAILED);
	CHECK(mremap(f.mem + FIRST * CONTENT_PAGE, N * CONTENT_PAGE, N * CONTENT_PAGE,
		     MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst);
	moved = wait_done(f.e, FAULT_ADOPT);
	CHECK(moved && region_start(moved) == (uintptr_t)dst && moved->n_pages == N);
	CHECK(moved->image_offset == FIRST * CONTENT_PAGE);
	/* present before the move stays present; missing pages come from their image page */
	for (unsigned i = 0; i < N; i++)
		CHECKF(content_check(SEED, FIRST + i, dst + i * CONTENT_PAGE) == 0, "moved page %u", i);
	CHECK(content_check(SEED, FIRST + N, f.mem + (FIRST + N) * CONTENT_PAGE) == 0);
	CHECK(region_stat(&f.r->st.gone) == N && region_stat(&f.r->st.events[RE_REMAP]) == 1);
	moved->image = image_get(f.im); /* adopted: the loop thread's reference */
	teardown(&f);
	region_put(moved);
	return T_PASS;
}

/*
 * A part moved (mremap) into a hole the workload unmapped in the same
 * region: two regions now cover those addresses, the old one with the
 * pages gone.  Faults there belong to the moved part: its image pages,
 * zero once removed.  (Found by stress/restore's real mremap: the old region answered,
 * installed nothing and the reader faulted for ever.)
 */
int t_engine_remap_into_hole(const struct t_env *env)
{
	enum { PAGES = 64, HOLE = 40, FIRST = 8, N = 4 };
	struct fixture f;
	struct region *moved;
	uint8_t *dst, buf[N * CONTENT_PAGE];

	(void)env;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 1, 1));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	CHECK_OK(munmap(f.mem + HOLE * CONTENT_PAGE, N * CONTENT_PAGE));
	dst = f.mem + HOLE * CONTENT_PAGE;
	CHECK(mremap(f.mem + FIRST * CONTENT_PAGE, N * CONTENT_PAGE, N * CONTENT_PAGE,
		     MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst);
	moved = wait_done(f.e, FAULT_ADOPT);
	CHECK(moved && region_start(moved) == (uintptr_t)dst && moved->n_pages == N);
	CHECKF(h_read_bounded(dst, sizeof(buf), buf) == 0, "a read of the moved part hangs");
	for (unsigned i = 0; i < N; i++)
		CHECKF(content_check(SEED, FIRST + i, buf + i * CONTENT_PAGE) == 0, "moved page %u", i);
	CHECK_OK(madvise(dst + CONTENT_PAGE, CONTENT_PAGE, MADV_DONTNEED));
	CHECKF(h_read_bounded(dst, sizeof(buf), buf) == 0, "a read after a removal hangs");
	CHECK(zero(buf + CONTENT_PAGE));
	CHECK(content_check(SEED, FIRST + 2, buf + 2 * CONTENT_PAGE) == 0);
	moved->image = image_get(f.im); /* adopted: the loop thread's reference */
	teardown(&f);
	region_put(moved);
	return T_PASS;
}

/*
 * fork() of a process whose uffd asked for UFFD_FEATURE_EVENT_FORK: the
 * child's uffd is adopted, so the child's missing pages come from the image
 * too instead of turning into zeros.
 */
int t_engine_fork_adopted(const struct t_env *env)
{
	enum { PAGES = 64 };
	struct fixture f;
	struct region *child_region;
	int status;
	pid_t pid;

	(void)env;
	extra_features = UFFD_FEATURE_EVENT_FORK;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 1, 1));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	CHECK(content_check(SEED, 1, f.mem + CONTENT_PAGE) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* one page the parent had, one it never touched */
		_exit(content_check(SEED, 1, f.mem + CONTENT_PAGE) == 0 &&
		      content_check(SEED, 9, f.mem + 9 * CONTENT_PAGE) == 0 ? 0 : 1);
	}
	child_region = wait_done(f.e, FAULT_ADOPT);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child read wrong bytes");
	CHECK(child_region && region_stat(&f.r->st.events[RE_FORK]) == 1);
	CHECK(region_start(child_region) == (uintptr_t)f.mem);
	child_region->image = image_get(f.im);
	teardown(&f);
	region_put(child_region);
	return T_PASS;
}

/*
 * A child forked after the workload unmapped part of its region has that
 * hole too: its region starts with the parent's gone pages, or it would
 * never complete and the populator would retry unmapped pages for ever.
 * (Found by the stress test: a forked child's read waited for a worker kept
 * at idle priority by that endless background work.)
 */
int t_engine_fork_keeps_holes(const struct t_env *env)
{
	enum { PAGES = 64, HOLE = 8, N = 4 };
	struct fixture f;
	struct region *child_region;
	int status;
	pid_t pid;

	(void)env;
	extra_features = UFFD_FEATURE_EVENT_FORK;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 1, 1));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	CHECK(content_check(SEED, 1, f.mem + CONTENT_PAGE) == 0);
	/* munmap returns once the worker has read the UNMAP event */
	CHECK_OK(munmap(f.mem + HOLE * CONTENT_PAGE, N * CONTENT_PAGE));
	fflush(NULL);
	/*
	 * A raw fork: glibc's fork() holds the malloc locks until the kernel
	 * returns, and the kernel waits for this process's own worker to read
	 * the FORK event, which may need malloc first.
	 */
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(content_check(SEED, HOLE + N, f.mem + (HOLE + N) * CONTENT_PAGE) == 0 ? 0 : 1);
	child_region = wait_done(f.e, FAULT_ADOPT);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child read wrong bytes");
	CHECK(child_region && region_stat(&f.r->st.gone) == N);
	CHECKF(region_stat(&child_region->st.gone) == N, "the child's region has %llu gone pages, not %d",
	       (unsigned long long)region_stat(&child_region->st.gone), N);
	child_region->image = image_get(f.im);
	teardown(&f);
	region_put(child_region);
	return T_PASS;
}

/*
 * Write-protecting a page that is not there (UFFD_FEATURE_WP_UNPOPULATED,
 * as a snapshot's rounds do over pages the workload released) leaves a
 * uffd-wp marker, and a forked child inherits it.  UFFDIO_ZEROPAGE takes a
 * marker for a page (EEXIST), so a removed page's zeros installed that way
 * were never installed: the read faulted again for ever.  (Found by
 * stress/snapshot: a fork check's read of a released page hung.)  Zeros are
 * copied instead on every range registered for write protection, tracked
 * or not: the child's copy of a region is not.
 */
int t_engine_removed_wp_page_reads_zero(const struct t_env *env)
{
	enum { PAGES = 16, P = 3 };
	struct fixture f;
	struct region *child_region;
	struct uffdio_writeprotect wp;
	int status;
	pid_t pid;

	(void)env;
	extra_features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_PAGEFAULT_FLAG_WP |
			 UFFD_FEATURE_WP_UNPOPULATED;
	extra_mode = UFFDIO_REGISTER_MODE_WP;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 1, 1));
	CHECK_OK(fault_attach(f.e, dup(f.uffd), -1, -1, getpid(), &f.r, 1));
	CHECK(content_check(SEED, P, f.mem + P * CONTENT_PAGE) == 0);
	/* returns once the worker has read the REMOVE event */
	CHECK_OK(madvise(f.mem + P * CONTENT_PAGE, CONTENT_PAGE, MADV_DONTNEED));
	wp = (struct uffdio_writeprotect){ .range = { (uintptr_t)f.mem + P * CONTENT_PAGE, CONTENT_PAGE },
					   .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	CHECK_OK(ioctl(f.uffd, UFFDIO_WRITEPROTECT, &wp)); /* a marker where no page is */
	fflush(NULL);
	/* a raw fork, as in t_engine_fork_keeps_holes */
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(H_TIMEOUT_MS / 1000); /* a read that never returns ends the child */
		_exit(zero(f.mem + P * CONTENT_PAGE) ? 0 : 1);
	}
	child_region = wait_done(f.e, FAULT_ADOPT);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the child's read of a removed, protected page %s",
	       WIFSIGNALED(status) ? "never returned" : "did not read zeros");
	CHECKF(h_read_bounded(f.mem + P * CONTENT_PAGE, 1, &(uint8_t){ 1 }) == 0,
	       "the parent's read of a removed, protected page never returned");
	CHECK(zero(f.mem + P * CONTENT_PAGE));
	CHECK(child_region && (child_region->modes & REGION_MODE_WP));
	child_region->image = image_get(f.im);
	teardown(&f);
	region_put(child_region);
	return T_PASS;
}

/*
 * A strategy that owns a region's missing pages (a migration destination,
 * strategy.h missing_fault): a fault on a page it does not have yet is
 * parked, and the faults behind it are served meanwhile; when the page
 * comes the parked fault is resolved again.  A page removed while its
 * fault was parked reads zero: the engine's map stays the truth.
 */
static uint64_t g_park_page;
static bool g_park_released;

static void park_nop(struct ufd *u, struct region *r)
{
	(void)u;
	(void)r;
}

static bool park_runnable(const struct region *r)
{
	(void)r;
	return false;
}

static void park_abort(struct ufd *u, struct region *r, int code, const char *why)
{
	(void)u;
	(void)r;
	(void)code;
	(void)why;
}

static enum missing_answer park_missing(struct ufd *u, struct region *r, uint64_t page,
					uint64_t read_ns)
{
	(void)u;
	(void)r;
	(void)read_ns;
	return page == g_park_page && !g_park_released ? MISSING_WAIT : MISSING_INSTALL;
}

static const struct region_strategy park_strategy = {
	.name = "park",
	.runnable = park_runnable,
	.step = park_nop,
	.wake = park_nop,
	.abort = park_abort,
	.missing_fault = park_missing,
};

int t_engine_strategy_parks_missing(const struct t_env *env)
{
	struct fixture f;
	struct toucher a = { 0 }, c = { 0 }, d = { 0 };
	struct remover rm = { 0 };
	struct ufd *u;

	(void)env;
	CHECK_OK(setup(&f, 64 * CONTENT_PAGE, 0, 1));
	f.r->w.strat = &park_strategy;
	u = ufd_new(fault_manual_worker(f.e), dup(f.uffd), -1, getpid());
	CHECK(u && !ufd_add_region(u, f.r));

	/* page 5 is not there yet: parked */
	g_park_page = 5;
	g_park_released = false;
	a.page = f.mem + 5 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&a.t, NULL, touch, &a));
	CHECK_OK(wait_readable(f.uffd));
	CHECK(ufd_read(u) == 1 && ufd_resolve(u) == 0);
	CHECK(u->n_todo == 0 && u->n_parked == 1);
	/* a fault behind it does not wait for it */
	c.page = f.mem + 9 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&c.t, NULL, touch, &c));
	CHECK_OK(wait_readable(f.uffd));
	CHECK(ufd_read(u) == 1 && ufd_resolve(u) == 0 && u->n_parked == 1);
	CHECK_OK(pthread_join(c.t, NULL));
	CHECK(content_check(SEED, 9, c.copy) == 0);
	/* nothing new: it stays parked */
	CHECK(ufd_unpark(u) == 0 && u->n_parked == 1);
	/* the page came */
	g_park_released = true;
	CHECK(ufd_unpark(u) == 0 && u->n_parked == 0 && u->n_todo == 0);
	CHECK_OK(pthread_join(a.t, NULL));
	CHECK(content_check(SEED, 5, a.copy) == 0);
	CHECK(region_stat(&f.r->st.faults[RF_MISSING]) == 2);

	/* parked, then removed by the workload before the page came: zero */
	g_park_page = 20;
	g_park_released = false;
	d.page = f.mem + 20 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&d.t, NULL, touch, &d));
	CHECK_OK(wait_readable(f.uffd));
	CHECK(ufd_read(u) == 1 && ufd_resolve(u) == 0 && u->n_parked == 1);
	rm.addr = f.mem + 20 * CONTENT_PAGE;
	rm.len = 2 * CONTENT_PAGE;
	CHECK_OK(pthread_create(&rm.t, NULL, do_remove, &rm));
	CHECK_OK(wait_readable(f.uffd));
	CHECK(ufd_read(u) == 1 && region_stat(&f.r->st.events[RE_REMOVE]) == 1);
	CHECK_OK(pthread_join(rm.t, NULL));
	CHECK(rm.ret == 0);
	g_park_released = true;
	CHECK(ufd_unpark(u) == 0 && u->n_parked == 0);
	CHECK_OK(pthread_join(d.t, NULL));
	CHECKF(zero(d.copy), "a page removed while its fault was parked must read zero");
	ufd_free(u);
	teardown(&f);
	return T_PASS;
}

struct writer {
	pthread_t t;
	uint8_t *page;
};

/* A write with no read before it (the fault is a write fault), leaving the bytes as they are. */
static void *write_touch(void *arg)
{
	struct writer *w = arg;

	__atomic_fetch_add((uint64_t *)w->page, 0, __ATOMIC_RELAXED);
	return NULL;
}

/* PAGE_IS_PRESENT / PAGE_IS_PFNZERO of one page of this process (0: not present). */
static int page_categories(const uint8_t *page, uint64_t *cat)
{
	struct page_region v = { 0 };
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = (uintptr_t)page,
		.end = (uintptr_t)page + CONTENT_PAGE,
		.vec = (uintptr_t)&v,
		.vec_len = 1,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_PFNZERO,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_PFNZERO,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -1;
	n = ioctl(fd, PAGEMAP_SCAN, &a);
	close(fd);
	if (n < 0)
		return -1;
	*cat = n ? v.categories : 0;
	return 0;
}

/*
 * The zeros of a write fault's window are pages of the workload's own, as
 * the kernel's anonymous write fault gives: mapping the shared zero page
 * there would cost each of them a copy-on-write fault, with a TLB flush,
 * on the write that follows.  A read fault's window maps the zero page (no
 * memory).  Every page holds the image's bytes either way.
 */
int t_engine_write_window_zeros_private(const struct t_env *env)
{
	enum { AROUND = 16, PAGES = 4 * AROUND };
	static const struct {
		const char *name;
		bool write;
		uint64_t first; /* the faulting page: its window is [first, first + AROUND) */
	} cases[] = {
		{ "write fault", true, 0 },
		{ "read fault", false, 2 * AROUND },
	};
	struct fixture f;
	struct ufd *u;

	(void)env;
	CHECK_OK(setup(&f, PAGES * CONTENT_PAGE, 0, AROUND));
	u = ufd_new(fault_manual_worker(f.e), dup(f.uffd), -1, getpid());
	CHECK(u && !ufd_add_region(u, f.r));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *page = f.mem + cases[i].first * CONTENT_PAGE;
		struct writer w = { .page = page };
		struct toucher t = { .page = page };
		uint64_t zeros = 0;

		if (cases[i].write)
			CHECK_OK(pthread_create(&w.t, NULL, write_touch, &w));
		else
			CHECK_OK(pthread_create(&t.t, NULL, touch, &t));
		CHECK_OK(wait_readable(f.uffd));
		CHECK(ufd_read(u) == 1 && ufd_resolve(u) == 0);
		CHECK_OK(pthread_join(cases[i].write ? w.t : t.t, NULL));
		for (uint64_t p = cases[i].first; p < cases[i].first + AROUND; p++) {
			uint64_t cat;
			size_t bad = content_check(SEED, p, f.mem + p * CONTENT_PAGE);

			CHECKF(!bad, "%s: page %llu differs at byte %zu", cases[i].name,
			       (unsigned long long)p, bad - 1);
			CHECK_OK(page_categories(f.mem + p * CONTENT_PAGE, &cat));
			CHECKF(cat & PAGE_IS_PRESENT, "%s: page %llu of the window is not present",
			       cases[i].name, (unsigned long long)p);
			if (!content_zero_page(p))
				continue;
			zeros++;
			CHECKF(!(cat & PAGE_IS_PFNZERO) == cases[i].write,
			       "%s: zero page %llu %s the shared zero page", cases[i].name,
			       (unsigned long long)p, cat & PAGE_IS_PFNZERO ? "maps" : "does not map");
		}
		CHECK(zeros == AROUND / 8);
	}
	CHECK(region_stat(&f.r->st.zero_pages) == 2 * AROUND / 8);
	ufd_free(u);
	teardown(&f);
	return T_PASS;
}
