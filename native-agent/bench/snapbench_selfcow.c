/*
 * faultline-snapbench's third snapshot method: copy-on-write served on the
 * writer's side, in the bench process itself: what copying on the faulting
 * CPU would buy at best, before anyone builds it into libfaultline and the
 * agent (docs/benchmarks.md "Live snapshots", stop 17).
 *
 *   - the region is registered on a uffd of the process's own, with
 *     UFFD_FEATURE_SIGBUS and write-protect mode: a write to a protected
 *     page raises SIGBUS in the writing thread instead of waiting for a
 *     reader of the uffd;
 *   - before T, the agent's protection rounds (engine/hold.h, with
 *     snapshot/snap.c's sizes): round 1 protects the whole region 16 MiB
 *     at a time while the writer runs; a write fault waits for the step in
 *     progress (as it waits for the agent's worker), then the handler lifts
 *     the granule and marks it; each next round protects what was lifted
 *     (one ioctl per run, or the whole region when there are more than 64
 *     runs) until it is at most 256 pages or 8 rounds were made;
 *   - the final round with the writer held (it stops before its next store,
 *     inside the timed store, and says how many stores it made): the end of
 *     that round is T, then the writer is let go.  (Writing the whole
 *     region at once with the writer held costs about what round 1 costs,
 *     which the output shows: on 4 KiB pages that is a pause of the order
 *     of fork()'s);
 *   - the SIGBUS handler claims the page's granule (16 pages, the agent's
 *     default), copies it into a bounded ring (the agent's 64 MiB buffer
 *     by default), lifts the protection and returns: the write goes on
 *     without any other thread running.  A granule the background is
 *     copying is waited for (futex on its state); a full ring is waited
 *     for too (futex on the image writer's progress): that is a stall
 *     like the agent's;
 *   - a background thread claims, copies and lifts in address order,
 *     leaving the last quarter of the ring to the handler (as the agent
 *     does), and an image writer thread writes the ring to the image file
 *     (raw: the region's bytes at their offsets), fsync at the end.
 *
 * A granule's state is one word: FREE (protected, to be saved), BUSY
 * (claimed; WAITED added by whoever waits for it), DONE (copied and
 * lifted).  Whoever moves it from FREE to BUSY copies it; nobody else.
 *
 * The image is verified byte for byte against the region at T, rebuilt
 * without looking at the region: the writer is the only thing that
 * changes the region after it was filled, its stores are a fixed random
 * sequence, and it says how many it made when it is held at T, so
 * replaying that many stores onto a filled copy gives the region at T
 * (sc_verify; the copy costs the region's size in memory, outside the
 * measured figures).  --selfcow-break lifts the protection before copying
 * (and the background waits 1 ms in between), to show that the check sees
 * the bytes written meanwhile.
 *
 * What it leaves out, so that it is a ceiling: no agent, no socket, no
 * checksums or image format, no incremental images, one writer thread held
 * by a flag at T rather than by freezing a process (a library would make
 * faults wait during the final round instead, as the agent does), all
 * bookkeeping in the process's own memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "snapbench.h"

enum { G_FREE = 0, G_BUSY = 1, G_DONE = 2, G_WAITED = 4 };
enum { PH_IDLE, PH_ROUNDS, PH_SAVING };
/* the agent's protection rounds (snapshot/snap.c): chunk, final size, rounds */
#define SC_ROUND_CHUNK_PAGES 4096u
#define SC_FINAL_PAGES 256u
#define SC_MAX_ROUNDS 8u
/* slots the image writer hands to one pwritev */
#define SC_IOV 64

struct selfcow {
	uint8_t *mem;
	uint64_t len, gbytes, ngran;
	int uffd;
	struct sc_cfg cfg;
	_Atomic int phase;
	/* rounds and snapshots so far: tells a retried fault of this one from an older one */
	_Atomic uint64_t gen;
	_Atomic uint32_t *gst;
	_Atomic uint8_t *lifted; /* before T: lifted since its last protection */
	_Atomic uint32_t step;   /* odd while a step of a round protects: faults wait for that step */
	_Atomic uint64_t early_lifts, early_max_ns;
	/* the ring: slots of one granule, reserved in order, written in order */
	uint8_t *ring;
	uint64_t nslots;
	_Atomic uint64_t head, tail, peak;
	_Atomic uint32_t *ready;
	uint64_t *slot_g;
	_Atomic uint32_t space_seq, space_waiters, data_seq, data_waiters;
	_Atomic uint32_t go; /* 0: threads wait; 1: T passed */
	_Atomic int err;
	int fd;
	/* figures */
	_Atomic uint64_t on_fault, ahead, waited_bg, ring_waits, ring_wait_max_ns, handler_max_ns;
	_Atomic uint64_t handler_ns; /* all handlers after T, for the writer's share of the work */
	_Atomic uint64_t copy_ns, lift_ns; /* of which the copies and the lifts */

