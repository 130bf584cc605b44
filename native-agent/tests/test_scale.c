/*
 * Installs shared among install helpers (engine/crew.h): the helpers run
 * every piece exactly once and in parallel with the worker, and a region
 * served with helpers by several faulting threads that remove their own
 * pages in between reads exactly what a kernel mapping would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "around.h"
#include "content.h"
#include "crew.h"
#include "fault.h"
#include "harness.h"
#include "image.h"
#include "log.h"
#include "region.h"
#include "test.h"
#include "uffd.h"
#include "worker.h"

#define SEED 7

/* ---- the crew alone ---------------------------------------------------- */

struct count_ctx {
	_Atomic unsigned runs[64];
};

/* busy for about ns, as an install ioctl is */
static void busy_ns(long ns)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - t0.tv_sec) * 1000000000L + now.tv_nsec - t0.tv_nsec < ns);
}

/* a piece takes a while (an ioctl does), so that a call returning early is caught */
static void count_piece(void *ctx, unsigned i)
{
	struct count_ctx *c = ctx;

	busy_ns(20000);
	atomic_fetch_add(&c->runs[i], 1);
}

struct caller {
	pthread_t t;
	struct crew *crew;
	unsigned pieces, rounds;
	int bad; /* rounds in which a piece did not run exactly once */
};

static void *call_rounds(void *arg)
{
	struct caller *k = arg;

	for (unsigned r = 0; r < k->rounds; r++) {
		struct count_ctx c;

		for (unsigned i = 0; i < 64; i++)
			atomic_init(&c.runs[i], 0);
		crew_run(k->crew, count_piece, &c, k->pieces);
		for (unsigned i = 0; i < 64; i++) {
			if (atomic_load(&c.runs[i]) != (i < k->pieces ? 1u : 0u)) {
				k->bad++;
				break;
			}
		}
	}
	return NULL;
}

/* Every piece runs once per call, also with two callers sharing the helpers. */
int t_crew_every_piece_once(const struct t_env *env)
{
	/* spin_us 0: helpers sleep at once, every batch goes through a futex wake */
	static const struct {
		unsigned helpers, pieces, callers, spin_us;
	} cases[] = {
		{ 0, 1, 1, 20 },  { 0, 7, 1, 20 },  { 1, 2, 1, 20 }, { 1, 16, 1, 20 },
		{ 3, 5, 1, 20 },  { 3, 64, 1, 20 }, { 1, 16, 2, 20 }, { 3, 9, 2, 20 },
		{ 1, 2, 1, 0 },   { 1, 16, 2, 0 },  { 3, 9, 2, 0 },
	};
	struct log lg;

	(void)env;
	CHECK_OK(log_init(&lg, LOG_LVL_WARN, NULL));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct crew *crew = crew_start(&lg, cases[c].helpers, cases[c].spin_us);
		struct caller k[2];

		CHECK(crew && crew_helpers(crew) == cases[c].helpers);
		for (unsigned i = 0; i < cases[c].callers; i++) {
			k[i] = (struct caller){ .crew = crew, .pieces = cases[c].pieces, .rounds = 100 };
			CHECK_OK(pthread_create(&k[i].t, NULL, call_rounds, &k[i]));
		}
		for (unsigned i = 0; i < cases[c].callers; i++) {
			CHECK_OK(pthread_join(k[i].t, NULL));
			CHECKF(!k[i].bad, "case %zu (helpers %u, pieces %u, spin %u us): %d bad rounds",
			       c, cases[c].helpers, cases[c].pieces, cases[c].spin_us, k[i].bad);
		}
		CHECK(cases[c].helpers || crew_helped(crew) == 0);
		crew_stop(crew);
	}
	log_fini(&lg);
	return T_PASS;
}

struct meet_ctx {
	_Atomic int started1, ended1;
	pthread_t caller, ran1;
	bool met;
};

/*
 * piece 0 (the caller's) waits, bounded, until piece 1 has begun elsewhere;
 * piece 1 then outlasts it, so that the caller has to wait for its end
 */
