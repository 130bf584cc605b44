/*
 * Auto-converge on the migration source (PROTOCOL.md §1.9 "auto_converge"):
 * when precopy rounds stop converging, the job thread (mig_src.c) asks for
 * a throttle of the workload, pct% of every period stopped, and the
 * region's fault worker runs it (engine/throttle.h) next to its faults:
 * the worker is the thread that may trace the workload, for the throttle
 * as for the stop at the switchover.
 *
 * The throttle ends at the switchover (before the worker stops the
 * workload for it: the hold takes over), when the job pauses or its
 * connection breaks (the job thread asks for 0%), and when the worker lets
 * go of the job (cancelled, failed, deleted, the agent stopping): the
 * workload is never left stopped by it.
 *
 * The job's stats (under m->mu): throttle ("ready", "throttling",
 * "unavailable" when the workload cannot be stopped, "stopped" after the
 * switchover), throttle_pct and throttled_ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mig.h"
#include "mono.h"
#include "region.h"
#include "throttle.h"
#include "ufd.h"
#include "worker.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_src.h"

/* ---- the worker's side ------------------------------------------------- */

/* Under no lock: the stats follow the throttle (state NULL, pct < 0: unchanged). */
static void publish(struct mig_src *s, const char *state, int pct)
{
	struct mig *m = s->m;

	pthread_mutex_lock(&m->mu);
	if (state)
		m->st.throttle = state;
	if (pct >= 0)
		m->st.throttle_pct = (unsigned)pct;
	m->st.throttled_ms = s->thr_held_ns / 1000000u + (s->thr.open ? throttle_held_ns(&s->thr) / 1000000u : 0);
	pthread_mutex_unlock(&m->mu);
}

/*
 * The throttle could not stop the workload (or the job found at its start
 * that it cannot be stopped): off for the rest of the job.
 */
void mig_src_thr_failed(struct ufd *u, struct mig_src *s, int err)
{
	bool perm = err == EPERM;

	if (!s->m->auto_converge)
		return;
	mig_src_thr_end(u, s, perm ? "unavailable" : "stopped");
	s->thr_off = true;
	pr_warn(u->w->log, perm ? "auto-converge cannot throttle: the workload's threads may not be "
				  "stopped (ptrace)"
				: "auto-converge stopped: the workload's threads could not be stopped",
		LF_STR("migration", s->m->id), LF_STR("error", strerror(err)));
}

#ifdef FAULTLINE_FAULT_INJECTION
/*
 * Test builds only (build/faultline-agent-inject): FAULTLINE_INJECT=
 * throttle-eperm has every throttle refused as by a workload that may not
 * be traced (the tests run as root, which may always trace), so that
 * tests/test_mig_converge.c sees "unavailable" and the switchover without it.
 */
static bool inject_eperm(void)
{
	const char *v = getenv("FAULTLINE_INJECT");

	return v && !strcmp(v, "throttle-eperm");
}
#else
static bool inject_eperm(void)
{
	return false;
}
#endif

/* 0, or an errno (the job thread then switches over as without auto-converge). */
int mig_src_thr_set(struct ufd *u, struct mig_src *s, unsigned pct)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &u->strat_tag };

	if (!pct && !s->thr.open) {
		if (s->m->auto_converge && !s->thr_off)
			publish(s, "ready", 0);
		return 0;
	}
	if (s->thr_off)
		return EPERM;
	if (pct && inject_eperm()) {
		mig_src_thr_failed(u, s, EPERM);
		return EPERM;
	}
	if (!s->thr.open) {
		if (throttle_init(&s->thr, s->pid, THROTTLE_PERIOD_NS))
			return errno;
		if (epoll_ctl(u->w->ep, EPOLL_CTL_ADD, throttle_fd(&s->thr), &ev)) {
			int err = errno;

			throttle_fini(&s->thr);
			return err;
		}
	}
	if (throttle_set(&s->thr, pct)) {
		int err = errno;

		mig_src_thr_failed(u, s, err);
		return err;
	}
	publish(s, pct ? "throttling" : "ready", (int)pct);
	pr_info(u->w->log, pct ? "auto-converge: the workload is throttled"
			       : "auto-converge: the workload runs unthrottled again",
		LF_STR("migration", s->m->id), LF_UINT("pct", pct));
	return 0;
}