	/* the region at T, rebuilt by replaying the writer's stores */
	uint8_t *ref;
	uint64_t ref_done, ref_x, stores_at_t;
	struct sigaction old;
};

static _Atomic(struct selfcow *) sc_cur;
/* a fault that found its granule DONE already: lifted after it was raised, once */
static __thread uintptr_t sc_retry_addr;
static __thread uint64_t sc_retry_gen;

int sb_futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	return (int)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wait_ms(_Atomic uint32_t *word, uint32_t val, long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

void sb_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void sb_freeze(struct writer *w)
{
	atomic_store(&w->freeze, 1);
	while (!atomic_load(&w->frozen))
		sb_futex_wait(&w->frozen, 0);
}

void sb_thaw(struct writer *w)
{
	atomic_store(&w->frozen, 0);
	atomic_store(&w->freeze, 0);
	sb_futex_wake(&w->freeze);
}

static void atomic_max(_Atomic uint64_t *v, uint64_t x)
{
	uint64_t cur = atomic_load_explicit(v, memory_order_relaxed);

	while (x > cur && !atomic_compare_exchange_weak(v, &cur, x))
		;
}

/* Lifts the protection of granule g; async-signal-safe. */
static int lift(struct selfcow *s, uint64_t g)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uint64_t)(uintptr_t)(s->mem + g * s->gbytes), .len = s->gbytes },
		.mode = UFFDIO_WRITEPROTECT_MODE_DONTWAKE,
	};

	if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp)) {
		atomic_store(&s->err, errno ? errno : EIO);
		return -1;
	}
	return 0;
}

/* A ring slot, waiting while more than limit are in use; async-signal-safe. */
static uint64_t reserve(struct selfcow *s, uint64_t limit, bool handler)
{
	uint64_t t0 = 0;

	for (;;) {
		uint64_t h = atomic_load(&s->head), t = atomic_load(&s->tail);
		uint32_t seq;

		if (h - t < limit) {
			if (!atomic_compare_exchange_weak(&s->head, &h, h + 1))
				continue;
			atomic_max(&s->peak, h + 1 - t);
			if (t0)
				atomic_max(&s->ring_wait_max_ns, sb_now_ns() - t0);
			return h;
		}
		if (handler && !t0) {
			t0 = sb_now_ns();
			atomic_fetch_add(&s->ring_waits, 1);
		}
		seq = atomic_load(&s->space_seq);
		atomic_fetch_add(&s->space_waiters, 1);
		if (atomic_load(&s->head) - atomic_load(&s->tail) >= limit)
			sb_futex_wait(&s->space_seq, seq);
		atomic_fetch_sub(&s->space_waiters, 1);
	}
}

/* Copies claimed granule g into the ring and lifts it; async-signal-safe. */
static void save(struct selfcow *s, uint64_t g, uint64_t limit, bool handler)
{
	uint64_t slot = reserve(s, limit, handler) % s->nslots, t0 = sb_now_ns(), t1, t2;
	uint32_t old;

	if (s->cfg.brk) {
		lift(s, g);
		/* the background leaves the writer 1 ms to write to what it is about to copy */
		while (!handler && sb_now_ns() - t0 < 1000000)
			;
	}
	memcpy(s->ring + slot * s->gbytes, s->mem + g * s->gbytes, s->gbytes);
	t1 = sb_now_ns();
	if (!s->cfg.brk)
		lift(s, g);
	t2 = sb_now_ns();
	if (handler) {
		atomic_fetch_add(&s->copy_ns, t1 - t0);
		atomic_fetch_add(&s->lift_ns, t2 - t1);
	}
	s->slot_g[slot] = g;
	atomic_store_explicit(&s->ready[slot], 1, memory_order_release);
	/* the handler makes no system call for the image writer: it looks every millisecond */
	atomic_fetch_add(&s->data_seq, 1);
	if (!handler && atomic_load(&s->data_waiters))
		sb_futex_wake(&s->data_seq);
	old = atomic_exchange(&s->gst[g], G_DONE);
	if (old & G_WAITED)
		sb_futex_wake(&s->gst[g]);
}