static void meet_piece(void *ctx, unsigned i)
{
	struct meet_ctx *m = ctx;
	struct timespec t0, now;

	if (i == 1) {
		m->ran1 = pthread_self();
		atomic_store(&m->started1, 1);
		busy_ns(20000000L);
		atomic_store(&m->ended1, 1);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (atomic_load(&m->started1)) {
			m->met = true;
			return;
		}
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < H_TIMEOUT_MS / 1000);
}

/*
 * A helper takes a piece while the caller still runs its own: they overlap,
 * and the call returns only after the helper's piece ended.  A helper that
 * spins and one that sleeps (spin 0: woken by the post).
 */
int t_crew_pieces_overlap(const struct t_env *env)
{
	static const unsigned spins_us[] = { 20, 0 };
	struct log lg;

	(void)env;
	CHECK_OK(log_init(&lg, LOG_LVL_WARN, NULL));
	for (size_t c = 0; c < sizeof(spins_us) / sizeof(spins_us[0]); c++) {
		struct meet_ctx m = { .caller = pthread_self() };
		struct crew *crew = crew_start(&lg, 1, spins_us[c]);

		CHECK(crew);
		atomic_init(&m.started1, 0);
		atomic_init(&m.ended1, 0);
		crew_run(crew, meet_piece, &m, 2);
		CHECKF(m.met, "case %zu: piece 1 never started while piece 0 ran", c);
		CHECKF(atomic_load(&m.ended1), "case %zu: returned before the helper's piece ended", c);
		CHECK(!pthread_equal(m.ran1, m.caller));
		CHECK(crew_helped(crew) == 1);
		crew_stop(crew);
	}
	log_fini(&lg);
	return T_PASS;
}

/* ---- a region served with helpers -------------------------------------- */

enum { PAGES = 8192, CHUNK = 16, THREADS = 4, OPS = 3000, AROUND = 64 };
enum page_state { P_IMAGE, P_ZERO, P_FILLED };

struct owner {
	pthread_t t;
	unsigned idx;
	uint8_t *mem;
	unsigned seed;
	uint8_t state[PAGES];
	uint8_t fill[PAGES];
	char why[160];
};

static bool page_is(const uint8_t *p, uint8_t b)
{
	for (size_t i = 0; i < CONTENT_PAGE; i++) {
		if (p[i] != b)
			return false;
	}
	return true;
}

static bool owns(const struct owner *o, uint64_t p)
{
	return (p / CHUNK) % THREADS == o->idx;
}

static bool check_page(struct owner *o, uint64_t p)
{
	const uint8_t *a = o->mem + p * CONTENT_PAGE;
	size_t bad;

	switch (o->state[p]) {
	case P_IMAGE:
		if ((bad = content_check(SEED, p, a))) {
			snprintf(o->why, sizeof(o->why), "page %llu differs from the image at byte %zu",
				 (unsigned long long)p, bad - 1);
			return false;
		}
		return true;
	case P_ZERO:
		if (!page_is(a, 0)) {
			snprintf(o->why, sizeof(o->why), "removed page %llu does not read zero",
				 (unsigned long long)p);
			return false;
		}
		return true;
	default:
		if (!page_is(a, o->fill[p])) {
			snprintf(o->why, sizeof(o->why), "written page %llu lost its bytes",
				 (unsigned long long)p);
			return false;
		}
		return true;
	}
}

/* Random reads, writes and MADV_DONTNEED runs on the thread's own pages. */
static void *own_ops(void *arg)
{
	struct owner *o = arg;

	for (unsigned op = 0; op < OPS; op++) {
		uint64_t chunk = (uint64_t)rand_r(&o->seed) % (PAGES / CHUNK / THREADS) * THREADS + o->idx;
		uint64_t p = chunk * CHUNK + (uint64_t)rand_r(&o->seed) % CHUNK;
		unsigned kind = (unsigned)rand_r(&o->seed) % 10;

		if (kind < 6) {
			if (!check_page(o, p))
				return o;
		} else if (kind < 8) {
			uint8_t b = (uint8_t)(1 + rand_r(&o->seed) % 255);

			memset(o->mem + p * CONTENT_PAGE, b, CONTENT_PAGE);
			o->state[p] = P_FILLED;
			o->fill[p] = b;
		} else {
			/* a run within the chunk: a balloon giving pages back */
			uint64_t n = 1 + (uint64_t)rand_r(&o->seed) % (CHUNK - p % CHUNK);

			if (madvise(o->mem + p * CONTENT_PAGE, n * CONTENT_PAGE, MADV_DONTNEED)) {
				snprintf(o->why, sizeof(o->why), "madvise: %s", strerror(errno));
				return o;
			}
			memset(o->state + p, P_ZERO, n);
		}
	}
	/* everything it owns, at the end */
	for (uint64_t p = 0; p < PAGES; p++) {
		if (owns(o, p) && !check_page(o, p))
			return o;
	}
	return NULL;
}

