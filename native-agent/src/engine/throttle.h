/*
 * Throttling a workload: every thread of it stopped (freeze.h) for pct% of
 * each period and running the rest, so that it writes less while a
 * migration's rounds catch up with it (auto-converge, mig_src.c).
 *
 * A period starts with a stop (freeze_begin); once every thread is stopped
 * (throttle_poll, while faults are served in between) a timer ends the
 * stop pct% of a period after it was asked for, and starts the next period
 * no sooner than one period after this one's start and never before the
 * workload has run (100 - pct)% of a period: a slow stop never starves it.
 * The workload is seized only while stopped: between stops nothing of it
 * is traced, and if the agent dies during a stop the kernel lets it go on.
 *
 * Threads: one thread (the region's fault worker, which also freezes for
 * the switchover) runs every call: ptrace requests must come from the
 * tracer.  It watches throttle_fd() and calls throttle_tick() when it is
 * readable, and throttle_poll() while throttle_stopping().
 */
#ifndef FAULTLINE_THROTTLE_H
#define FAULTLINE_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "freeze.h"

#define THROTTLE_PERIOD_NS 100000000u /* 100 ms: stopped pct ms of it */

enum throttle_state { THROTTLE_RUNNING, THROTTLE_STOPPING, THROTTLE_STOPPED };

struct throttle {
	bool open;                 /* tfd is ours (throttle_init succeeded) */
	int tfd;                   /* timerfd (CLOCK_MONOTONIC): the next stop or go-on */
	pid_t pid;
	unsigned pct;              /* of each period stopped; 0: off */
	uint64_t period_ns;
	enum throttle_state state;
	uint64_t period_at_ns;     /* the current period's start (its stop was asked for) */
	uint64_t held_ns;          /* in all: from each stop's request to its go-on */
	struct freeze fz;
};

int throttle_init(struct throttle *t, pid_t pid, uint64_t period_ns);
int throttle_fd(const struct throttle *t);
/*
 * pct of each period from now on (capped at 99); 0 lets the workload go on at
 * once, except during a stop still under way (throttle_stopping()): that one
 * completes first, through throttle_poll(), and goes on as soon as it is.  Ending
 * a stop before every thread has stopped would leave a thread that stops later
 * (one blocked in a fault only this thread serves) traced and stopped for good.
 * -1 with errno when the first stop cannot be asked for (EPERM: no ptrace; ESRCH:
 * gone): the throttle is off then.
 */
int throttle_set(struct throttle *t, unsigned pct);
/* throttle_fd() is readable: the stop ends or the next one starts.  -1 as throttle_set. */
int throttle_tick(struct throttle *t);
bool throttle_stopping(const struct throttle *t);
/* while stopping: 1 every thread stopped, 0 not yet, -1 with errno (the throttle is off then) */
int throttle_poll(struct throttle *t);
uint64_t throttle_held_ns(const struct throttle *t); /* the current stop included */
/* off (the workload goes on) and the timer closed; safe on a zeroed or finished struct.
 * During a stop under way it waits for the threads as freeze_end() does: prefer
 * throttle_set(t, 0) and throttle_poll() until !throttle_stopping(). */
void throttle_fini(struct throttle *t);

#endif /* FAULTLINE_THROTTLE_H */
