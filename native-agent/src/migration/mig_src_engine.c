/*
 * The migration source as a strategy of the fault engine (strategy.h): the
 * region's fault worker alone reads its uffds and protects, lifts and
 * wakes its pages; the job thread (mig_src.c) decides rounds and the
 * switchover and asks the worker for them through mig_src_ask(), then
 * sends what the answer put into todo.
 *
 * At its start the job checks once that the workload's threads can be
 * stopped (freeze.h), which decides how writes are tracked (mig_src.c):
 *   - SRC_MODE_ASYNC: on the track uffd.  A round is one PAGEMAP_SCAN
 *     that reports and re-protects what was written.  The switchover stops
 *     the workload (polled from step(), faults are served meanwhile),
 *     scans a last time, moves the range to the hold uffd, protects every
 *     page and lets the workload go on: its writers then wait there.
 *   - SRC_MODE_HOLD: on the hold uffd for the whole job.  A write to a
 *     protected page lifts its granule and marks it dirty; at a round's
 *     start the dirty set joins todo and is protected again, so that the
 *     job thread reads every page of todo after its protection; the
 *     switchover takes the last dirty set the same way and from then on
 *     lifts nothing.
 * After the job, a region that switched over stays held
 * (mig_held_strategy) until the workload lets go of it.
 *
 * Threads: every hook runs on the region's worker (it is also the thread
 * that traces the workload during a stop); the job's bitmaps are shared
 * with the job thread under m->mu.  `holding` is written by the worker
 * only, so the worker reads it without the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent.h"
#include "bitmap.h"
#include "freeze.h"
#include "mono.h"
#include "mig.h"
#include "region.h"
#include "strategy.h"
#include "track.h"
#include "ufd.h"
#include "worker.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_src.h"

static struct mig_src *src_of(const struct region *r)
{
	return r->w.strat == &mig_src_strategy ? r->w.strat_ctx : NULL;
}

static void watch(struct ufd *u, struct mig_src *s, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &u->strat_tag };

	if (epoll_ctl(u->w->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->req_fd, on ? &ev : NULL) && on)
		pr_pwarn(u->w->log, "cannot watch the migration's requests");
}

/* ---- after the job: held for good -------------------------------------- */

/*
 * A region that switched over runs on the destination: its writers here
 * must never go on, also after the job is gone (deleted, or the agent's
 * migration side stopped).  Nothing is lifted; a removal or a move of the
 * region changes nothing any more.
 */
static void held_start(struct ufd *u, struct region *r, void *ctx)
{
	(void)u;
	r->w.strat = &mig_held_strategy;
	r->w.strat_ctx = ctx;
}

static void held_refuse(struct fault_engine *e, struct region *r, void *ctx, int code,
			const char *why)
{
	(void)e, (void)r, (void)ctx, (void)code, (void)why;
}

static bool held_runnable(const struct region *r)
{
	(void)r;
	return false;
}

static void held_step(struct ufd *u, struct region *r)
{
	(void)u, (void)r;
}

/* left unanswered: the writer waits for good on this host */
static enum install_res held_write_fault(struct ufd *u, struct region *r, uint64_t page,
					 uint64_t read_ns)
{
	(void)u, (void)r, (void)page, (void)read_ns;
	return INSTALL_OK;
}

static void held_wake(struct ufd *u, struct region *r)
{
	(void)u, (void)r;
}

static void held_abort(struct ufd *u, struct region *r, int code, const char *why)
{
	(void)u, (void)code, (void)why;
	r->w.strat = NULL;
	r->w.strat_ctx = NULL;
}

static bool held_protects_all(const struct region *r)
{
	(void)r;
	return true;
}

static bool held_pages_removed(struct ufd *u, struct region *r, uint64_t first, uint64_t n)
{
	(void)u, (void)r, (void)first, (void)n;
	return true;
}