/*
 * The race the single-reader rule guards against: fault-around windows
 * span pages of other threads, which remove them meanwhile.  With helpers
 * running the installs, a removed page must still never read image bytes:
 * with helpers that sleep between batches (spin 0: every batch a futex
 * wake, the worker waiting on a futex for their pieces) as with spinning
 * ones, with small windows and large, and without helpers.
 */
static int remove_case(unsigned helpers, unsigned spin_us, unsigned around)
{
	struct fault_cfg cfg = { .workers = 1, .spin_us = spin_us, .chunk_pages = 512,
				 .install_helpers = helpers };
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
					      UFFD_FEATURE_EVENT_REMAP };
	char dir[64], path[128], why[256];
	char *dirs[1] = { dir };
	struct owner *own = calloc(THREADS, sizeof(*own));
	struct fault_engine *e;
	struct uffdio_register reg;
	struct image *im;
	struct region *r;
	struct log lg;
	enum uffd_source src;
	uint8_t *mem;
	bool umo;
	int fd;

	CHECK(own);
	CHECK_OK(log_init(&lg, LOG_LVL_WARN, NULL));
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/image", dir);
	CHECK_OK(content_write_image(path, (uint64_t)PAGES * CONTENT_PAGE, SEED));
	CHECKF(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_OK, "image: %s", why);
	mem = mmap(NULL, (size_t)PAGES * CONTENT_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &src, &umo, NULL, 0);
	CHECK(fd >= 0);
	reg = (struct uffdio_register){ .range = { .start = (uintptr_t)mem,
						   .len = (uint64_t)PAGES * CONTENT_PAGE },
					.mode = UFFDIO_REGISTER_MODE_MISSING };
	CHECK_OK(ioctl(fd, UFFDIO_API, &api));
	CHECK_OK(ioctl(fd, UFFDIO_REGISTER, &reg));
	r = region_new(NULL, "scale", NULL, (uintptr_t)mem, (uint64_t)PAGES * CONTENT_PAGE,
		       CONTENT_PAGE);
	CHECK(r);
	r->kind = REGION_IMAGE;
	r->image = image_get(im);
	r->modes = REGION_MODE_MISSING;
	r->w.fault_around = around;
	e = fault_start(&lg, &cfg);
	CHECK(e);
	CHECK_OK(fault_attach(e, dup(fd), -1, -1, getpid(), &r, 1));
	for (unsigned i = 0; i < THREADS; i++) {
		own[i].idx = i;
		own[i].mem = mem;
		own[i].seed = SEED * 1000u + i;
		CHECK_OK(pthread_create(&own[i].t, NULL, own_ops, &own[i]));
	}
	for (unsigned i = 0; i < THREADS; i++) {
		void *failed;

		CHECK_OK(pthread_join(own[i].t, &failed));
		CHECKF(!failed, "thread %u: %s", i, own[i].why);
	}
	CHECK(region_stat(&r->st.events[RE_REMOVE]) > 0);
	t_logf("helpers %u, spin %u us, around %u: faults %llu, removes %llu, pieces run by helpers %llu",
	       helpers, spin_us, around, (unsigned long long)region_stat(&r->st.faults[RF_MISSING]),
	       (unsigned long long)region_stat(&r->st.events[RE_REMOVE]),
	       (unsigned long long)crew_helped(fault_manual_worker(e)->crew));
	fault_stop(e, NULL, NULL);
	region_put(r);
	image_put(im);
	close(fd);
	munmap(mem, (size_t)PAGES * CONTENT_PAGE);
	log_fini(&lg);
	free(own);
	return T_PASS;
}

