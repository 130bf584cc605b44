/*
 * The write-tracking and hold layer (track.h, hold.h) in-process: the test
 * is the workload (its writer threads write into a region registered with
 * libfaultline's own uffd code) and the agent (its main thread drives the
 * track and the rounds and resolves the faults), so every interleaving is
 * real but every outcome can be checked against what the writers logged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bitmap.h"
#include "faultline.h"
#include "fluffd.h"
#include "freeze.h"
#include "harness.h"
#include "hwork.h"
#include "hold.h"
#include "mono.h"
#include "test.h"
#include "track.h"
#include "uffd_compat.h"

#define PS 4096u

struct wp_fixture {
	uint8_t *mem;
	uint64_t pages;
	struct flu_uffds u;
	struct track t;
};

static int wp_setup(struct wp_fixture *f, uint64_t pages, bool populate, uint64_t granule)
{
	char why[256];

	memset(f, 0, sizeof(*f));
	f->u.fd = f->u.hold_fd = -1;
	f->pages = pages;
	f->mem = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->mem == MAP_FAILED)
		return -1;
	/* 4 KiB pages throughout: protection and faults per page, as the checks assume */
	madvise(f->mem, pages * PS, MADV_NOHUGEPAGE);
	if (populate) {
		for (uint64_t p = 0; p < pages; p++)
			f->mem[p * PS + 8] = 1;
	}
	if (flu_create(FL_MODE_WP, f->mem, pages * PS, &f->u, why, sizeof(why))) {
		printf("    flu_create: %s\n", why);
		return -1;
	}
	if (f->u.hold_fd < 0) {
		printf("    no hold uffd: the kernel lacks WP_ASYNC or WP_UNPOPULATED\n");
		return -1;
	}
	if (track_init(&f->t, getpid(), f->u.fd, f->u.hold_fd, (uintptr_t)f->mem, pages, PS,
		       UFFDIO_REGISTER_MODE_WP, granule)) {
		printf("    track_init: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void wp_teardown(struct wp_fixture *f)
{
	track_fini(&f->t);
	flu_close(&f->u, f->mem, f->pages * PS);
	munmap(f->mem, f->pages * PS);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- writers that log what they wrote ---------------------------------- */

/*
 * A writer stores increasing generation numbers (1, 2, ...) into the first
 * word of pages it picks (pages p with p % n_writers == id), as fast as it
 * can, and logs which page got which generation.  A copy of the region
 * that equals memory at one instant T is then recognisable: with G the
 * writer's largest generation found in the copy, every page of the writer
 * must hold the last generation the log gave it up to G.
 */
struct writer {
	pthread_t t;
	uint8_t *mem;
	uint64_t pages;
	unsigned id, n_writers;
	uint32_t *log; /* log[gen] = page */
	uint64_t log_cap;
	uint64_t seed;
	const uint32_t *list; /* when set: write exactly these pages once, in order */
	uint64_t n_list;
	_Atomic bool stop;
	_Atomic uint64_t gen;   /* last generation written */
	uint64_t max_stall_ns;
};

static uint64_t now_ns(void)
{
	return mono_now_ns();
}

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	uint64_t gen = 0, s = w->seed | 1;

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed) && gen + 1 < w->log_cap) {
		uint64_t p, t0, dt;

		if (w->list) {
			if (gen == w->n_list)
				break;
			p = w->list[gen];
		} else {
			p = rnd(&s) % w->pages;
			p -= p % w->n_writers;
			p += w->id;
			if (p >= w->pages)
				continue;
		}
		gen++;
		w->log[gen] = (uint32_t)p;
		t0 = now_ns();
		*(volatile uint64_t *)(w->mem + p * PS) = gen;
		dt = now_ns() - t0;
		if (dt > w->max_stall_ns)
			w->max_stall_ns = dt;
		atomic_store_explicit(&w->gen, gen, memory_order_release);
	}
	return NULL;
}

static int writer_start(struct writer *w, uint8_t *mem, uint64_t pages, unsigned id, unsigned n,
			uint64_t log_cap)
{
	memset(w, 0, sizeof(*w));
	w->mem = mem;
	w->pages = pages;
	w->id = id;
	w->n_writers = n;
	w->seed = 0x9E3779B97F4A7C15ull * (id + 1);
	w->log_cap = log_cap;
	w->log = calloc(log_cap, sizeof(*w->log));
	if (!w->log)
		return -1;
	return pthread_create(&w->t, NULL, write_loop, w);
}

