/*
 * Install helpers; see crew.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crew.h"
#include "mono.h"

#define LOG_COMP "fault"
#include "log.h"

/*
 * How the two sides wait.  A helper with nothing to take spins for an
 * adaptive budget (it doubles when work came within the cap, halves after
 * every empty spin: a crew whose faults stopped soon sleeps at once), then
 * sleeps on a futex: a spinning helper takes the CPU a faulting thread
 * needs when there are more runnable threads than CPUs.  The worker posts
 * a batch and wakes a sleeper only when one sleeps (one atomic load
 * otherwise).  A worker whose own pieces are done but a helper's are not
 * spins a little (the helper is usually running, the rest of one piece is
 * microseconds) and then sleeps on a futex too, so that a helper that was
 * preempted gets the CPU back instead of a worker spinning beside it.
 */
#define CREW_WAIT_SPINS 64u
#define CREW_SPIN_MIN_NS 2000u

/* One crew_run() call: lives on its caller's stack while it is listed. */
struct crew_batch {
	struct crew_batch *next;
	crew_fn fn;
	void *ctx;
	unsigned n;
	_Atomic unsigned claimed; /* next piece to take */
	_Atomic unsigned ended;   /* pieces run to their end */
};

struct crew {
	struct log *log;
	pthread_mutex_t mu;       /* guards batches: a claim and the unlisting of its batch */
	struct crew_batch *batches;
	_Atomic uint32_t posted;  /* futex: batches listed so far (wraps) */
	_Atomic unsigned sleepers; /* helpers asleep on posted, or about to be */
	_Atomic uint32_t ended;   /* futex: pieces helpers ended so far (wraps) */
	_Atomic unsigned waiters; /* callers asleep on ended, or about to be */
	_Atomic bool stop;
	_Atomic uint64_t helped;
	uint64_t spin_cap_ns;
	unsigned n_threads;
	pthread_t *threads;
};

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	/* EAGAIN (the word moved on), EINTR and spurious wake-ups: the callers loop */
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* A piece of a listed batch, claimed under the lock so that the batch outlives the claim. */
static struct crew_batch *claim(struct crew *c, unsigned *i)
{
	struct crew_batch *b;

	pthread_mutex_lock(&c->mu);
	for (b = c->batches; b; b = b->next) {
		if (atomic_load(&b->claimed) >= b->n)
			continue;
		*i = atomic_fetch_add(&b->claimed, 1);
		if (*i < b->n)
			break;
	}
	pthread_mutex_unlock(&c->mu);
	return b;
}

/* A helper's piece ended: b is not touched after its end is counted (its caller may return). */
static void end_piece(struct crew *c, struct crew_batch *b)
{
	atomic_fetch_add(&c->helped, 1);
	atomic_fetch_add(&b->ended, 1);
	atomic_fetch_add(&c->ended, 1);
	if (atomic_load(&c->waiters))
		futex_wake(&c->ended, INT_MAX);
}

/* Spins up to budget_ns for a batch after seen; true when one came. */
static bool spin_for_work(struct crew *c, uint32_t seen, uint64_t budget_ns)
{
	uint64_t deadline = mono_now_ns() + budget_ns;

	while (atomic_load(&c->posted) == seen && !atomic_load(&c->stop)) {
		if (mono_now_ns() >= deadline)
			return false;
		sched_yield();
	}
	return true;
}

static void *helper_main(void *arg)
{
	struct crew *c = arg;
	uint64_t spin_ns = c->spin_cap_ns;

	prctl(PR_SET_NAME, "fl-install");
	while (!atomic_load(&c->stop)) {
		/* read before the claim: a batch listed after it moves posted on */
		uint32_t seen = atomic_load(&c->posted);
		struct crew_batch *b;
		uint64_t slept;
		unsigned i;

		if ((b = claim(c, &i))) {
			b->fn(b->ctx, i);
			end_piece(c, b);
			continue;
		}
		if (spin_ns >= CREW_SPIN_MIN_NS && spin_for_work(c, seen, spin_ns))
			continue;
		spin_ns /= 2;
		slept = mono_now_ns();
		atomic_fetch_add(&c->sleepers, 1);
		while (atomic_load(&c->posted) == seen && !atomic_load(&c->stop))
			futex_wait(&c->posted, seen);
		atomic_fetch_sub(&c->sleepers, 1);
		/* work came within the cap: a spin would have caught it, next time */
		slept = mono_now_ns() - slept;
		if (c->spin_cap_ns && slept <= c->spin_cap_ns) {
			spin_ns = spin_ns * 2 > slept * 2 ? spin_ns * 2 : slept * 2;
			if (spin_ns < CREW_SPIN_MIN_NS)
				spin_ns = CREW_SPIN_MIN_NS;
			if (spin_ns > c->spin_cap_ns)
				spin_ns = c->spin_cap_ns;
		}
	}
	return NULL;
}