static void not_ours(struct selfcow *s)
{
	static const char msg[] = "faultline-snapbench: selfcow: UFFDIO_WRITEPROTECT failed\n";
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if (s && atomic_load(&s->err) && write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		(void)0;
	sigaction(SIGBUS, &dfl, NULL);
	raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct selfcow *s = atomic_load_explicit(&sc_cur, memory_order_acquire);
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved = errno;
	bool served = false;
	uint64_t g, t0 = 0;

	(void)sig;
	(void)uc;
	if (!s || si->si_code != BUS_ADRERR || a < (uintptr_t)s->mem || a >= (uintptr_t)s->mem + s->len) {
		not_ours(s);
		goto out;
	}
	g = (a - (uintptr_t)s->mem) / s->gbytes;
	if (atomic_load(&s->phase) != PH_SAVING) {
		/*
		 * Before T (a round's protection): lifted, then marked for the next
		 * round, in that order: a mark is only cleared by a round that
		 * protects the granule afterwards, so no lift goes unprotected.
		 * Out of a capture nothing is protected; the same address faulting
		 * twice in one round is not ours.
		 */
		if (!s->lifted || (sc_retry_addr == a && sc_retry_gen == atomic_load(&s->gen))) {
			not_ours(s);
			goto out;
		}
		sc_retry_addr = a;
		sc_retry_gen = atomic_load(&s->gen);
		t0 = sb_now_ns();
		{
			uint32_t v = atomic_load(&s->step);

			while ((v & 1) && atomic_load(&s->step) == v)
				sb_futex_wait(&s->step, v);
		}
		lift(s, g);
		atomic_store(&s->lifted[g], 1);
		atomic_fetch_add(&s->early_lifts, 1);
		atomic_max(&s->early_max_ns, sb_now_ns() - t0);
		if (atomic_load(&s->err))
			not_ours(s);
		goto out;
	}
	t0 = sb_now_ns();
	for (;;) {
		uint32_t v = atomic_load(&s->gst[g]);

		if (v == G_FREE) {
			if (!atomic_compare_exchange_strong(&s->gst[g], &v, G_BUSY))
				continue;
			save(s, g, s->nslots, true);
			atomic_fetch_add(&s->on_fault, 1);
			served = true;
			break;
		}
		if (v & G_BUSY) {
			if (!(v & G_WAITED) && !atomic_compare_exchange_strong(&s->gst[g], &v, v | G_WAITED))
				continue;
			if (!served)
				atomic_fetch_add(&s->waited_bg, 1);
			served = true;
			sb_futex_wait(&s->gst[g], v | G_WAITED);
			continue;
		}
		break; /* DONE */
	}
	if (!served) {
		/* lifted between the fault and now; the same fault again is not ours */
		if (sc_retry_addr == a && sc_retry_gen == atomic_load(&s->gen)) {
			not_ours(s);
			goto out;
		}
		sc_retry_addr = a;
		sc_retry_gen = atomic_load(&s->gen);
	} else {
		sc_retry_addr = 0;
	}
	if (atomic_load(&s->err))
		not_ours(s);
	t0 = sb_now_ns() - t0;
	atomic_max(&s->handler_max_ns, t0);
	atomic_fetch_add(&s->handler_ns, t0);
out:
	errno = saved;
}

static void wait_go(struct selfcow *s)
{
	while (!atomic_load(&s->go))
		sb_futex_wait(&s->go, 0);
}

static void *background(void *arg)
{
	struct selfcow *s = arg;
	uint64_t limit = s->nslots - s->nslots / 4;

	wait_go(s);
	for (uint64_t g = 0; g < s->ngran; g++) {
		uint32_t v = G_FREE;

		if (atomic_load_explicit(&s->gst[g], memory_order_relaxed) != G_FREE ||
		    !atomic_compare_exchange_strong(&s->gst[g], &v, G_BUSY))
			continue;
		save(s, g, limit ? limit : 1, false);
		atomic_fetch_add(&s->ahead, 1);
	}
	return NULL;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n <= 0)
			return -1;
		p += n, len -= (uint64_t)n, off += (uint64_t)n;
	}
	return 0;
}