static uint64_t writer_stop(struct writer *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->t, NULL);
	return atomic_load(&w->gen);
}

/* Waits until the writer wrote at least n more generations (or gives up). */
static int writer_progress(struct writer *w, uint64_t n)
{
	uint64_t want = atomic_load(&w->gen) + n, deadline = now_ns() + 5000000000ull;

	while (atomic_load(&w->gen) < want) {
		if (now_ns() > deadline)
			return -1;
		sched_yield();
	}
	return 0;
}

/*
 * copy: one word per page (the first), as saved.  Returns 0 when copy is
 * memory at one instant for writer w; *g_out is that instant's generation.
 */
static int consistent_cut(const struct writer *w, const uint64_t *copy, uint64_t *g_out)
{
	uint64_t g = 0, *expect = calloc(w->pages, sizeof(uint64_t));

	if (!expect)
		return -1;
	for (uint64_t p = w->id; p < w->pages; p += w->n_writers)
		g = copy[p] > g ? copy[p] : g;
	for (uint64_t gen = 1; gen <= g; gen++)
		expect[w->log[gen]] = gen;
	for (uint64_t p = w->id; p < w->pages; p += w->n_writers) {
		if (copy[p] != expect[p]) {
			printf("    writer %u, page %llu: copy holds generation %llu, memory at the"
			       " instant of generation %llu held %llu\n", w->id, (unsigned long long)p,
			       (unsigned long long)copy[p], (unsigned long long)g,
			       (unsigned long long)expect[p]);
			free(expect);
			return -1;
		}
	}
	free(expect);
	*g_out = g;
	return 0;
}

/* ---- the "agent" side --------------------------------------------------- */