struct crew *crew_start(struct log *lg, unsigned helpers, unsigned spin_us)
{
	struct crew *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->log = lg;
	c->spin_cap_ns = (uint64_t)spin_us * 1000u;
	pthread_mutex_init(&c->mu, NULL);
	if (helpers && !(c->threads = calloc(helpers, sizeof(*c->threads))))
		goto free_crew;
	for (; c->n_threads < helpers; c->n_threads++) {
		if ((errno = pthread_create(&c->threads[c->n_threads], NULL, helper_main, c))) {
			pr_perror(lg, "cannot start an install helper");
			crew_stop(c);
			return NULL;
		}
	}
	return c;

free_crew:
	pthread_mutex_destroy(&c->mu);
	free(c);
	return NULL;
}

void crew_stop(struct crew *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	atomic_fetch_add(&c->posted, 1);
	futex_wake(&c->posted, INT_MAX);
	for (unsigned i = 0; i < c->n_threads; i++)
		pthread_join(c->threads[i], NULL);
	free(c->threads);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

unsigned crew_helpers(const struct crew *c)
{
	return c ? c->n_threads : 0;
}

uint64_t crew_helped(const struct crew *c)
{
	return c ? atomic_load(&c->helped) : 0;
}

/* Until every piece of b has ended: the ones helpers still run. */
static void wait_batch(struct crew *c, struct crew_batch *b)
{
	for (unsigned spins = 0; atomic_load(&b->ended) < b->n; spins++) {
		uint32_t seen;

		if (spins < CREW_WAIT_SPINS) {
			cpu_relax();
			continue;
		}
		seen = atomic_load(&c->ended);
		atomic_fetch_add(&c->waiters, 1);
		/* seq_cst with end_piece(): either it sees a waiter or this sees its end */
		if (atomic_load(&b->ended) < b->n)
			futex_wait(&c->ended, seen);
		atomic_fetch_sub(&c->waiters, 1);
	}
}

/*
 * Runs fn(ctx, i) for every i < n, on the caller and on helpers, and
 * returns when all have ended; piece 0 runs on the caller, first.  What a
 * piece wrote is visible to the caller afterwards (the end counter orders it).
 */
void crew_run(struct crew *c, crew_fn fn, void *ctx, unsigned n)
{
	struct crew_batch b = { .fn = fn, .ctx = ctx, .n = n };
	struct crew_batch **pp;
	unsigned i;

	if (!crew_helpers(c) || n < 2) {
		for (i = 0; i < n; i++)
			fn(ctx, i);
		return;
	}
	atomic_init(&b.claimed, 1);
	atomic_init(&b.ended, 0);
	pthread_mutex_lock(&c->mu);
	b.next = c->batches;
	c->batches = &b;
	pthread_mutex_unlock(&c->mu);
	/* seq_cst with the helper's sleepers count: either it sees the post or this sees it */
	atomic_fetch_add(&c->posted, 1);
	if (atomic_load(&c->sleepers))
		futex_wake(&c->posted, 1);
	i = 0;
	do {
		fn(ctx, i);
		atomic_fetch_add(&b.ended, 1);
	} while ((i = atomic_fetch_add(&b.claimed, 1)) < n);
	wait_batch(c, &b);
	pthread_mutex_lock(&c->mu);
	for (pp = &c->batches; *pp != &b; pp = &(*pp)->next)
		;
	*pp = b.next;
	pthread_mutex_unlock(&c->mu);
}