static void *image_writer(void *arg)
{
	struct selfcow *s = arg;
	struct iovec iov[SC_IOV];
	uint64_t done = 0;

	wait_go(s);
	while (done < s->ngran && atomic_load(&s->err) != ECANCELED) {
		uint64_t t = atomic_load(&s->tail), g0, bytes = 0;
		unsigned n = 0;

		if (!atomic_load_explicit(&s->ready[t % s->nslots], memory_order_acquire)) {
			uint32_t seq = atomic_load(&s->data_seq);

			atomic_fetch_add(&s->data_waiters, 1);
			if (!atomic_load(&s->ready[t % s->nslots]) && atomic_load(&s->err) != ECANCELED)
				futex_wait_ms(&s->data_seq, seq, 1);
			atomic_fetch_sub(&s->data_waiters, 1);
			continue;
		}
		g0 = s->slot_g[t % s->nslots];
		while (n < SC_IOV && t + n < atomic_load(&s->head)) {
			uint64_t slot = (t + n) % s->nslots;

			if (!atomic_load_explicit(&s->ready[slot], memory_order_acquire) || s->slot_g[slot] != g0 + n)
				break;
			iov[n].iov_base = s->ring + slot * s->gbytes;
			iov[n].iov_len = s->gbytes;
			bytes += s->gbytes;
			n++;
		}
		if (!atomic_load(&s->err) && pwritev(s->fd, iov, (int)n, (off_t)(g0 * s->gbytes)) != (ssize_t)bytes) {
			for (unsigned i = 0; i < n; i++) {
				if (pwrite_all(s->fd, iov[i].iov_base, s->gbytes, (g0 + i) * s->gbytes))
					atomic_store(&s->err, errno ? errno : EIO);
			}
		}
		for (unsigned i = 0; i < n; i++)
			atomic_store(&s->ready[(t + i) % s->nslots], 0);
		atomic_store(&s->tail, t + n);
		done += n;
		atomic_fetch_add(&s->space_seq, 1);
		if (atomic_load(&s->space_waiters))
			sb_futex_wake(&s->space_seq);
	}
	if (fsync(s->fd))
		atomic_store(&s->err, errno);
	return NULL;
}

static uint64_t self_kib(const char *key)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtoull(line + strlen(key) + 1, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

int sc_open(struct selfcow **out, uint8_t *mem, uint64_t len, const struct sc_cfg *cfg)
{
	struct selfcow *s = calloc(1, sizeof(*s));
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)mem, len },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect unwp = { .range = reg.range, .mode = 0 };
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART };
	const char *what = "out of memory";

	*out = NULL;
	if (!s)
		goto fail;
	s->uffd = -1;
	s->fd = -1;
	s->ref = MAP_FAILED;
	s->mem = mem;
	s->len = len;
	s->cfg = *cfg;
	s->gbytes = (uint64_t)cfg->granule_pages * SB_PS;
	if (!s->gbytes || len % s->gbytes || cfg->ring_bytes < s->gbytes) {
		what = "the region must be a multiple of the granule, the ring at least one granule";
		errno = EINVAL;
		goto fail;
	}
	s->ngran = len / s->gbytes;
	s->nslots = cfg->ring_bytes / s->gbytes;
	what = "userfaultfd";
	s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0)
		goto fail;
	what = "UFFDIO_API (SIGBUS + PAGEFAULT_FLAG_WP)";
	if (ioctl(s->uffd, UFFDIO_API, &api))
		goto fail;
	if ((api.features & (UFFD_FEATURE_SIGBUS | UFFD_FEATURE_PAGEFAULT_FLAG_WP)) !=
	    (UFFD_FEATURE_SIGBUS | UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		errno = ENOTSUP;
		goto fail;
	}
	what = "UFFDIO_REGISTER (write-protect mode; is the range on another uffd?)";
	if (ioctl(s->uffd, UFFDIO_REGISTER, &reg))
		goto fail;
	if (!(reg.ioctls & (UINT64_C(1) << _UFFDIO_WRITEPROTECT))) {
		errno = ENOTSUP;
		what = "UFFDIO_WRITEPROTECT on this range";
		goto fail;
	}
	what = "sigaction(SIGBUS)";
	if (sigaction(SIGBUS, &sa, &s->old))
		goto fail;
	atomic_store(&sc_cur, s);
	what = "UFFDIO_WRITEPROTECT (clear)";
	if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &unwp))
		goto fail_sig;
	/* the reference: the region as filled, stores replayed onto it as needed */
	what = "the reference copy";
	s->ref = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->ref == MAP_FAILED)
		goto fail_sig;
	madvise(s->ref, len, MADV_HUGEPAGE);
	memset(s->ref, SB_FILL, len);
	s->ref_x = SB_SEED;
	*out = s;
	return 0;