/* Write faults waiting on fd, read without blocking: pages into out. */
static int read_faults(int fd, const struct wp_fixture *f, uint64_t *out, unsigned max)
{
	struct uffd_msg m[32];
	ssize_t n = read(fd, m, sizeof(m[0]) * (max < 32 ? max : 32));
	int k = 0;

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(m[0]); i++) {
		if (m[i].event != UFFD_EVENT_PAGEFAULT ||
		    !(m[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
			continue;
		out[k++] = (m[i].arg.pagefault.address - (uintptr_t)f->mem) / PS;
	}
	return k;
}

static int wait_fault(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, H_TIMEOUT_MS) == 1 ? 0 : -1;
}

static uint64_t count_written(struct wp_fixture *f)
{
	uint64_t *m = bitmap_new(f->pages), n;

	if (!m || track_written(&f->t, 0, f->pages, m, false))
		n = UINT64_MAX;
	else
		n = bitmap_count(m, 0, f->pages);
	free(m);
	return n;
}

/* ---- tests ------------------------------------------------------------- */

/*
 * libfaultline's FL_MODE_WP: the range is registered on a WP_ASYNC uffd,
 * and a second, synchronous uffd comes with it, registered on nothing.
 */
int t_track_two_uffds(const struct t_env *env)
{
	struct wp_fixture f;
	struct uffdio_writeprotect wp;
	struct uffdio_register reg;

	(void)env;
	CHECK_OK(wp_setup(&f, 16, true, 1));
	CHECK(f.u.features & UFFD_FEATURE_WP_ASYNC);
	CHECK(f.u.features & UFFD_FEATURE_WP_UNPOPULATED);
	CHECK(!(f.u.hold_features & UFFD_FEATURE_WP_ASYNC));
	CHECK(f.u.hold_features & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	CHECK(f.u.hold_features & UFFD_FEATURE_EVENT_REMOVE);
	wp = (struct uffdio_writeprotect){ .range = { (uintptr_t)f.mem, 16 * PS },
					   .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	CHECK(ioctl(f.u.fd, UFFDIO_WRITEPROTECT, &wp) == 0);
	/* one uffd per VMA: the hold uffd cannot take the range while the track has it */
	reg = (struct uffdio_register){ .range = { (uintptr_t)f.mem, 16 * PS },
					.mode = UFFDIO_REGISTER_MODE_WP };
	CHECK(ioctl(f.u.hold_fd, UFFDIO_REGISTER, &reg) < 0 && errno == EBUSY);
	/* asynchronous: a write to a protected page just goes through */
	f.mem[3 * PS] = 7;
	CHECK(count_written(&f) == 1);
	wp_teardown(&f);
	return T_PASS;
}

/*
 * On the track uffd, a scan that re-protects what it reports sees every
 * written page exactly once and nothing else, while the writer runs.
 */
int t_track_dirty_exact_async(const struct t_env *env)
{
	enum { PAGES = 8192, WRITES = 200000 };
	struct wp_fixture f;
	struct writer w;
	uint64_t *seen = bitmap_new(PAGES), *want = bitmap_new(PAGES), scans = 0;
	uint32_t *list = malloc(WRITES * sizeof(*list));
	uint64_t s = 42;

	(void)env;
	CHECK(seen && want && list);
	CHECK_OK(wp_setup(&f, PAGES, false, 1));
	/* a third of the pages, some of them many times */
	for (unsigned i = 0; i < WRITES; i++) {
		list[i] = (uint32_t)(rnd(&s) % (PAGES / 3) * 3);
		bitmap_set(want, list[i], 1);
	}
	CHECK_OK(track_protect(&f.t, 0, PAGES));
	CHECK(count_written(&f) == 0); /* never touched pages are protected too (markers) */
	memset(&w, 0, sizeof(w));
	w.mem = f.mem;
	w.pages = PAGES;
	w.n_writers = 1;
	w.list = list;
	w.n_list = WRITES;
	w.log_cap = WRITES + 2;
	w.log = calloc(w.log_cap, sizeof(*w.log));
	CHECK(w.log);
	CHECK_OK(pthread_create(&w.t, NULL, write_loop, &w));
	while (atomic_load(&w.gen) < WRITES) {
		CHECK_OK(track_written(&f.t, 0, PAGES, seen, true));
		scans++;
	}
	pthread_join(w.t, NULL);
	CHECK_OK(track_written(&f.t, 0, PAGES, seen, true));
	for (uint64_t p = 0; p < PAGES; p++)
		CHECKF(bitmap_test(seen, p) == bitmap_test(want, p), "page %llu: seen %d, written %d",
		       (unsigned long long)p, bitmap_test(seen, p), bitmap_test(want, p));
	/* re-protected: nothing is left to report */
	CHECK(count_written(&f) == 0);
	t_logf("%llu scans during %u writes", (unsigned long long)scans, WRITES);
	free(w.log);
	free(list);
	free(seen);
	free(want);
	wp_teardown(&f);
	return T_PASS;
}

/*
 * On the hold uffd every first write to a granule faults; lifting the
 * granule makes exactly the written granules dirty, and the kernel agrees
 * (PAGE_IS_WRITTEN is the dirty set).
 */
int t_track_dirty_exact_hold(const struct t_env *env)
{
	enum { PAGES = 4096, GRANULE = 16, WRITES = 3000 };
	struct wp_fixture f;
	struct writer w;
	uint64_t *want = bitmap_new(PAGES), *kernel = bitmap_new(PAGES), faults = 0, s = 7;
	uint32_t *list = malloc(WRITES * sizeof(*list));

	(void)env;
	CHECK(want && kernel && list);
	CHECK_OK(wp_setup(&f, PAGES, true, GRANULE));
	CHECK_OK(track_move(&f.t, TRACK_ON_HOLD));
	CHECK(f.t.where == TRACK_ON_HOLD && !f.t.continuous);
	CHECK_OK(track_protect(&f.t, 0, PAGES));
	track_restart(&f.t, now_ns());
	for (unsigned i = 0; i < WRITES; i++) {
		list[i] = (uint32_t)(rnd(&s) % PAGES);
		bitmap_set(want, list[i] - list[i] % GRANULE, GRANULE);
	}
	memset(&w, 0, sizeof(w));
	w.mem = f.mem;
	w.pages = PAGES;
	w.n_writers = 1;
	w.list = list;
	w.n_list = WRITES;
	w.log_cap = WRITES + 2;
	w.log = calloc(w.log_cap, sizeof(*w.log));
	CHECK(w.log);
	CHECK_OK(pthread_create(&w.t, NULL, write_loop, &w));
	while (atomic_load_explicit(&w.gen, memory_order_acquire) < WRITES) {
		uint64_t pages[32], first, n;
		int k;
		struct pollfd pfd = { .fd = f.u.hold_fd, .events = POLLIN };

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		k = read_faults(f.u.hold_fd, &f, pages, 32);
		CHECK(k >= 0);
		for (int i = 0; i < k; i++) {
			CHECK_OK(track_lift(&f.t, pages[i], &first, &n));
			CHECK(first % GRANULE == 0 && n == GRANULE && pages[i] - first < GRANULE);
			faults++;
		}
	}
	pthread_join(w.t, NULL);
	CHECK_OK(track_written(&f.t, 0, PAGES, kernel, false));
	for (uint64_t p = 0; p < PAGES; p++) {
		CHECKF(bitmap_test(f.t.dirty, p) == bitmap_test(want, p), "page %llu: dirty %d, want %d",
		       (unsigned long long)p, bitmap_test(f.t.dirty, p), bitmap_test(want, p));
		CHECKF(bitmap_test(kernel, p) == bitmap_test(want, p), "page %llu: kernel %d, want %d",
		       (unsigned long long)p, bitmap_test(kernel, p), bitmap_test(want, p));
	}
	/* one fault per granule written, at most (two threads of one granule may both fault) */
	CHECK(faults >= bitmap_count(want, 0, PAGES) / GRANULE);
	CHECK(f.t.continuous);
	t_logf("%llu faults for %llu dirty granules", (unsigned long long)faults,
	       (unsigned long long)(bitmap_count(want, 0, PAGES) / GRANULE));
	free(w.log);
	free(list);
	free(want);
	free(kernel);
	wp_teardown(&f);
	return T_PASS;
}

static int join_within(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

/*
 * Moving the range between the uffds: unregistering forgets every
 * protection (so the interval ends: continuous is false and every page
 * reads as written), and a writer waiting on the hold uffd is woken by the
 * move, not left blocked.
 */
int t_track_move_forgets_and_wakes(const struct t_env *env)
{
	enum { PAGES = 64 };
	struct wp_fixture f;
	struct writer w;
	uint32_t list[1] = { 9 };

	(void)env;
	CHECK_OK(wp_setup(&f, PAGES, true, 1));
	CHECK_OK(track_protect(&f.t, 0, PAGES));
	CHECK(count_written(&f) == 0);
	CHECK_OK(track_move(&f.t, TRACK_ON_HOLD));
	CHECK(count_written(&f) == PAGES); /* the move cleared every uffd-wp bit */
	CHECK_OK(track_protect(&f.t, 0, PAGES));
	CHECK(count_written(&f) == 0);

	memset(&w, 0, sizeof(w));
	w.mem = f.mem;
	w.pages = PAGES;
	w.n_writers = 1;
	w.list = list;
	w.n_list = 1;
	w.log_cap = 4;
	w.log = calloc(w.log_cap, sizeof(*w.log));
	CHECK(w.log);
	CHECK_OK(pthread_create(&w.t, NULL, write_loop, &w));
	CHECK_OK(wait_fault(f.u.hold_fd)); /* the writer waits on the hold uffd */
	CHECK(atomic_load(&w.gen) == 0 || *(volatile uint64_t *)(f.mem + 9 * PS) == 0);
	CHECK_OK(track_move(&f.t, TRACK_ON_TRACK));
	CHECKF(join_within(w.t, H_TIMEOUT_MS) == 0, "the writer stayed blocked after the move");
	CHECK(*(volatile uint64_t *)(f.mem + 9 * PS) == 1);
	CHECK(!f.t.continuous && f.t.where == TRACK_ON_TRACK);
	free(w.log);
	wp_teardown(&f);
	return T_PASS;
}

/*
 * What a restarted agent does with a region it finds in an unknown state:
 * on the hold uffd with a writer waiting, or on neither uffd (killed
 * between the two ioctls of a move).  Afterwards the range is on the track
 * uffd, unprotected, and nobody waits.
 */
int t_track_reset_recovers(const struct t_env *env)
{
	enum { PAGES = 64 };
	struct wp_fixture f;
	struct writer w;
	uint32_t list[1] = { 5 };
	struct uffdio_range r;

	(void)env;
	CHECK_OK(wp_setup(&f, PAGES, true, 1));
	CHECK_OK(track_move(&f.t, TRACK_ON_HOLD));
	CHECK_OK(track_protect(&f.t, 0, PAGES));
	memset(&w, 0, sizeof(w));
	w.mem = f.mem;
	w.pages = PAGES;
	w.n_writers = 1;
	w.list = list;
	w.n_list = 1;
	w.log_cap = 4;
	w.log = calloc(w.log_cap, sizeof(*w.log));
	CHECK(w.log);
	CHECK_OK(pthread_create(&w.t, NULL, write_loop, &w));
	CHECK_OK(wait_fault(f.u.hold_fd));
	f.t.where = TRACK_ON_TRACK; /* a new agent does not know where the range is */
	CHECK_OK(track_reset(&f.t));
	CHECKF(join_within(w.t, H_TIMEOUT_MS) == 0, "the writer stayed blocked after the reset");
	CHECK(f.t.where == TRACK_ON_TRACK);
	CHECK(count_written(&f) == PAGES);

	/* on neither uffd */
	r = (struct uffdio_range){ (uintptr_t)f.mem, PAGES * PS };
	CHECK(ioctl(f.u.fd, UFFDIO_UNREGISTER, &r) == 0);
	CHECK_OK(track_reset(&f.t));
	CHECK_OK(track_protect(&f.t, 0, PAGES)); /* registered on the track uffd again */
	free(w.log);
	wp_teardown(&f);
	return T_PASS;
}

/*
 * Whether soft-dirty works matches the kernel's configuration when the
 * configuration can be read; it decides nothing, but it explains why the
 * agent keeps tracking regions on the hold uffd (docs/snapshots.md).
 */
int t_track_soft_dirty_probe(const struct t_env *env)
{
	const char *const argv[] = { "/bin/sh", "-c",
				     "zcat /proc/config.gz 2>/dev/null | grep -c '^CONFIG_MEM_SOFT_DIRTY=y'",
				     NULL };
	char out[64], err[256];
	int status, works = track_soft_dirty_works();

	(void)env;
	CHECK(works == 0 || works == 1);
	if (!h_run_capture(argv, out, sizeof(out), err, sizeof(err), &status) && access("/proc/config.gz", R_OK) == 0)
		CHECKF(works == (atoi(out) > 0), "probe says %d, config says \"%s\"", works, out);
	t_logf("soft-dirty %s", works ? "works" : "does not work on this kernel");
	return T_PASS;
}

/* ---- hold ------------------------------------------------------------- */

struct capture_run {
	struct hold_cfg cfg;
	unsigned writers;
	uint64_t pages;
	bool only_dirty;     /* round 1 over the tracked dirty set (a later capture) */
};

/*
 * The consistency argument of hold.c, checked: writers write generations
 * as fast as they can; the rounds reach T; at T every page is protected;
 * afterwards a page is copied before its writer goes on (faults first, the
 * rest in address order).  The copy must be memory at one instant for
 * every writer, and writers must have kept writing after T.
 */
static int capture(const struct capture_run *cr, uint64_t *rounds_out)
{
	struct wp_fixture f;
	struct writer w[4];
	struct hold h;
	uint64_t *copy = calloc(cr->pages, sizeof(uint64_t)), *saved = bitmap_new(cr->pages);
	uint64_t early = 0, late = 0, next = 0, done = 0;
	enum hold_step st;

	CHECK(copy && saved && cr->writers <= 4);
	CHECK_OK(wp_setup(&f, cr->pages, true, 1));
	for (unsigned i = 0; i < cr->writers; i++)
		CHECK_OK(writer_start(&w[i], f.mem, cr->pages, i, cr->writers, 1u << 24));
	for (unsigned i = 0; i < cr->writers; i++)
		CHECK_OK(writer_progress(&w[i], 10000));
	CHECK_OK(track_move(&f.t, TRACK_ON_HOLD));
	if (cr->only_dirty) {
		/* a previous capture protected everything; writes since lifted some pages */
		CHECK_OK(track_protect(&f.t, 0, cr->pages));
		track_restart(&f.t, now_ns());
		for (unsigned i = 0; i < 200; i++) {
			uint64_t pg[32], first, n;
			int k;

			CHECK_OK(wait_fault(f.u.hold_fd));
			k = read_faults(f.u.hold_fd, &f, pg, 32);
			for (int j = 0; j < k; j++)
				CHECK_OK(track_lift(&f.t, pg[j], &first, &n));
		}
	}
	CHECK_OK(hold_start(&h, &f.t, &cr->cfg, cr->only_dirty ? f.t.dirty : NULL));
	do {
		uint64_t pg[32];
		int k = read_faults(f.u.hold_fd, &f, pg, 32);

		CHECK(k >= 0);
		for (int j = 0; j < k; j++, early++)
			CHECK_OK(hold_lift_early(&h, pg[j]));
		st = hold_step(&h);
		CHECK(st != HOLD_FAILED);
	} while (st == HOLD_MORE);
	/* T: every page is protected, the writers are held on their next write */
	CHECKF(count_written(&f) == 0, "%llu pages unprotected at T",
	       (unsigned long long)count_written(&f));
	while (done < cr->pages) {
		uint64_t pg[32];
		int k = read_faults(f.u.hold_fd, &f, pg, 32);

		CHECK(k >= 0);
		for (int j = 0; j < k; j++) {
			if (!bitmap_test(saved, pg[j])) {
				copy[pg[j]] = *(volatile uint64_t *)(f.mem + pg[j] * PS);
				bitmap_set(saved, pg[j], 1);
				done++;
			}
			late++;
			CHECK_OK(track_unprotect(&f.t, pg[j], 1));
		}
		/* background: the next unsaved pages in address order */
		for (unsigned b = 0; b < 64 && next < cr->pages; next++) {
			if (bitmap_test(saved, next))
				continue;
			copy[next] = *(volatile uint64_t *)(f.mem + next * PS);
			bitmap_set(saved, next, 1);
			CHECK_OK(track_unprotect(&f.t, next, 1));
			done++;
			b++;
		}
	}
	for (unsigned i = 0; i < cr->writers; i++)
		CHECK_OK(writer_progress(&w[i], 1000)); /* still running after everything was saved */
	for (unsigned i = 0; i < cr->writers; i++) {
		uint64_t g, last = writer_stop(&w[i]);

		CHECK_OK(consistent_cut(&w[i], copy, &g));
		CHECKF(g > 0 && last > g, "writer %u: cut at %llu, %llu at the end", i,
		       (unsigned long long)g, (unsigned long long)last);
		free(w[i].log);
	}
	t_logf("%u round(s) (pages %llu/%llu/%llu...), final round %.3f ms, %llu faults before T,"
	       " %llu after", h.round, (unsigned long long)h.round_pages[0],
	       (unsigned long long)h.round_pages[1], (unsigned long long)h.round_pages[2],
	       (double)h.final_ns / 1e6, (unsigned long long)early, (unsigned long long)late);
	CHECK(h.round <= cr->cfg.max_rounds + 1);
	*rounds_out = h.round;
	hold_end(&h);
	free(copy);
	free(saved);
	wp_teardown(&f);
	return T_PASS;
}

int t_hold_consistent_cut(const struct t_env *env)
{
	static const struct capture_run cases[] = {
		{ .cfg = { .chunk_pages = 512, .final_pages = 64, .max_rounds = 8 }, .writers = 1,
		  .pages = 16384 },
		{ .cfg = { .chunk_pages = 64, .final_pages = 16, .max_rounds = 8 }, .writers = 2,
		  .pages = 16384 },
		{ .cfg = { .chunk_pages = 512, .final_pages = 64, .max_rounds = 8 }, .writers = 2,
		  .pages = 16384, .only_dirty = true },
		/* no convergence needed: the second round is final whatever its size */
		{ .cfg = { .chunk_pages = 512, .final_pages = 0, .max_rounds = 1 }, .writers = 2,
		  .pages = 8192 },
	};
	uint64_t rounds;

	(void)env;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_logf("case %zu: %u writer(s), %llu pages, chunk %llu, final <= %llu, rounds <= %u%s", i,
		       cases[i].writers, (unsigned long long)cases[i].pages,
		       (unsigned long long)cases[i].cfg.chunk_pages,
		       (unsigned long long)cases[i].cfg.final_pages, cases[i].cfg.max_rounds,
		       cases[i].only_dirty ? ", round 1 over the dirty set" : "");
		CHECK(capture(&cases[i], &rounds) == T_PASS);
		if (cases[i].cfg.max_rounds == 1)
			CHECK(rounds == 2);
	}
	return T_PASS;
}

/*
 * Rounds converge under a writer that keeps dirtying pages: each round
 * re-protects only what was lifted during the one before, and the final
 * round is small.
 */
int t_hold_rounds_converge(const struct t_env *env)
{
	enum { PAGES = 65536 };
	struct hold_cfg cfg = { .chunk_pages = 256, .final_pages = 256, .max_rounds = 12 };
	struct wp_fixture f;
	struct writer w;
	struct hold h;
	enum hold_step st;

	(void)env;
	CHECK_OK(wp_setup(&f, PAGES, true, 1));
	CHECK_OK(writer_start(&w, f.mem, PAGES, 0, 1, 1u << 25));
	CHECK_OK(writer_progress(&w, 10000));
	CHECK_OK(track_move(&f.t, TRACK_ON_HOLD));
	CHECK_OK(hold_start(&h, &f.t, &cfg, NULL));
	do {
		uint64_t pg[32];
		int k;

		/*
		 * Before round 1's last chunk, wait for the writer to hit a protected
		 * page: on a loaded machine it may not have run at all during the
		 * walk, and then there would be no second round to test.
		 */
		if (h.round == 1 && h.lifted_total == 0 && h.cursor + cfg.chunk_pages >= PAGES) {
			struct pollfd pf = { .fd = f.u.hold_fd, .events = POLLIN };

			CHECKF(poll(&pf, 1, 10000) == 1, "the writer did not fault on round 1's protection");
		}
		k = read_faults(f.u.hold_fd, &f, pg, 32);
		CHECK(k >= 0);
		for (int j = 0; j < k; j++)
			CHECK_OK(hold_lift_early(&h, pg[j]));
		st = hold_step(&h);
	} while (st == HOLD_MORE);
	CHECK(st == HOLD_REACHED_T);
	CHECK(h.round_pages[0] == PAGES);
	CHECKF(h.round_pages[h.round - 1] <= cfg.final_pages, "final round of %llu pages",
	       (unsigned long long)h.round_pages[h.round - 1]);
	CHECK(h.lifted_total > 0);
	t_logf("%u rounds: %llu, %llu, %llu, ... final %llu pages in %.3f ms; %llu lifted early",
	       h.round, (unsigned long long)h.round_pages[0], (unsigned long long)h.round_pages[1],
	       (unsigned long long)h.round_pages[2], (unsigned long long)h.round_pages[h.round - 1],
	       (double)h.final_ns / 1e6, (unsigned long long)h.lifted_total);
	/* let the writer go: lift everything */
	CHECK_OK(track_unprotect(&f.t, 0, PAGES));
	writer_stop(&w);
	free(w.log);
	hold_end(&h);
	wp_teardown(&f);
	return T_PASS;
}

struct mem_read {
	struct track *t;
	uint8_t *buf;
	uint64_t absent;
	int ret, done_fd;
};

static void *mem_read_main(void *arg)
{
	struct mem_read *m = arg;

	m->ret = track_read(m->t, 0, 8, m->buf, &m->absent);
	eventfd_write(m->done_fd, 1);
	return NULL;
}

/*
 * The capture copies a workload's pages on the worker that resolves its
 * faults, so the copy must never wait for a fault: a page that is not there
 * (zapped after the page table was scanned, or a uffd-wp marker) reads as
 * zeros at once instead.  process_vm_readv would wait here for ever, on a
 * fault nobody reads.  (Found by stress/snapshot: a MADV_DONTNEED whose
 * REMOVE the worker had read zapped a page between its scan and its copy.)
 */
int t_track_read_never_waits(const struct t_env *env)
{
	enum { PAGES = 8 };
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED };
	uint8_t *mem, src[PS], buf[PAGES * PS];
	struct mem_read m = { .buf = buf };
	struct uffdio_register reg;
	struct uffdio_writeprotect wp;
	struct pollfd pfd;
	struct track t;
	pthread_t th;
	int fd;

	(void)env;
	mem = mmap(NULL, PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	CHECK(fd >= 0);
	CHECK_OK(ioctl(fd, UFFDIO_API, &api));
	reg = (struct uffdio_register){ .range = { (uintptr_t)mem, PAGES * PS },
					.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP };
	CHECK_OK(ioctl(fd, UFFDIO_REGISTER, &reg));
	for (unsigned p = 0; p < PAGES; p += 2) { /* pages 0, 2, 4, 6 hold data */
		struct uffdio_copy cp = { .dst = (uintptr_t)mem + p * PS, .src = (uintptr_t)src, .len = PS };

		memset(src, 'a' + p, PS);
		CHECK_OK(ioctl(fd, UFFDIO_COPY, &cp));
	}
	/* page 5: a marker (protected while not there) */
	wp = (struct uffdio_writeprotect){ .range = { (uintptr_t)mem + 5 * PS, PS },
					   .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	CHECK_OK(ioctl(fd, UFFDIO_WRITEPROTECT, &wp));
	CHECK_OK(track_init(&t, getpid(), fd, -1, (uintptr_t)mem, PAGES, PS, reg.mode, 1));
	m.t = &t;
	m.done_fd = eventfd(0, EFD_CLOEXEC);
	CHECK(m.done_fd >= 0);
	memset(buf, 0xff, sizeof(buf));
	CHECK_OK(pthread_create(&th, NULL, mem_read_main, &m));
	pfd = (struct pollfd){ .fd = m.done_fd, .events = POLLIN };
	if (poll(&pfd, 1, H_TIMEOUT_MS) != 1) {
		pthread_detach(th);
		CHECKF(false, "reading pages that are not there waited for a fault");
	}
	pthread_join(th, NULL);
	CHECK_OK(m.ret);
	CHECKF(m.absent == 4, "%llu pages read as absent, not 4", (unsigned long long)m.absent);
	for (unsigned p = 0; p < PAGES; p++) {
		uint8_t want = p % 2 ? 0 : (uint8_t)('a' + p);

		for (unsigned i = 0; i < PS; i++)
			CHECKF(buf[p * PS + i] == want, "page %u byte %u: 0x%02x, not 0x%02x", p, i,
			       buf[p * PS + i], want);
	}
	/* no fault was raised on the way */
	CHECK(read(fd, &(struct uffd_msg){ 0 }, sizeof(struct uffd_msg)) < 0 && errno == EAGAIN);
	track_fini(&t);
	close(m.done_fd);
	close(fd);
	munmap(mem, PAGES * PS);
	return T_PASS;
}

/* ---- stopping a workload for a move (freeze.h) ---------------------------- */

#define FZ_THREADS 3

struct fz_shared {
	_Atomic uint64_t count[FZ_THREADS + 2]; /* the threads, the main thread, threads born */
};

static struct fz_shared *fz_sh;

static void *fz_count(void *arg)
{
	_Atomic uint64_t *c = arg;

	for (;;)
		atomic_fetch_add(c, 1);
	return NULL;
}

static void *fz_born(void *arg)
{
	(void)arg;
	atomic_fetch_add(&fz_sh->count[FZ_THREADS + 1], 1);
	return NULL;
}

/* The child: counting threads, and a main thread that keeps creating short-lived ones. */
static void fz_child(void)
{
	pthread_t t;

	/* its threads spin for ever: it must not outlive a test that failed or timed out */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
		_exit(3);
	for (unsigned i = 0; i < FZ_THREADS; i++)
		if (pthread_create(&t, NULL, fz_count, &fz_sh->count[i]))
			_exit(3);
	for (;;) {
		atomic_fetch_add(&fz_sh->count[FZ_THREADS], 1);
		if (!pthread_create(&t, NULL, fz_born, NULL))
			pthread_join(t, NULL);
	}
}

static void fz_read(uint64_t out[FZ_THREADS + 2])
{
	for (unsigned i = 0; i < FZ_THREADS + 2; i++)
		out[i] = atomic_load(&fz_sh->count[i]);
}

/* every counter moved past `since` within timeout_ms */
static bool fz_all_moved(const uint64_t since[FZ_THREADS + 2], int timeout_ms)
{
	uint64_t deadline = mono_now_ns() + (uint64_t)timeout_ms * 1000000u, now[FZ_THREADS + 2];

	do {
		bool all = true;

		fz_read(now);
		for (unsigned i = 0; i < FZ_THREADS + 2; i++)
			all &= now[i] > since[i];
		if (all)
			return true;
		sched_yield();
	} while (mono_now_ns() < deadline);
	return false;
}

/*
 * A stopped workload runs nothing at all - its threads, its main thread,
 * threads it creates while being stopped - and runs on when let go.
 */
int t_track_freeze_stops_every_thread(const struct t_env *env)
{
	uint64_t zero[FZ_THREADS + 2] = { 0 }, a[FZ_THREADS + 2], b[FZ_THREADS + 2];
	struct timespec pause = { .tv_nsec = 50000000 };
	struct freeze f = { 0 };
	uint64_t deadline;
	pid_t child;
	int got = 0, st;

	(void)env;
	fz_sh = mmap(NULL, sizeof(*fz_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(fz_sh != MAP_FAILED);
	child = fork();
	CHECK(child >= 0);
	if (child == 0)
		fz_child();
	CHECKF(fz_all_moved(zero, 10000), "the child's threads never ran");
	CHECKF(!freeze_begin(&f, child), "the workload cannot be stopped: %s", strerror(errno));
	deadline = mono_now_ns() + UINT64_C(10000000000);
	while ((got = freeze_poll(&f)) == 0 && mono_now_ns() < deadline)
		sched_yield();
	CHECKF(got == 1, "the workload was not stopped (%d, %s)", got, strerror(errno));
	fz_read(a);
	nanosleep(&pause, NULL); /* observed, not waited for: nothing may move meanwhile */
	fz_read(b);
	CHECKF(!memcmp(a, b, sizeof(a)), "a thread ran while the workload was stopped");
	freeze_end(&f);
	CHECKF(fz_all_moved(b, 10000), "the workload did not run on after the stop");
	kill(child, SIGKILL);
	CHECK(waitpid(child, &st, 0) == child);
	/* a workload that is gone cannot be stopped */
	CHECK(freeze_begin(&f, child) < 0 && errno == ESRCH);
	munmap(fz_sh, sizeof(*fz_sh));
	return T_PASS;
}
