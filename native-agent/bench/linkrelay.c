/*
 * linkrelay: see linkrelay.h.  One acceptor thread, and two threads per
 * connection (one per direction) in blocking I/O: a thread waits only in
 * read, send, or the token bucket's sleep, so nothing spins and an idle link
 * costs nothing.  A direction that reads end-of-file passes the half-close on
 * (shutdown SHUT_WR) and the other direction goes on; an error in either
 * direction shuts both sockets down, which wakes the other direction's read
 * or send, and the last of the two closes both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "linkrelay.h"
#include "mono.h"
#include "pchan.h"

#define LINKRELAY_CHUNK (64u << 10) /* one read, one send */
#define LINKRELAY_CONNECT_MS 2000
/*
 * The receive buffer of the source's side, inherited from the listener: a
 * bucket that delays instead of dropping queues whatever the socket holds,
 * and the kernel's autotuning lets that grow to megabytes (hundreds of ms at
 * tens of MB/s) on top of the sender's own send buffer.  Bounded, the queue
 * stays near a policer's; on loopback this window still carries GB/s.
 */
#define LINKRELAY_RCVBUF (256 << 10)

struct flow;

/* One direction of a relayed connection. */
struct leg {
	struct flow *flow;
	int from, to;
	uint64_t rate; /* bytes/s; 0: unlimited */
	uint64_t burst_ns;
	/*
	 * The token bucket as a virtual clock (GCRA): the time at which the
	 * bytes sent so far are paid for at rate.  It never lags now by more
	 * than the burst, which is the credit an idle connection keeps.
	 */
	uint64_t paid_ns;
	uint64_t bytes;
};

/* A relayed connection: src accepted from the source, dst to the destination. */
struct flow {
	struct linkrelay *relay;
	int src, dst;
	unsigned legs; /* still running; under relay->mu */
	struct leg up, down;
	struct flow *next;
};

struct linkrelay {
	char to[256];
	uint64_t rate, burst;
	int lfd, wake[2]; /* wake: linkrelay_stop() to the acceptor */
	pthread_t acceptor;
	pthread_mutex_t mu;
	pthread_cond_t idle; /* legs reached 0 */
	struct flow *flows;
	unsigned legs;
	uint64_t connections, bytes_up;
};

uint64_t linkrelay_burst(uint64_t rate)
{
	/*
	 * 20 ms of the rate: a relay thread that wakes that late (a busy machine)
	 * still catches up instead of losing rate; at least a read's worth, so a
	 * read never waits longer than its own cost.
	 */
	return rate / 50 > LINKRELAY_CHUNK ? rate / 50 : LINKRELAY_CHUNK;
}