int t_engine_helpers_remove_reads_zero(const struct t_env *env)
{
	static const struct {
		unsigned helpers, spin_us, around;
	} cases[] = { { 2, 20, 64 }, { 1, 0, 64 }, { 1, 50, 32 }, { 0, 20, 64 } };

	(void)env;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int ret = remove_case(cases[c].helpers, cases[c].spin_us, cases[c].around);

		if (ret != T_PASS)
			return ret;
	}
	return T_PASS;
}

/* ---- adaptive fault-around (engine/around.h) ----------------------------- */

/*
 * A counter once it reached want, or its value after H_TIMEOUT_MS: the
 * worker counts a fault after its install woke the thread.
 */
static uint64_t wait_stat(const _Atomic uint64_t *c, uint64_t want)
{
	struct timespec t0, now;
	uint64_t v;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((v = region_stat(c)) < want) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > H_TIMEOUT_MS / 1000)
			break;
		sched_yield();
	}
	return v;
}

/* Each fault of a sequence and the window it must get. */
int t_unit_fault_around_policy(const struct t_env *env)
{
	enum { MAXF = 8 };
	static const struct {
		const char *name;
		unsigned floor;
		uint64_t n;
		unsigned nf;
		uint64_t p[MAXF], first[MAXF], end[MAXF];
	} cases[] = {
		{ "one page never grows", 1, 1000, 3, { 5, 6, 7 }, { 5, 6, 7 }, { 6, 7, 8 } },
		{ "a run doubles up to 16 times the floor", 16, 100000, 6,
		  { 0, 16, 48, 112, 240, 496 }, { 0, 16, 48, 112, 240, 496 },
		  { 16, 48, 112, 240, 496, 752 } },
		{ "random touches keep the floor, aligned", 16, 100000, 3, { 1000, 37, 5000 },
		  { 992, 32, 4992 }, { 1008, 48, 5008 } },
		{ "a random touch does not break a run", 16, 100000, 4, { 0, 16, 3000, 48 },
		  { 0, 16, 2992, 48 }, { 16, 48, 3008, 112 } },
		{ "a skip within the window continues the run, without a gap", 16, 100000, 3,
		  { 0, 20, 60 }, { 0, 16, 48 }, { 16, 48, 112 } },
		{ "the region's end clamps", 16, 40, 2, { 0, 16 }, { 0, 16 }, { 16, 40 } },
		{ "a fifth stream evicts the oldest", 16, 100000, 6, { 0, 1000, 2000, 3000, 4000, 16 },
		  { 0, 992, 2000, 2992, 4000, 16 }, { 16, 1008, 2016, 3008, 4016, 32 } },
		{ "two threads' runs are followed apart", 16, 100000, 5, { 0, 4096, 16, 4112, 48 },
		  { 0, 4096, 16, 4112, 48 }, { 16, 4112, 48, 4144, 112 } },
		{ "the largest window is the ceiling", 512, 100000, 3, { 0, 512, 1024 },
		  { 0, 512, 1024 }, { 512, 1024, 1536 } },
		{ "a floor of 64 grows to 512", 64, 100000, 5, { 0, 64, 192, 448, 960 },
		  { 0, 64, 192, 448, 960 }, { 64, 192, 448, 960, 1472 } },
	};

	(void)env;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct around a;

		memset(&a, 0, sizeof(a));
		for (unsigned i = 0; i < cases[c].nf; i++) {
			uint64_t first, end;

			around_window(&a, cases[c].floor, cases[c].p[i], cases[c].n, &first, &end);
			CHECKF(first == cases[c].first[i] && end == cases[c].end[i],
			       "%s: fault %u at %llu got [%llu, %llu), want [%llu, %llu)", cases[c].name,
			       i, (unsigned long long)cases[c].p[i], (unsigned long long)first,
			       (unsigned long long)end, (unsigned long long)cases[c].first[i],
			       (unsigned long long)cases[c].end[i]);
		}
	}
	return T_PASS;
}