const struct region_strategy mig_held_strategy = {
	.name = "migration (switched over, held)",
	.start = held_start,
	.refuse = held_refuse,
	.runnable = held_runnable,
	.step = held_step,
	.write_fault = held_write_fault,
	.wake = held_wake,
	.abort = held_abort,
	.protects_all = held_protects_all,
	.pages_removed = held_pages_removed,
};

/* ---- letting go -------------------------------------------------------- */

/*
 * The region as if the job had never been: on its track uffd, nothing
 * protected, every waiting writer woken; pages released while it moved
 * read zero (ufd_after_move).
 */
static void give_back(struct ufd *u, struct region *r, struct mig_src *s)
{
	struct track *t = r->w.wp;

	if (!t)
		return;
	if (track_reset(t))
		pr_pwarn(u->w->log, "cannot give the region back to its track uffd",
			 LF_STR("migration", s->m->id), LF_STR("region", r->id));
	u->fd = track_fd(t);
	if (ufd_after_move(u, r))
		pr_pwarn(u->w->log, "cannot read the page table after giving the region back",
			 LF_STR("region", r->id));
}

/*
 * The worker lets go of the job: it never touches s (or its job) again,
 * which the loop thread may free as soon as engine_gone is set.
 */
static void let_go(struct ufd *u, struct region *r, struct mig_src *s, const char *why)
{
	struct mig *m = s->m;
	bool keep;

	freeze_end(&s->fz);
	s->fz_for = SRC_FZ_NONE;
	mig_src_thr_end(u, s, "stopped");
	watch(u, s, false);
	if (s->region_granule && r->w.wp) {
		r->w.wp->granule = s->region_granule; /* live captures lift the region's own again */
		s->region_granule = 0;
	}
	pthread_mutex_lock(&m->mu);
	keep = s->holding && !s->give_back;
	pthread_mutex_unlock(&m->mu);
	if (keep) {
		r->w.strat = &mig_held_strategy;
		r->w.strat_ctx = NULL;
	} else {
		give_back(u, r, s);
		r->w.strat = NULL;
		r->w.strat_ctx = NULL;
	}
	pthread_mutex_lock(&m->mu);
	s->engine_on = false;
	s->engine_gone = true;
	snprintf(s->engine_why, sizeof(s->engine_why), "%s", why);
	s->req_done = s->req_seq;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

/* ---- start ------------------------------------------------------------- */

static void engine_on(struct mig_src *s, enum mig_src_mode mode)
{
	pthread_mutex_lock(&s->m->mu);
	s->mode = mode;
	s->m->st.tracking = mode == SRC_MODE_ASYNC ? "async" : "hold";
	s->engine_on = true;
	pthread_cond_broadcast(&s->m->cond);
	pthread_mutex_unlock(&s->m->mu);
}

/*
 * Tracking on the hold uffd for the whole job (the fallback).  A write
 * fault lifts the job's granule_pages, not the region's granule (the
 * agent's --track-granule-pages, for live captures): let_go() gives that
 * back.  Migrated regions have base pages, so the job's pages are the
 * track's.
 */
static void start_on_hold(struct ufd *u, struct region *r, struct mig_src *s)
{
	struct track *t = r->w.wp;

	if (!s->region_granule)
		s->region_granule = t->granule;
	t->granule = s->m->granule;
	if (t->where != TRACK_ON_HOLD) {
		if (track_move(t, TRACK_ON_HOLD)) {
			char why[160];

			snprintf(why, sizeof(why), "cannot move the region to its hold uffd: %s", strerror(errno));
			let_go(u, r, s, why);
			return;
		}
		u->fd = track_fd(t);
		if (ufd_after_move(u, r)) {
			let_go(u, r, s, "cannot read the page table after moving the region to its hold uffd");
			return;
		}
	}
	engine_on(s, SRC_MODE_HOLD);
}

/*
 * Tracking on the track uffd (the workload could be stopped: see
 * freeze.h).  A capture may have left the range on the hold uffd: it goes
 * back, unprotected (round 1 sends every page anyway).
 */
static void start_async(struct ufd *u, struct region *r, struct mig_src *s)
{
	struct track *t = r->w.wp;

	if (t->where != TRACK_ON_TRACK) {
		if (track_reset(t)) {
			char why[160];

			snprintf(why, sizeof(why), "cannot move the region to its track uffd: %s", strerror(errno));
			let_go(u, r, s, why);
			return;
		}
		u->fd = track_fd(t);
		if (ufd_after_move(u, r)) {
			let_go(u, r, s, "cannot read the page table after moving the region to its track uffd");
			return;
		}
	}
	engine_on(s, SRC_MODE_ASYNC);
}

static void src_start(struct ufd *u, struct region *r, void *ctx)
{
	struct mig_src *s = ctx;
	struct track *t = r->w.wp;

	r->w.strat = &mig_src_strategy;
	r->w.strat_ctx = s;
	watch(u, s, true);
	if (s->resumed_held) {
		/* held since before the agent restarted: writers wait, nothing is tracked */
		pthread_mutex_lock(&s->m->mu);
		s->holding = true;
		pthread_mutex_unlock(&s->m->mu);
		engine_on(s, SRC_MODE_HOLD);
		return;
	}
	if (!t || r->w.failed) {
		let_go(u, r, s, !t ? "the region cannot be tracked (see the agent's log)"
				   : "the region is not served any more (installs failed)");
		return;
	}
	if (s->m->track_on_hold) {
		start_on_hold(u, r, s);
		return;
	}
	/* whether the workload can be stopped for the switchover: once, now (step() ends it) */
	if (freeze_begin(&s->fz, r->pid)) {
		pr_pwarn(u->w->log, "cannot stop the workload's threads (ptrace); the migration tracks "
			 "writes on the hold uffd, one fault per first write per granule and round",
			 LF_STR("migration", s->m->id), LF_INT("pid", r->pid));
		mig_src_thr_failed(u, s, EPERM);
		start_on_hold(u, r, s);
		return;
	}
	s->fz_for = SRC_FZ_PROBE;
}

static void src_refuse(struct fault_engine *e, struct region *r, void *ctx, int code,
		       const char *why)
{
	struct mig_src *s = ctx;

	(void)e, (void)r, (void)code;
	pthread_mutex_lock(&s->m->mu);
	s->engine_gone = true;
	snprintf(s->engine_why, sizeof(s->engine_why), "the region is busy with a %s", why);
	pthread_cond_broadcast(&s->m->cond);
	pthread_mutex_unlock(&s->m->mu);
}

/* ---- rounds and the hold ----------------------------------------------- */

/*
 * What was written since its protection joins todo and is protected again
 * (hold: and from now on nothing is lifted).  A protection that fails
 * leaves its pages dirty as well, so the next round sends them again.
 */
static int take_dirty(struct region *r, struct mig_src *s, bool hold)
{
	struct mig *m = s->m;
	uint64_t words = BITMAP_WORDS(m->n_pages), *d = bitmap_new(m->n_pages), p, q;
	int err = 0;

	if (!d)
		return ENOMEM;
	pthread_mutex_lock(&m->mu);
	if (hold && !s->holding) {
		s->holding = true;
		m->st.switchover_at_ms = jx_now_ms();
	}
	s->round_taken = 0;
	for (uint64_t i = 0; i < words; i++) {
		d[i] = s->dirty[i];
		s->dirty[i] = 0;
		s->round_taken += (uint64_t)__builtin_popcountll(d[i] & ~s->todo[i]);
		s->todo[i] |= d[i];
	}
	pthread_mutex_unlock(&m->mu);
	for (p = bitmap_next_set(d, 0, m->n_pages); p < m->n_pages;
	     p = bitmap_next_set(d, q, m->n_pages)) {
		q = p;
		while (q < m->n_pages && bitmap_test(d, q))
			q++;
		if (track_protect(r->w.wp, p, q - p)) {
			err = errno;
			pthread_mutex_lock(&m->mu);
			for (uint64_t i = 0; i < words; i++)
				s->dirty[i] |= d[i];
			pthread_mutex_unlock(&m->mu);
			break;
		}
	}
	free(d);
	return err;
}

/*
 * A round on the track uffd: PAGEMAP_SCAN reports what was written since
 * the last scan (no uffd-wp bit) and protects it again in the same walk,
 * so that a write racing with the scan is reported now or next time.
 */
static int scan_round(struct region *r, struct mig_src *s)
{
	struct mig *m = s->m;
	uint64_t words = BITMAP_WORDS(m->n_pages), *d = bitmap_new(m->n_pages), taken = 0;

	if (!d)
		return ENOMEM;
	if (track_written(r->w.wp, 0, m->n_pages, d, true)) {
		int err = errno;

		free(d);
		return err;
	}
	pthread_mutex_lock(&m->mu);
	for (uint64_t i = 0; i < words; i++) {
		uint64_t add = (d[i] | s->dirty[i]) & ~s->todo[i];

		taken += (uint64_t)__builtin_popcountll(add);
		s->todo[i] |= d[i] | s->dirty[i];
		s->dirty[i] = 0;
	}
	s->round_taken = taken;
	pthread_mutex_unlock(&m->mu);
	free(d);
	return 0;
}

#ifdef FAULTLINE_FAULT_INJECTION
/*
 * Test builds only (build/faultline-agent-inject): FAULTLINE_INJECT=mig-gap
 * switches over without stopping the workload and widens the window
 * between the last scan and the protection on the hold uffd, so that
 * tests/test_mig_core.c can show that its writer catches an uncovered gap.
 */
static bool inject_gap(void)
{
	const char *v = getenv("FAULTLINE_INJECT");

	return v && !strcmp(v, "mig-gap");
}
#else
static bool inject_gap(void)
{
	return false;
}
#endif

static void reply(struct mig_src *s, uint64_t seq, int err);

/*
 * The switchover on the track uffd.  exact: the workload is stopped, so
 * nothing is written between the last scan and the protection on the
 * hold uffd, and what the scan reports is the final dirty set.  Else
 * (the workload could not be stopped) every page is taken as stale: the
 * destination gets all of them after the switchover, which is slow but
 * never wrong.
 *
 * tell (a request's seq, the workload stopped): the job thread is answered
 * as soon as the dirty set is final, before the move and the protection
 * (which walk every page table entry twice, tens of ms per GiB), so the
 * destination runs while the stopped workload is moved onto the hold uffd.
 * Nothing of the workload runs until freeze_end(): its memory cannot change
 * meanwhile, and the job reads it through /proc only.  A move or protection
 * that fails after that keeps the workload stopped (`stuck`) until the job
 * ends: it must never write unseen once the destination runs.
 *
 * Without tell, on failure the range is left where it is and nothing is held.
 */
static int switch_async(struct ufd *u, struct region *r, struct mig_src *s, bool exact, uint64_t tell)
{
	struct mig *m = s->m;
	struct track *t = r->w.wp;
	uint64_t words = BITMAP_WORDS(m->n_pages), *d = bitmap_new(m->n_pages);
	uint64_t t0 = mono_now_ns(), t1, t2, t3;
	int err = 0;

	if (!d)
		return ENOMEM;
	if (!exact)
		bitmap_set(d, 0, m->n_pages);
	else if (track_written(t, 0, m->n_pages, d, false))
		goto fail;
	t1 = mono_now_ns();
	if (tell) {
		pthread_mutex_lock(&m->mu);
		for (uint64_t i = 0; i < words; i++) {
			s->todo[i] |= d[i] | s->dirty[i];
			s->dirty[i] = 0;
		}
		s->holding = true; /* nothing runs; from freeze_end() on, writers wait */
		/* the downtime starts when the workload's threads were told to stop (§1.9) */
		m->st.switchover_at_ms = jx_now_ms() - (mono_now_ns() - s->fz.begin_ns) / 1000000u;
		pthread_mutex_unlock(&m->mu);
		reply(s, tell, 0);
	}
	if (inject_gap()) {
		struct timespec gap = { .tv_nsec = 100000000 };

		nanosleep(&gap, NULL);
	}
	/* told, the destination runs and asks for pages meanwhile: in steps, so they get through */
	if (tell ? track_move_steps(t, TRACK_ON_HOLD, SRC_MOVE_STEP_PAGES) : track_move(t, TRACK_ON_HOLD)) {
		if (tell)
			goto stuck;
		goto fail;
	}
	t2 = mono_now_ns();
	u->fd = track_fd(t);
	if (!tell) {
		pthread_mutex_lock(&m->mu);
		s->holding = true; /* from the protection on, writers wait */
		m->st.switchover_at_ms =
			jx_now_ms() - (s->fz.active ? (mono_now_ns() - s->fz.begin_ns) / 1000000u : 0);
		pthread_mutex_unlock(&m->mu);
	}
	if (track_protect(t, 0, m->n_pages)) {
		if (tell)
			goto stuck;
		err = errno;
		pr_perror(u->w->log, "cannot write-protect the region at the switchover; every page is "
			  "stale", LF_STR("migration", m->id));
		bitmap_set(d, 0, m->n_pages);
	}
	t3 = mono_now_ns();
	pr_info(u->w->log, "migration switchover: scanned, moved to the hold uffd and protected",
		LF_STR("migration", m->id), LF_UINT("scan_us", (t1 - t0) / 1000),
		LF_UINT("move_us", (t2 - t1) / 1000), LF_UINT("protect_us", (t3 - t2) / 1000));
	/* stopped, the workload released nothing while the range was registered nowhere */
	if (!exact && ufd_after_move(u, r))
		pr_pwarn(u->w->log, "cannot read the page table after the move to the hold uffd",
			 LF_STR("migration", m->id));
	if (!tell) {
		pthread_mutex_lock(&m->mu);
		for (uint64_t i = 0; i < words; i++) {
			s->todo[i] |= d[i] | s->dirty[i];
			s->dirty[i] = 0;
		}
		pthread_mutex_unlock(&m->mu);
	}
	free(d);
	return err;
stuck:
	if (freeze_gone(&s->fz)) {
		/* killed while stopped: nothing of it will write; freeze_end() collects it */
		pr_pwarn(u->w->log, "the workload went away during the move to the hold uffd",
			 LF_STR("migration", m->id));
		free(d);
		return 0;
	}
	pr_perror(u->w->log, "cannot hold the region's writers after the switchover: the workload stays "
		  "stopped until the migration ends", LF_STR("migration", m->id));
	s->fz_stuck = true;
	free(d);
	return 0;
fail:
	err = errno;
	free(d);
	return err;
}

static void reply(struct mig_src *s, uint64_t seq, int err)
{
	pthread_mutex_lock(&s->m->mu);
	s->req_err = err;
	s->req_done = seq;
	pthread_cond_broadcast(&s->m->cond);
	pthread_mutex_unlock(&s->m->mu);
}

/* The switchover with the track uffd: the workload is stopped first (step() goes on). */
static int begin_switch(struct ufd *u, struct region *r, struct mig_src *s, uint64_t seq)
{
	if (inject_gap())
		return switch_async(u, r, s, true, 0);
	if (freeze_begin(&s->fz, r->pid)) {
		pr_pwarn(u->w->log, "cannot stop the workload's threads for the switchover; every page "
			 "is sent after it", LF_STR("migration", s->m->id));
		return switch_async(u, r, s, false, 0);
	}
	s->fz_for = SRC_FZ_SWITCH;
	s->fz_seq = seq;
	return -1; /* answered by step() */
}

/* The job thread asked for something (mig_src_ask). */
static void src_wake(struct ufd *u, struct region *r)
{
	struct mig_src *s = src_of(r);
	struct mig *m;
	enum mig_src_req req;
	uint64_t v, seq;
	unsigned want;
	int err = 0;

	if (!s)
		return;
	m = s->m;
	mig_src_thr_wake(u, s);
	while (read(s->req_fd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&m->mu);
	req = s->req;
	seq = s->req_seq;
	want = s->thr_want;
	pthread_mutex_unlock(&m->mu);
	if (seq == s->req_done)
		return;
	if (s->fz_for == SRC_FZ_SWITCH)
		return; /* a switchover is under way: one request at a time */
	if (mig_src_thr_defer(s, req, want))
		return; /* the throttle's stop under way completes first */
	switch (req) {
	case SRC_REQ_ROUND:
		err = s->mode == SRC_MODE_ASYNC ? scan_round(r, s) : take_dirty(r, s, false);
		break;
	case SRC_REQ_SWITCH:
		mig_src_thr_end(u, s, "stopped"); /* before the stop: the hold takes over */
		if (s->mode == SRC_MODE_HOLD) {
			err = take_dirty(r, s, true);
			break;
		}
		err = begin_switch(u, r, s, seq);
		if (err < 0)
			return;
		break;
	case SRC_REQ_END:
		let_go(u, r, s, "the migration ended");
		return;
	case SRC_REQ_THROTTLE:
		err = mig_src_thr_set(u, s, want);
		break;
	case SRC_REQ_NONE:
		break;
	}
	reply(s, seq, err);
}

/* ---- faults and events ------------------------------------------------- */

static enum install_res src_write_fault(struct ufd *u, struct region *r, uint64_t page,
					uint64_t read_ns)
{
	struct mig_src *s = src_of(r);
	uint64_t first, n;

	(void)u, (void)read_ns;
	if (s->holding)
		return INSTALL_OK; /* left unanswered: the writer waits, for good on this host */
	if (track_lift(r->w.wp, page, &first, &n)) {
		/* EAGAIN: a removal or a move not read yet; retried after it */
		return errno == ESRCH	? INSTALL_GONE
		       : errno == EAGAIN ? INSTALL_MM_CHANGING
		       : errno == ENOENT ? INSTALL_OK
					 : INSTALL_FAILED;
	}
	pthread_mutex_lock(&s->m->mu);
	bitmap_set(s->dirty, first, n);
	s->m->st.tracking_faults++;
	pthread_mutex_unlock(&s->m->mu);
	return INSTALL_OK;
}

/*
 * MADV_DONTNEED: the pages read zero from now on, which the destination
 * must get.  After the hold a page it has not got yet would be lost: the
 * job fails (the engine aborts it).
 */
static bool src_pages_removed(struct ufd *u, struct region *r, uint64_t first, uint64_t n)
{
	struct mig_src *s = src_of(r);
	bool ok = true;

	(void)u;
	pthread_mutex_lock(&s->m->mu);
	if (!s->holding)
		bitmap_set(s->dirty, first, n);
	else if (bitmap_count(s->todo, first, n))
		ok = false;
	pthread_mutex_unlock(&s->m->mu);
	return ok;
}

/* The region changed under the job (unmapped, moved), or the worker lets go of it. */
static void src_abort(struct ufd *u, struct region *r, int code, const char *why)
{
	struct mig_src *s = src_of(r);
	struct mig *m;
	bool over;

	(void)code;
	if (!s)
		return;
	m = s->m;
	pthread_mutex_lock(&m->mu);
	over = m->phase == MIG_COMPLETED || m->phase == MIG_FAILED || m->phase == MIG_CANCELLED ||
	       m->stop;
	pthread_mutex_unlock(&m->mu);
	if (!over)
		mig_fail(m, "the region changed under the migration: %s", why);
	/* last: once the worker has let go, the job (s and m) may be freed at any moment */
	let_go(u, r, s, why);
}

/* Only while the workload is being stopped (for the switchover, the probe or the
 * throttle): everything else happens on faults, requests and timers. */
static bool src_runnable(const struct region *r)
{
	const struct mig_src *s = src_of(r);

	return s && (s->fz_for != SRC_FZ_NONE || mig_src_thr_runnable(s));
}

/* Are all of the workload's threads stopped yet?  Faults are served in between. */
static void src_step(struct ufd *u, struct region *r)
{
	struct mig_src *s = src_of(r);
	enum mig_src_freeze why = s->fz_for;
	uint64_t ns;
	int got, err = 0;

	if (why == SRC_FZ_NONE) {
		mig_src_thr_step(u, s); /* auto-converge's stop */
		return;
	}
	got = freeze_poll(&s->fz);
	if (!got) {
		sched_yield(); /* the threads to stop may need this CPU to get there */
		return;
	}
	ns = mono_now_ns() - s->fz.begin_ns;
	s->fz_for = SRC_FZ_NONE;
	if (why == SRC_FZ_PROBE) {
		freeze_end(&s->fz);
		if (got < 0) {
			pr_pwarn(u->w->log, "cannot stop the workload's threads; the migration tracks writes "
				 "on the hold uffd", LF_STR("migration", s->m->id));
			mig_src_thr_failed(u, s, EPERM);
			start_on_hold(u, r, s);
		} else {
			pr_info(u->w->log, "migration tracks writes with WP_ASYNC: the workload can be "
				"stopped for the switchover", LF_STR("migration", s->m->id),
				LF_UINT("stop_us", ns / 1000));
			start_async(u, r, s);
		}
		return;
	}
	if (got > 0) {
		/* answers the job thread itself, as soon as the dirty set is final */
		err = switch_async(u, r, s, true, s->fz_seq);
		pr_info(u->w->log, "migration switchover: the workload was stopped for the move to the "
			"hold uffd", LF_STR("migration", s->m->id),
			LF_UINT("stopped_us", (mono_now_ns() - s->fz.begin_ns) / 1000),
			LF_UINT("stopping_us", ns / 1000));
		if (!s->fz_stuck)
			freeze_end(&s->fz);
		if (err)
			reply(s, s->fz_seq, err);
		return;
	}
	freeze_end(&s->fz);
	pr_pwarn(u->w->log, "cannot stop the workload's threads for the switchover; every page "
		 "is sent after it", LF_STR("migration", s->m->id));
	err = switch_async(u, r, s, false, 0);
	reply(s, s->fz_seq, err);
}

/* Pages installed during the job (first touches) are protected: their writes are seen. */
static bool src_protects_all(const struct region *r)
{
	(void)r;
	return true;
}

const struct region_strategy mig_src_strategy = {
	.name = "migration",
	.start = src_start,
	.refuse = src_refuse,
	.runnable = src_runnable,
	.step = src_step,
	.write_fault = src_write_fault,
	.wake = src_wake,
	.abort = src_abort,
	.protects_all = src_protects_all,
	.pages_removed = src_pages_removed,
};

/* ---- the job thread's side --------------------------------------------- */

/*
 * Asks the region's worker for req and waits for its answer.  0, or -1
 * with errno: ENODEV when the worker has let go of the region (s->engine_why
 * says why), else what the request met (EAGAIN: retry).
 */
int mig_src_ask(struct mig_src *s, enum mig_src_req req)
{
	struct mig *m = s->m;
	uint64_t one = 1, seq;
	int err;

	pthread_mutex_lock(&m->mu);
	if (!s->engine_on) {
		pthread_mutex_unlock(&m->mu);
		errno = ENODEV;
		return -1;
	}
	s->req = req;
	seq = ++s->req_seq;
	pthread_mutex_unlock(&m->mu);
	if (write(s->req_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -1;
	pthread_mutex_lock(&m->mu);
	while (s->req_done < seq && !s->engine_gone)
		pthread_cond_wait(&m->cond, &m->mu);
	err = s->engine_gone ? (req == SRC_REQ_END ? 0 : ENODEV) : s->req_err;
	pthread_mutex_unlock(&m->mu);
	errno = err;
	return err ? -1 : 0;
}