/* Waits until n more bytes are within the leg's rate. */
static void pace(struct leg *l, size_t n)
{
	uint64_t now = mono_now_ns();
	struct timespec ts;

	if (l->paid_ns + l->burst_ns < now)
		l->paid_ns = now - l->burst_ns;
	l->paid_ns += (uint64_t)n * 1000000000u / l->rate;
	if (l->paid_ns <= now)
		return;
	ts.tv_sec = (time_t)(l->paid_ns / 1000000000u);
	ts.tv_nsec = (long)(l->paid_ns % 1000000000u);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void leg_done(struct leg *l)
{
	struct flow *f = l->flow, **p;
	struct linkrelay *r = f->relay;

	pthread_mutex_lock(&r->mu);
	if (l == &f->up)
		r->bytes_up += l->bytes;
	if (!--f->legs) {
		for (p = &r->flows; *p != f; p = &(*p)->next)
			;
		*p = f->next;
		close(f->src);
		close(f->dst);
		free(f);
	}
	if (!--r->legs)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
}

static void *leg_main(void *arg)
{
	struct leg *l = arg;
	uint8_t buf[LINKRELAY_CHUNK];
	bool failed = false;

	while (!failed) {
		ssize_t n = read(l->from, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			failed = true;
			break;
		}
		if (n == 0) { /* the half-close goes through; the other direction goes on */
			shutdown(l->to, SHUT_WR);
			break;
		}
		if (l->rate)
			pace(l, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(l->to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				failed = true;
				break;
			}
			off += w;
		}
		if (!failed)
			l->bytes += (uint64_t)n;
	}
	if (failed) { /* both ends see the connection end, and the other leg's read or send returns */
		shutdown(l->flow->src, SHUT_RDWR);
		shutdown(l->flow->dst, SHUT_RDWR);
	}
	leg_done(l);
	return NULL;
}

/* Starts the two legs of src <-> dst; -1 when neither runs (the caller closes both). */
static int flow_start(struct linkrelay *r, int src, int dst)
{
	struct flow *f = calloc(1, sizeof(*f));
	pthread_attr_t at;
	pthread_t t;
	int ret = -1;

	if (!f || pthread_attr_init(&at)) {
		free(f);
		return -1;
	}
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	f->relay = r;
	f->src = src;
	f->dst = dst;
	f->up = (struct leg){ .flow = f, .from = src, .to = dst, .rate = r->rate,
			      .burst_ns = (uint64_t)((double)r->burst * 1e9 / (double)r->rate) };
	f->down = (struct leg){ .flow = f, .from = dst, .to = src };
	/* under the lock: a leg that ends at once cannot free the flow before both are counted */
	pthread_mutex_lock(&r->mu);
	if (!pthread_create(&t, &at, leg_main, &f->up)) {
		f->legs++;
		r->legs++;
		f->next = r->flows;
		r->flows = f;
		r->connections++;
		ret = 0;
		if (!pthread_create(&t, &at, leg_main, &f->down)) {
			f->legs++;
			r->legs++;
		} else { /* the up leg sees the shutdown and closes both */
			fprintf(stderr, "linkrelay: no thread for a connection's return direction\n");
			shutdown(src, SHUT_RDWR);
			shutdown(dst, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&r->mu);
	pthread_attr_destroy(&at);
	if (ret)
		free(f);
	return ret;
}

static void *accept_main(void *arg)
{
	struct linkrelay *r = arg;
	int one = 1;

	for (;;) {
		struct pollfd p[2] = { { .fd = r->lfd, .events = POLLIN },
				       { .fd = r->wake[0], .events = POLLIN } };
		int c, d;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "linkrelay: poll: %s\n", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "linkrelay: accept: %s (no more connections relayed)\n",
				strerror(errno));
			return NULL;
		}
		d = pchan_connect(r->to, LINKRELAY_CONNECT_MS);
		/* pchan_connect's socket is non-blocking: the legs block */
		if (d < 0 || fcntl(d, F_SETFL, 0)) {
			fprintf(stderr, "linkrelay: connect %s: %s\n", r->to, strerror(errno));
			if (d >= 0)
				close(d);
			close(c); /* the source sees the path fail as it would a refused connection */
			continue;
		}
		/* demand requests and acks go back this way: no Nagle delay of the relay's own */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (flow_start(r, c, d)) {
			fprintf(stderr, "linkrelay: no thread for a connection\n");
			close(c);
			close(d);
		}
	}
}

struct linkrelay *linkrelay_start(const char *to, uint64_t rate, char *bound, size_t bound_len)
{
	struct linkrelay *r = calloc(1, sizeof(*r));
	int e, rcvbuf = LINKRELAY_RCVBUF;

	if (!r)
		return NULL;
	snprintf(r->to, sizeof(r->to), "%s", to);
	r->rate = rate;
	r->burst = linkrelay_burst(rate);
	r->lfd = pchan_listen("127.0.0.1:0", bound, bound_len);
	if (r->lfd < 0)
		goto free_relay;
	/* poll() said readable but the connection may be gone: accept must not block then */
	if (setsockopt(r->lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) ||
	    fcntl(r->lfd, F_SETFL, O_NONBLOCK) || pipe2(r->wake, O_CLOEXEC))
		goto close_listener;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->idle, NULL);
	e = pthread_create(&r->acceptor, NULL, accept_main, r);
	if (e) {
		errno = e;
		goto close_wake;
	}
	return r;
close_wake:
	e = errno;
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->mu);
	close(r->wake[0]);
	close(r->wake[1]);
	errno = e;
close_listener:
	e = errno;
	close(r->lfd);
	errno = e;
free_relay:
	free(r);
	return NULL;
}

void linkrelay_stop(struct linkrelay *r, uint64_t *connections, uint64_t *bytes)
{
	if (!r)
		return;
	while (write(r->wake[1], "", 1) < 0 && errno == EINTR)
		;
	pthread_join(r->acceptor, NULL);
	pthread_mutex_lock(&r->mu);
	for (struct flow *f = r->flows; f; f = f->next) {
		shutdown(f->src, SHUT_RDWR);
		shutdown(f->dst, SHUT_RDWR);
	}
	while (r->legs)
		pthread_cond_wait(&r->idle, &r->mu);
	pthread_mutex_unlock(&r->mu);
	if (connections)
		*connections = r->connections;
	if (bytes)
		*bytes = r->bytes_up;
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->mu);
	close(r->wake[0]);
	close(r->wake[1]);
	close(r->lfd);
	free(r);
}
