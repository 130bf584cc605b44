/*
 * Event loop: epoll (level-triggered) plus timerfd timers.
 *
 * Owners embed a struct loop_handler in the object an fd belongs to and
 * register it; the callback gets the handler back and finds its object with
 * container_of-style arithmetic or the opaque pointer.  A handler removed
 * during a dispatch round never receives a stale event from that round, so
 * callbacks may free other objects (and their own) safely.
 */
#ifndef FAULTLINE_LOOP_H
#define FAULTLINE_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#define LOOP_MAX_EVENTS 64

struct loop;
struct loop_handler;

typedef void (*loop_fn)(struct loop *lp, struct loop_handler *h, uint32_t events);

struct loop_handler {
	loop_fn fn;
	void *opaque;
};

struct loop {
	int epfd;
	bool stop;
	int n_ready;
	int cur;
	struct epoll_event ready[LOOP_MAX_EVENTS];
};

struct loop_timer;
typedef void (*loop_timer_fn)(struct loop *lp, struct loop_timer *t);

struct loop_timer {
	struct loop_handler h;
	int fd;
	loop_timer_fn fn;
	void *opaque;
};

int loop_init(struct loop *lp);
void loop_fini(struct loop *lp);
int loop_add(struct loop *lp, int fd, uint32_t events, struct loop_handler *h);
int loop_mod(struct loop *lp, int fd, uint32_t events, struct loop_handler *h);
int loop_del(struct loop *lp, int fd, struct loop_handler *h);
int loop_run(struct loop *lp);
void loop_stop(struct loop *lp);

int loop_timer_init(struct loop *lp, struct loop_timer *t, loop_timer_fn fn, void *opaque);
int loop_timer_arm(struct loop_timer *t, uint64_t first_ms, uint64_t interval_ms);
void loop_timer_fini(struct loop *lp, struct loop_timer *t);

uint64_t loop_now_ms(void);

#endif /* FAULTLINE_LOOP_H */