/* The throttle's timer (the worker wakes the strategy for it as for a request). */
void mig_src_thr_wake(struct ufd *u, struct mig_src *s)
{
	if (!s->thr.open)
		return;
	if (throttle_tick(&s->thr)) {
		mig_src_thr_failed(u, s, errno);
		return;
	}
	publish(s, NULL, -1);
}

bool mig_src_thr_runnable(const struct mig_src *s)
{
	return throttle_stopping(&s->thr);
}

/*
 * A request that ends or pauses the throttle (the switchover, the end of
 * the job, 0%) while a stop is under way waits until the stop is complete
 * (throttle.h: never end a stop half made), and meanwhile the throttle is
 * turned off so that the workload goes on the moment it is; the worker
 * serves faults in between (mig_src_thr_step).  true: deferred, the
 * request is taken up again then.
 */
bool mig_src_thr_defer(struct mig_src *s, enum mig_src_req req, unsigned want)
{
	if (!throttle_stopping(&s->thr) ||
	    (req != SRC_REQ_SWITCH && req != SRC_REQ_END && !(req == SRC_REQ_THROTTLE && !want)))
		return false;
	throttle_set(&s->thr, 0);
	s->thr_deferred = true;
	return true;
}

/* Are the workload's threads stopped yet (faults are served in between)? */
void mig_src_thr_step(struct ufd *u, struct mig_src *s)
{
	uint64_t one = 1;
	int r = throttle_poll(&s->thr);

	if (r < 0) {
		mig_src_thr_failed(u, s, errno);
	} else if (!r && s->thr_deferred &&
		   mono_now_ns() - s->thr.fz.begin_ns > SRC_THROTTLE_DEFER_MAX_NS) {
		/* a thread that does not stop must not keep the job from ending: as freeze_end() does */
		pr_warn(u->w->log, "auto-converge: the workload's threads did not all stop; the throttle "
			"ends without them", LF_STR("migration", s->m->id));
		mig_src_thr_end(u, s, NULL);
		r = 1;
	} else if (!r) {
		sched_yield(); /* the threads to stop may need this CPU to get there */
	}
	if (r && s->thr_deferred) {
		/* the stop is over: the deferred request is read again (src_wake) */
		s->thr_deferred = false;
		if (write(s->req_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			pr_pwarn(u->w->log, "cannot take up a deferred migration request",
				 LF_STR("migration", s->m->id));
	}
}

/*
 * Off for good: the workload goes on now.  state: the stats' throttle from
 * now on; throttle_pct keeps the share it had (what the switchover needed).
 */
void mig_src_thr_end(struct ufd *u, struct mig_src *s, const char *state)
{
	if (s->thr.open) {
		epoll_ctl(u->w->ep, EPOLL_CTL_DEL, throttle_fd(&s->thr), NULL);
		throttle_fini(&s->thr);
		s->thr_held_ns += s->thr.held_ns;
		s->thr.held_ns = 0;
	}
	if (s->m->auto_converge && !s->thr_off)
		publish(s, state, -1);
}

/* ---- the job thread's side --------------------------------------------- */

/*
 * Asks the worker to stop the workload pct% of every period (0: not at
 * all).  0, or -1 with errno: the workload cannot be throttled (EPERM: it
 * may not be traced), or the worker let go (ENODEV).
 */
int mig_src_throttle(struct mig_src *s, unsigned pct)
{
	pthread_mutex_lock(&s->m->mu);
	s->thr_want = pct;
	pthread_mutex_unlock(&s->m->mu);
	return mig_src_ask(s, SRC_REQ_THROTTLE);
}
