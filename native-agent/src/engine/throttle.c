/*
 * Stopping a workload for part of every period; see throttle.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mono.h"
#include "throttle.h"

int throttle_init(struct throttle *t, pid_t pid, uint64_t period_ns)
{
	memset(t, 0, sizeof(*t));
	t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->tfd < 0)
		return -1;
	t->open = true;
	t->pid = pid;
	t->period_ns = period_ns ? period_ns : THROTTLE_PERIOD_NS;
	t->state = THROTTLE_RUNNING;
	return 0;
}

int throttle_fd(const struct throttle *t)
{
	return t->open ? t->tfd : -1;
}

/* The timer fires at at_ns (CLOCK_MONOTONIC), or never (0). */
static void arm(struct throttle *t, uint64_t at_ns)
{
	struct itimerspec its = { 0 };

	if (at_ns) {
		its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
		its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Whatever is stopped goes on; the time it was held is counted. */
static void go_on(struct throttle *t)
{
	if (t->state == THROTTLE_RUNNING)
		return;
	t->held_ns += mono_now_ns() - t->fz.begin_ns;
	freeze_end(&t->fz);
	t->state = THROTTLE_RUNNING;
}

/* Off after a failure of the freeze: errno is kept. */
static int fail(struct throttle *t)
{
	int err = errno;

	go_on(t);
	t->pct = 0;
	arm(t, 0);
	errno = err;
	return -1;
}

static int stop(struct throttle *t)
{
	t->period_at_ns = mono_now_ns();
	if (freeze_begin(&t->fz, t->pid))
		return fail(t); /* freeze_begin ended what it had seized */
	t->state = THROTTLE_STOPPING;
	arm(t, 0);
	return 0;
}

int throttle_set(struct throttle *t, unsigned pct)
{
	bool was_off = !t->pct;

	if (!t->open) {
		errno = EBADF;
		return -1;
	}
	t->pct = pct > 99 ? 99 : pct;
	if (!t->pct) {
		/* a stop under way ends once it is complete (throttle_poll): see throttle.h */
		if (t->state != THROTTLE_STOPPING)
			go_on(t);
		arm(t, 0);
		return 0;
	}
	if (was_off && t->state == THROTTLE_RUNNING)
		return stop(t);
	return 0; /* the running stop (or the next) takes the new share */
}

int throttle_tick(struct throttle *t)
{
	uint64_t n, now, next, run;

	if (!t->open || read(t->tfd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0; /* not due (EAGAIN), or a stale wake-up */
	if (!t->pct)
		return 0;
	switch (t->state) {
	case THROTTLE_STOPPED:
		go_on(t);
		now = mono_now_ns();
		run = t->period_ns * (100u - t->pct) / 100u;
		next = t->period_at_ns + t->period_ns;
		arm(t, next > now + run ? next : now + run);
		return 0;
	case THROTTLE_RUNNING:
		return stop(t);
	case THROTTLE_STOPPING:
		break;
	}
	return 0;
}

bool throttle_stopping(const struct throttle *t)
{
	return t->open && t->state == THROTTLE_STOPPING;
}

int throttle_poll(struct throttle *t)
{
	int r;

	if (t->state != THROTTLE_STOPPING)
		return 1;
	r = freeze_poll(&t->fz);
	if (r < 0)
		return fail(t);
	if (r > 0) {
		t->state = THROTTLE_STOPPED;
		if (!t->pct)
			go_on(t); /* turned off meanwhile */
		else
			arm(t, t->period_at_ns + t->period_ns * t->pct / 100u);
	}
	return r;
}

uint64_t throttle_held_ns(const struct throttle *t)
{
	return t->held_ns + (t->state != THROTTLE_RUNNING ? mono_now_ns() - t->fz.begin_ns : 0);
}

void throttle_fini(struct throttle *t)
{
	if (!t->open)
		return;
	go_on(t);
	t->pct = 0;
	close(t->tfd);
	t->tfd = -1;
	t->open = false;
}