fail_sig:
	atomic_store(&sc_cur, NULL);
	sigaction(SIGBUS, &s->old, NULL);
fail:
	fprintf(stderr, "faultline-snapbench: writer-side copy: %s: %s\n", what, strerror(errno));
	if (s && s->uffd >= 0)
		close(s->uffd);
	if (s && s->ref != MAP_FAILED)
		munmap(s->ref, len);
	free(s);
	return -1;
}

static int protect(struct selfcow *s, uint64_t off, uint64_t len)
{
	struct uffdio_writeprotect wp = { .range = { (uint64_t)(uintptr_t)(s->mem + off), len },
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

	if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp)) {
		fprintf(stderr, "faultline-snapbench: writer-side copy: UFFDIO_WRITEPROTECT: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* A step of a round: write faults wait until it is over (as they wait for the agent's worker). */
static void step_begin(struct selfcow *s)
{
	atomic_fetch_add(&s->step, 1);
}

static void step_end(struct selfcow *s)
{
	atomic_fetch_add(&s->step, 1);
	sb_futex_wake(&s->step);
}

/*
 * Protects again what was lifted since, in one step: runs of granules, one
 * ioctl each, or the whole region in one when there are more runs than
 * SC_RUNS_WHOLE (each ioctl flushes the TLB; protecting a protected page
 * changes nothing).  -1, or the granules that were lifted.
 */
#define SC_RUNS_WHOLE 64u
static int64_t protect_lifted(struct selfcow *s)
{
	uint64_t runs = 0, n = 0;

	for (uint64_t g = 0; g < s->ngran; g++) {
		if (atomic_load_explicit(&s->lifted[g], memory_order_relaxed)) {
			n++;
			runs += !g || !atomic_load_explicit(&s->lifted[g - 1], memory_order_relaxed);
		}
	}
	if (runs > SC_RUNS_WHOLE) {
		/* marks cleared first: a lift after this is protected by the next round */
		for (uint64_t g = 0; g < s->ngran; g++)
			atomic_store_explicit(&s->lifted[g], 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		return protect(s, 0, s->len) ? -1 : (int64_t)n;
	}
	n = 0;
	for (uint64_t g = 0; g < s->ngran;) {
		uint64_t e = g;

		while (e < s->ngran && atomic_load_explicit(&s->lifted[e], memory_order_relaxed) &&
		       atomic_exchange(&s->lifted[e], 0))
			e++;
		if (e > g) {
			if (protect(s, g * s->gbytes, (e - g) * s->gbytes))
				return -1;
			n += (int64_t)(e - g);
		}
		g = e + 1;
	}
	return n;
}

static uint64_t count_lifted(const struct selfcow *s)
{
	uint64_t n = 0;

	for (uint64_t g = 0; g < s->ngran; g++)
		n += atomic_load_explicit(&s->lifted[g], memory_order_relaxed);
	return n;
}

/*
 * The rounds before T, as the agent's (engine/hold.h): the whole region
 * protected a chunk at a time while the writer runs (its faults lift the
 * granule and mark it), then again what was lifted, until it is small or
 * rounds run out.  The final round is the caller's, with the writer held.
 */
static int rounds(struct selfcow *s, struct sc_stats *st)
{
	uint64_t chunk = (uint64_t)SC_ROUND_CHUNK_PAGES * SB_PS, t0 = sb_now_ns();

	atomic_fetch_add(&s->gen, 1);
	atomic_store(&s->phase, PH_ROUNDS);
	for (uint64_t off = 0; off < s->len; off += chunk) {
		int r;

		step_begin(s);
		r = protect(s, off, s->len - off < chunk ? s->len - off : chunk);
		step_end(s);
		if (r)
			return -1;
	}
	st->round1_ms = (double)(sb_now_ns() - t0) / 1e6;
	st->rounds = 1;
	while (count_lifted(s) * s->cfg.granule_pages > SC_FINAL_PAGES && st->rounds < SC_MAX_ROUNDS) {
		int64_t r;

		atomic_fetch_add(&s->gen, 1);
		step_begin(s);
		r = protect_lifted(s);
		step_end(s);
		if (r < 0)
			return -1;
		st->rounds++;
	}
	return 0;
}

int sc_take(struct selfcow *s, struct writer *w, const char *file, struct sc_stats *st)
{
	pthread_t bg, iw;
	int64_t final;
	bool bg_up = false, iw_up = false;
	uint64_t rss0, t0, tf, tp0, tp1, t_thaw, t1;
	int fd, ret = -1;

	memset(st, 0, sizeof(*st));
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "faultline-snapbench: %s: %s\n", file, strerror(errno));
		return -1;
	}
	/* peak RSS from here: the ring and the states are the method's extra memory */
	{
		int c = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

		if (c >= 0) {
			if (write(c, "5", 1) != 1)
				(void)0;
			close(c);
		}
	}
	rss0 = self_kib("VmRSS");
	s->fd = fd;
	s->gen++;
	s->nslots = s->cfg.ring_bytes / s->gbytes;
	/* allocated (and touched) before T, as a library would */
	s->ring = mmap(NULL, s->nslots * s->gbytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	s->ready = calloc(s->nslots, sizeof(*s->ready));
	s->slot_g = calloc(s->nslots, sizeof(*s->slot_g));
	s->gst = calloc(s->ngran, sizeof(*s->gst));
	s->lifted = calloc(s->ngran, sizeof(*s->lifted));
	if (s->ring == MAP_FAILED || !s->ready || !s->slot_g || !s->gst || !s->lifted) {
		fprintf(stderr, "faultline-snapbench: writer-side copy: out of memory\n");
		goto out;
	}
	atomic_store(&s->head, 0);
	atomic_store(&s->tail, 0);
	atomic_store(&s->peak, 0);
	atomic_store(&s->go, 0);
	atomic_store(&s->err, 0);
	atomic_store(&s->on_fault, 0);
	atomic_store(&s->ahead, 0);
	atomic_store(&s->waited_bg, 0);
	atomic_store(&s->ring_waits, 0);
	atomic_store(&s->ring_wait_max_ns, 0);
	atomic_store(&s->handler_max_ns, 0);
	atomic_store(&s->handler_ns, 0);
	atomic_store(&s->copy_ns, 0);
	atomic_store(&s->lift_ns, 0);
	atomic_store(&s->early_lifts, 0);
	atomic_store(&s->early_max_ns, 0);
	if (pthread_create(&bg, NULL, background, s))
		goto out;
	bg_up = true;
	if (pthread_create(&iw, NULL, image_writer, s))
		goto out;
	iw_up = true;

	/* the rounds, then T: the writer held, the rest protected, the writer let go */
	t0 = sb_now_ns();
	if (rounds(s, st))
		goto out;
	tf = sb_now_ns();
	sb_freeze(w);
	s->stores_at_t = w->stores_at_freeze;
	tp0 = sb_now_ns();
	atomic_fetch_add(&s->gen, 1);
	final = protect_lifted(s);
	if (final < 0) {
		sb_thaw(w);
		goto out;
	}
	tp1 = sb_now_ns();
	atomic_store(&s->phase, PH_SAVING);
	sb_thaw(w);
	t_thaw = sb_now_ns();
	atomic_store(&s->go, 1);
	sb_futex_wake(&s->go);
	ret = 0;
out:
	if (!ret || bg_up || iw_up) {
		if (ret) {
			/* never reached T: nothing protected, let the threads go through an empty ring */
			for (uint64_t g = 0; s->gst && g < s->ngran; g++)
				atomic_store(&s->gst[g], G_BUSY);
			atomic_store(&s->err, ECANCELED);
			atomic_store(&s->go, 1);
			sb_futex_wake(&s->go);
			atomic_fetch_add(&s->data_seq, 1);
			sb_futex_wake(&s->data_seq);
		}
		if (bg_up)
			pthread_join(bg, NULL);
		if (iw_up)
			pthread_join(iw, NULL);
	}
	atomic_store(&s->phase, PH_IDLE);
	if (ret && s->lifted) {
		/* failed before T: nothing stays protected */
		struct uffdio_writeprotect un = { .range = { (uint64_t)(uintptr_t)s->mem, s->len } };

		ioctl(s->uffd, UFFDIO_WRITEPROTECT, &un);
	}
	if (!ret) {
		t1 = sb_now_ns();
		st->pause_ms = (double)(tp1 - tp0) / 1e6;
		st->freeze_ms = (double)(t_thaw - tf) / 1e6;
		st->final_granules = (uint64_t)final;
		st->early_lifts = atomic_load(&s->early_lifts);
		st->early_max_us = (double)atomic_load(&s->early_max_ns) / 1e3;
		st->duration_ms = (double)(t1 - t0) / 1e6;
		st->extra_mib = (double)(self_kib("VmHWM") - rss0) / 1024.0;
		st->on_fault = atomic_load(&s->on_fault);
		st->ahead = atomic_load(&s->ahead);
		st->waited_bg = atomic_load(&s->waited_bg);
		st->ring_waits = atomic_load(&s->ring_waits);
		st->ring_wait_max_us = (double)atomic_load(&s->ring_wait_max_ns) / 1e3;
		st->handler_max_us = (double)atomic_load(&s->handler_max_ns) / 1e3;
		st->handler_ms = (double)atomic_load(&s->handler_ns) / 1e6;
		st->copy_ms = (double)atomic_load(&s->copy_ns) / 1e6;
		st->lift_ms = (double)atomic_load(&s->lift_ns) / 1e6;
		st->ring_peak_bytes = atomic_load(&s->peak) * s->gbytes;
		if (atomic_load(&s->err)) {
			fprintf(stderr, "faultline-snapbench: writer-side copy failed: %s\n",
				strerror(atomic_load(&s->err)));
			ret = -1;
		} else if (st->on_fault + st->ahead != s->ngran) {
			fprintf(stderr, "faultline-snapbench: writer-side copy saved %llu granules of %llu\n",
				(unsigned long long)(st->on_fault + st->ahead), (unsigned long long)s->ngran);
			ret = -1;
		}
	}
	if (s->ring != MAP_FAILED && s->ring)
		munmap(s->ring, s->nslots * s->gbytes);
	s->ring = NULL;
	free((void *)s->ready);
	free(s->slot_g);
	free((void *)s->gst);
	free((void *)s->lifted);
	s->lifted = NULL;
	s->ready = NULL;
	s->slot_g = NULL;
	s->gst = NULL;
	close(fd);
	s->fd = -1;
	return ret;
}

int sc_verify(struct selfcow *s, const char *file, struct sc_stats *st)
{
	uint64_t pages = s->len / SB_PS, chunk = UINT64_C(4) << 20;
	uint8_t *buf = malloc(chunk);
	int fd = open(file, O_RDONLY | O_CLOEXEC), ret = -1;
	struct stat sb;

	st->bad_pages = 0;
	st->first_bad_page = UINT64_MAX;
	if (!buf || fd < 0 || fstat(fd, &sb) || (uint64_t)sb.st_size != s->len) {
		fprintf(stderr, "faultline-snapbench: writer-side copy: the image %s is missing or not %llu"
			" bytes\n", file, (unsigned long long)s->len);
		goto out;
	}
	/* the region at T: the stores the writer made before it was held */
	while (s->ref_done < s->stores_at_t) {
		uint64_t off = sb_next_store(&s->ref_x, pages);

		*(uint64_t *)(s->ref + off) = s->ref_x;
		s->ref_done++;
	}
	for (uint64_t off = 0; off < s->len; off += chunk) {
		uint64_t n = s->len - off < chunk ? s->len - off : chunk;

		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n) {
			fprintf(stderr, "faultline-snapbench: writer-side copy: cannot read the image back\n");
			goto out;
		}
		for (uint64_t p = 0; p < n; p += SB_PS) {
			if (memcmp(buf + p, s->ref + off + p, SB_PS)) {
				if (st->first_bad_page == UINT64_MAX)
					st->first_bad_page = (off + p) / SB_PS;
				st->bad_pages++;
			}
		}
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

void sc_close(struct selfcow *s)
{
	struct uffdio_range range;

	if (!s)
		return;
	range.start = (uint64_t)(uintptr_t)s->mem;
	range.len = s->len;
	ioctl(s->uffd, UFFDIO_UNREGISTER, &range);
	close(s->uffd);
	atomic_store(&sc_cur, NULL);
	sigaction(SIGBUS, &s->old, NULL);
	munmap(s->ref, s->len);
	free(s);
}
