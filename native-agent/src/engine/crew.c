/*
 * Install helpers; see crew.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "crew.h"
#include "mono.h"

#define LOG_COMP "fault"
#include "log.h"

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
	pthread_mutex_t mu;       /* guards batches, sleepers; claims of helpers */
	pthread_cond_t cv;
	struct crew_batch *batches;
	unsigned sleepers;
	_Atomic uint64_t posted;  /* batches listed so far: what a spinning helper watches */
	_Atomic bool stop;
	_Atomic uint64_t helped;
	uint64_t spin_ns;
	unsigned n_threads;
	pthread_t *threads;
};

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

static void *helper_main(void *arg)
{
	struct crew *c = arg;
	uint64_t seen = atomic_load(&c->posted);

	prctl(PR_SET_NAME, "fl-install");
	while (!atomic_load(&c->stop)) {
		struct crew_batch *b;
		uint64_t deadline;
		unsigned i;

		if ((b = claim(c, &i))) {
			b->fn(b->ctx, i);
			atomic_fetch_add(&c->helped, 1);
			atomic_fetch_add(&b->ended, 1); /* the last touch of b */
			continue;
		}
		/* nothing to take: spin while faults are likely near, then sleep */
		deadline = mono_now_ns() + c->spin_ns;
		while (atomic_load(&c->posted) == seen && !atomic_load(&c->stop) &&
		       mono_now_ns() < deadline)
			sched_yield();
		pthread_mutex_lock(&c->mu);
		c->sleepers++;
		while (atomic_load(&c->posted) == seen && !atomic_load(&c->stop))
			pthread_cond_wait(&c->cv, &c->mu);
		c->sleepers--;
		seen = atomic_load(&c->posted);
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

struct crew *crew_start(struct log *lg, unsigned helpers, unsigned spin_us)
{
	struct crew *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->log = lg;
	c->spin_ns = (uint64_t)spin_us * 1000u;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
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
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return NULL;
}

void crew_stop(struct crew *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	atomic_store(&c->stop, true);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (unsigned i = 0; i < c->n_threads; i++)
		pthread_join(c->threads[i], NULL);
	free(c->threads);
	pthread_cond_destroy(&c->cv);
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
	atomic_fetch_add(&c->posted, 1);
	if (c->sleepers)
		pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	i = 0;
	do {
		fn(ctx, i);
		atomic_fetch_add(&b.ended, 1);
	} while ((i = atomic_fetch_add(&b.claimed, 1)) < n);
	/* pieces a helper took: each is one ioctl, so this wait is short */
	while (atomic_load(&b.ended) < n)
		sched_yield();
	pthread_mutex_lock(&c->mu);
	for (pp = &c->batches; *pp != &b; pp = &(*pp)->next)
		;
	*pp = b.next;
	pthread_mutex_unlock(&c->mu);
}