/*
 * Real faults: touches far apart install one floor window each; a
 * sequential read of another part then takes one fault per growing window.
 */
int t_engine_fault_around_adapts(const struct t_env *env)
{
	enum { N = 8192, FLOOR = 16, SEQ = 4096 };
	static const unsigned far[] = { 9, 3, 14, 0, 7, 12, 1, 5 };
	struct fault_cfg cfg = { .workers = 1, .spin_us = 20, .chunk_pages = 512,
				 .install_helpers = 1 };
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	char dir[64], path[128], why[256];
	char *dirs[1] = { dir };
	struct uffdio_register reg;
	struct fault_engine *e;
	struct image *im;
	struct region *r;
	struct log lg;
	enum uffd_source src;
	uint64_t windows = 0, faults;
	volatile uint8_t sink = 0;
	uint8_t *mem;
	bool umo;
	int fd;

	(void)env;
	CHECK_OK(log_init(&lg, LOG_LVL_WARN, NULL));
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/image", dir);
	CHECK_OK(content_write_image(path, (uint64_t)N * CONTENT_PAGE, SEED));
	CHECKF(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_OK, "image: %s", why);
	mem = mmap(NULL, (size_t)N * CONTENT_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &src, &umo, NULL, 0);
	CHECK(fd >= 0);
	reg = (struct uffdio_register){ .range = { .start = (uintptr_t)mem,
						   .len = (uint64_t)N * CONTENT_PAGE },
					.mode = UFFDIO_REGISTER_MODE_MISSING };
	CHECK_OK(ioctl(fd, UFFDIO_API, &api));
	CHECK_OK(ioctl(fd, UFFDIO_REGISTER, &reg));
	r = region_new(NULL, "around", NULL, (uintptr_t)mem, (uint64_t)N * CONTENT_PAGE,
		       CONTENT_PAGE);
	CHECK(r);
	r->kind = REGION_IMAGE;
	r->image = image_get(im);
	r->modes = REGION_MODE_MISSING;
	r->w.fault_around = FLOOR;
	e = fault_start(&lg, &cfg);
	CHECK(e);
	CHECK_OK(fault_attach(e, dup(fd), -1, -1, getpid(), &r, 1));

	/* far apart, in no order: one floor window each */
	for (unsigned i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		uint64_t p = SEQ + far[i] * 256 + 7;

		CHECK(content_check(SEED, p, mem + p * CONTENT_PAGE) == 0);
		faults = wait_stat(&r->st.faults[RF_MISSING], i + 1);
		CHECKF(faults == i + 1 && region_stat(&r->st.present) == (i + 1) * FLOOR,
		       "touch %u: %llu faults, %llu pages present", i, (unsigned long long)faults,
		       (unsigned long long)region_stat(&r->st.present));
	}
	/* in order: the window doubles along the run */
	for (uint64_t p = 0; p < SEQ; p++)
		sink ^= mem[p * CONTENT_PAGE];
	(void)sink;
	for (uint64_t p = 0, w = FLOOR; p < SEQ;
	     p += w, w = w * 2 > FLOOR * AROUND_GROWTH ? FLOOR * AROUND_GROWTH : w * 2)
		windows++;
	CHECK(windows == around_run_faults(FLOOR, SEQ));
	faults = wait_stat(&r->st.faults[RF_MISSING], sizeof(far) / sizeof(far[0]) + windows) -
		 sizeof(far) / sizeof(far[0]);
	CHECKF(faults == windows, "%llu faults for the sequential part, want %llu",
	       (unsigned long long)faults, (unsigned long long)windows);
	for (uint64_t p = 0; p < SEQ; p += 61)
		CHECK(content_check(SEED, p, mem + p * CONTENT_PAGE) == 0);
	fault_stop(e, NULL, NULL);
	region_put(r);
	image_put(im);
	close(fd);
	munmap(mem, (size_t)N * CONTENT_PAGE);
	log_fini(&lg);
	return T_PASS;
}
