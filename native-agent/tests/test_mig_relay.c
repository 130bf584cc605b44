/*
 * The migration tests' TCP relay between a source and a destination's
 * page channel (test_mig_common.h, struct relay): cut, refuse, drop,
 * capture and flip, each connection pumped by its own threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pchan.h"
#include "test_mig_common.h"

/* The looked-at connection's source bytes: captured, and the one at flip_at flipped. Under mu. */
static void relay_look(struct relay *r, uint8_t *buf, size_t len)
{
	uint64_t at = atomic_load(&r->flip_at);

	if (at && at >= r->first_seen && at < r->first_seen + len) {
		buf[at - r->first_seen] ^= 0x01;
		atomic_store(&r->flipped, 1);
	}
	if (r->cap && r->cap_len < r->cap_max) {
		size_t k = len < r->cap_max - r->cap_len ? len : r->cap_max - r->cap_len;

		memcpy(r->cap + r->cap_len, buf, k);
		r->cap_len += k;
	}
	r->first_seen += len;
}

static int write_all_fd(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

struct pump_arg {
	struct relay_pair *pr;
	int side;
};

/* One direction of a pair, until either side ends: then both directions end. */
static void *pump_main(void *arg)
{
	struct pump_arg *pa = arg;
	struct relay_pair *pr = pa->pr;
	struct relay *r = pr->r;
	int side = pa->side;
	char buf[65536];

	free(pa);
	for (;;) {
		ssize_t got = read(pr->fd[side], buf, sizeof(buf));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (!side && atomic_load(&r->drop))
			continue; /* lost on the way: the destination never sees them */
		if (!side && pr->look) {
			pthread_mutex_lock(&r->mu);
			relay_look(r, (uint8_t *)buf, (size_t)got);
			pthread_mutex_unlock(&r->mu);
		}
		if (write_all_fd(pr->fd[!side], buf, (size_t)got))
			break;
	}
	shutdown(pr->fd[0], SHUT_RDWR);
	shutdown(pr->fd[1], SHUT_RDWR);
	return NULL;
}

static void relay_cut(struct relay *r)
{
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < r->n; i++) {
		shutdown(r->pair[i].fd[0], SHUT_RDWR);
		shutdown(r->pair[i].fd[1], SHUT_RDWR);
	}
	pthread_mutex_unlock(&r->mu);
}

static void relay_accept(struct relay *r)
{
	int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC), t;
	struct relay_pair *pr;

	if (c < 0)
		return;
	if (atomic_load(&r->refuse) || r->n == RELAY_PAIRS) {
		close(c);
		return;
	}
	t = pchan_connect(r->target, 2000);
	/* the pumps block */
	if (t >= 0 && (fcntl(t, F_SETFL, 0) || fcntl(c, F_SETFL, 0))) {
		close(t);
		t = -1;
	}
	if (t < 0) {
		close(c);
		return;
	}
	pthread_mutex_lock(&r->mu);
	pr = &r->pair[r->n];
	*pr = (struct relay_pair){ .r = r, .fd = { c, t }, .look = r->n == r->look };
	for (int side = 0; side < 2; side++) {
		struct pump_arg *pa = malloc(sizeof(*pa));

		if (!pa || (pa->pr = pr, pa->side = side, pthread_create(&pr->pump[side], NULL, pump_main, pa))) {
			/* cannot happen in a test run that has memory; the pair is never used */
			free(pa);
			fprintf(stderr, "relay: cannot start a pump\n");
			abort();
		}
	}
	r->n++;
	pthread_mutex_unlock(&r->mu);
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd pf = { .fd = r->lfd, .events = POLLIN };

		if (atomic_exchange(&r->cut, 0))
			relay_cut(r);
		if (poll(&pf, 1, 5) > 0)
			relay_accept(r);
	}
	return NULL;
}

int relay_start(struct relay *r, const char *target, unsigned look)
{
	memset(r, 0, sizeof(*r));
	r->look = look;
	pthread_mutex_init(&r->mu, NULL);
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->lfd = pchan_listen("127.0.0.1:0", r->addr, sizeof(r->addr));
	if (r->lfd < 0)
		return -1;
	return pthread_create(&r->t, NULL, relay_main, r) ? -1 : 0;
}

void relay_stop(struct relay *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->t, NULL);
	relay_cut(r);
	for (unsigned i = 0; i < r->n; i++) {
		pthread_join(r->pair[i].pump[0], NULL);
		pthread_join(r->pair[i].pump[1], NULL);
		close(r->pair[i].fd[0]);
		close(r->pair[i].fd[1]);
	}
	close(r->lfd);
	pthread_mutex_destroy(&r->mu);
	free(r->cap);
}
