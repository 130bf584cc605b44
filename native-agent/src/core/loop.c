/*
 * epoll loop.  Level-triggered on purpose: a callback may handle only part
 * of what is ready (one read per connection per round, for fairness) and
 * will be called again, which keeps every handler simple and starvation-free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "mono.h"

int loop_init(struct loop *lp)
{
	memset(lp, 0, sizeof(*lp));
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	return lp->epfd < 0 ? -1 : 0;
}

void loop_fini(struct loop *lp)
{
	if (lp->epfd >= 0)
		close(lp->epfd);
	lp->epfd = -1;
}

int loop_add(struct loop *lp, int fd, uint32_t events, struct loop_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_mod(struct loop *lp, int fd, uint32_t events, struct loop_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(lp->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/*
 * Must be called before the fd is closed or h is freed: it also cancels the
 * events of the current round that have not been dispatched yet.
 */
int loop_del(struct loop *lp, int fd, struct loop_handler *h)
{
	int ret = epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL);

	for (int i = lp->cur + 1; i < lp->n_ready; i++) {
		if (lp->ready[i].data.ptr == h)
			lp->ready[i].data.ptr = NULL;
	}
	return ret;
}

void loop_stop(struct loop *lp)
{
	lp->stop = true;
}

/* Runs until loop_stop(); the round in progress is finished first. */
int loop_run(struct loop *lp)
{
	lp->stop = false;
	while (!lp->stop) {
		int n = epoll_wait(lp->epfd, lp->ready, LOOP_MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		lp->n_ready = n;
		for (lp->cur = 0; lp->cur < n; lp->cur++) {
			struct loop_handler *h = lp->ready[lp->cur].data.ptr;

			if (h)
				h->fn(lp, h, lp->ready[lp->cur].events);
		}
		lp->n_ready = 0;
		lp->cur = 0;
	}
	return 0;
}

static void timer_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct loop_timer *t = h->opaque;
	uint64_t expirations;
	ssize_t n;

	(void)events;
	do
		n = read(t->fd, &expirations, sizeof(expirations));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: already consumed (disarmed in between); nothing is due */
	if (n != (ssize_t)sizeof(expirations))
		return;
	t->fn(lp, t);
}

int loop_timer_init(struct loop *lp, struct loop_timer *t, loop_timer_fn fn, void *opaque)
{
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0)
		return -1;
	t->fn = fn;
	t->opaque = opaque;
	t->h.fn = timer_ready;
	t->h.opaque = t;
	if (loop_add(lp, t->fd, EPOLLIN, &t->h)) {
		int err = errno;

		close(t->fd);
		t->fd = -1;
		errno = err;
		return -1;
	}
	return 0;
}

static struct timespec ms_to_ts(uint64_t ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};
	return ts;
}

/* first_ms == 0 disarms the timer. */
int loop_timer_arm(struct loop_timer *t, uint64_t first_ms, uint64_t interval_ms)
{
	struct itimerspec its = {
		.it_value = ms_to_ts(first_ms),
		.it_interval = ms_to_ts(interval_ms),
	};

	return timerfd_settime(t->fd, 0, &its, NULL);
}

void loop_timer_fini(struct loop *lp, struct loop_timer *t)
{
	if (t->fd < 0)
		return;
	loop_del(lp, t->fd, &t->h);
	close(t->fd);
	t->fd = -1;
}

uint64_t loop_now_ms(void)
{
	return mono_now_ms();
}
