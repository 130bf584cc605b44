/*
 * Listening sockets that accept framed connections: credentials, client
 * limits, the stall sweep, orderly shutdown, and the hub that finds a
 * connection again by conn_ref.  See srv.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "srv.h"

#define SRV_ACCEPT_BATCH 16

#define s_log(s, lvl, err, ...) log_emit((s)->log, (lvl), (s)->cfg.comp, (err), __VA_ARGS__, LF_END)

/* ---- accepting --------------------------------------------------------- */

static bool uid_allowed(const struct srv *s, uid_t uid)
{
	for (unsigned i = 0; i < s->cfg.n_allow_uids; i++) {
		if (s->cfg.allow_uids[i] == uid)
			return true;
	}
	return false;
}

/*
 * Tells a refused peer why before closing (PROTOCOL.md §1.4): one error
 * frame, type 0 and request id 0, like the other errors that answer no
 * request.  A fresh socket's buffer always has room for it; if the send
 * fails anyway the peer only sees the close, as before.
 */
static void refuse(struct srv *s, int fd)
{
	char body[200];
	uint8_t frame[PROTO_HDR_LEN + sizeof(body)];
	struct proto_hdr h;
	int n;

	n = snprintf(body, sizeof(body),
		     "{\"code\":\"%s\",\"message\":\"too many clients: this socket serves at most %u at once "
		     "(the agent's --max-clients)\",\"max_clients\":%u}",
		     proto_err_code(PROTO_E_TOO_MANY_CLIENTS), s->cfg.max_clients, s->cfg.max_clients);
	if (n < 0 || (size_t)n >= sizeof(body))
		return;
	h = proto_hdr_make(0, PROTO_F_REPLY | PROTO_F_ERROR, 0, (uint32_t)n);
	proto_encode_hdr(&h, frame);
	memcpy(frame + PROTO_HDR_LEN, body, (size_t)n);
	if (send(fd, frame, PROTO_HDR_LEN + (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		s_log(s, LOG_LVL_DEBUG, errno, "could not tell the refused peer why");
}

static void accept_conn(struct srv *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		s_log(s, LOG_LVL_ERROR, errno, "SO_PEERCRED failed, closing connection");
		goto close_fd;
	}
	if (!uid_allowed(s, cred.uid)) {
		s_log(s, LOG_LVL_WARN, 0, "peer refused: uid not allowed", LF_INT("pid", cred.pid),
		      LF_UINT("uid", cred.uid), LF_UINT("gid", cred.gid));
		goto close_fd;
	}
	if (s->n_conns >= s->cfg.max_clients) {
		s_log(s, LOG_LVL_WARN, 0, "peer refused: too many clients", LF_INT("pid", cred.pid),
		      LF_UINT("uid", cred.uid), LF_UINT("max_clients", s->cfg.max_clients));
		refuse(s, fd);
		goto close_fd;
	}
	conn_new(s, fd, &cred);
	return;

close_fd:
	close(fd);
}

static void set_accepting(struct srv *s, bool on)
{
	if (loop_mod(s->lp, s->sock.fd, on ? EPOLLIN : 0, &s->listen_h))
		s_log(s, LOG_LVL_ERROR, errno, "epoll_ctl on listening socket failed");
	s->accept_paused = !on;
}

static void listen_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct srv *s = h->opaque;

	(void)lp;
	(void)events;
	for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
		int fd = accept4(s->sock.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			accept_conn(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* out of fds or memory: the listener stays readable, so back off
		 * until the next sweep instead of spinning on it */
		s_log(s, LOG_LVL_ERROR, errno, "accept failed, pausing new connections");
		set_accepting(s, false);
		return;
	}
}

/* Periodic: drops clients that do not read their replies. */
static void sweep(struct loop *lp, struct loop_timer *t)
{
	struct srv *s = t->opaque;
	uint64_t now = loop_now_ms();
	struct conn *c, *next;

	(void)lp;
	if (s->accept_paused)
		set_accepting(s, true);
	for (c = s->conns; c; c = next) {
		next = conn_next(c);
		if (conn_stalled(c, now, s->cfg.stall_timeout_ms))
			conn_destroy(c, "write stalled");
	}
}

/* ---- servers ----------------------------------------------------------- */

struct srv_hub *srv_hub_new(void)
{
	return calloc(1, sizeof(struct srv_hub));
}

void srv_hub_free(struct srv_hub *hub)
{
	free(hub);
}

struct conn *srv_hub_find(struct srv_hub *hub, struct conn_ref ref)
{
	for (struct srv *s = hub->servers; s; s = s->hub_next) {
		if (s->id != ref.server)
			continue;
		for (struct conn *c = s->conns; c; c = conn_next(c)) {
			if (conn_is(c, ref.serial))
				return c;
		}
		return NULL;
	}
	return NULL;
}

static void stop_listening(struct srv *s)
{
	if (s->listening)
		loop_del(s->lp, s->sock.fd, &s->listen_h);
	s->listening = false;
	usock_close(&s->sock, s->log);
}

static void server_free(struct srv *s)
{
	struct srv **pp;

	loop_timer_fini(s->lp, &s->sweep);
	stop_listening(s);
	for (pp = &s->hub->servers; *pp; pp = &(*pp)->hub_next) {
		if (*pp == s) {
			*pp = s->hub_next;
			break;
		}
	}
	free(s);
}

struct srv *srv_start(struct loop *lp, struct log *lg, struct srv_hub *hub,
				      const struct srv_cfg *cfg)
{
	struct srv *s = calloc(1, sizeof(*s));
	uint64_t tick;

	if (!s) {
		log_emit(lg, LOG_LVL_ERROR, cfg->comp, errno, "out of memory", LF_END);
		return NULL;
	}
	s->cfg = *cfg;
	s->lp = lp;
	s->log = lg;
	s->hub = hub;
	s->id = ++hub->next_id;
	s->hub_next = hub->servers;
	hub->servers = s;
	s->sock.fd = s->sock.lock_fd = -1;
	s->sweep.fd = -1;
	if (usock_listen(&s->sock, cfg->path, cfg->mode, cfg->lock, lg))
		goto free_server;

	s->listen_h.fn = listen_ready;
	s->listen_h.opaque = s;
	if (loop_add(lp, s->sock.fd, EPOLLIN, &s->listen_h)) {
		s_log(s, LOG_LVL_ERROR, errno, "cannot watch listening socket");
		goto free_server;
	}
	s->listening = true;
	/* a quarter of the stall timeout bounds how late a stalled client is dropped */
	tick = cfg->stall_timeout_ms / 4;
	tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
	if (loop_timer_init(lp, &s->sweep, sweep, s) || loop_timer_arm(&s->sweep, tick, tick)) {
		s_log(s, LOG_LVL_ERROR, errno, "cannot start sweep timer");
		goto free_server;
	}
	s_log(s, LOG_LVL_INFO, 0, "listening", LF_STR("path", cfg->path));
	return s;

free_server:
	server_free(s);
	return NULL;
}

/*
 * Stops accepting at once (the socket disappears), then gives queued
 * replies - the answer to a shutdown request above all - a bounded time to
 * reach their clients before every connection is closed.
 */
void srv_stop(struct srv *s)
{
	uint64_t deadline = loop_now_ms() + s->cfg.drain_ms;
	struct pollfd pfd[64];
	struct conn *c;

	stop_listening(s);
	for (;;) {
		uint64_t now = loop_now_ms();
		nfds_t n = 0;

		for (c = s->conns; c; c = conn_next(c)) {
			int fd = conn_drain(c);

			if (fd >= 0 && n < 64)
				pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLOUT };
		}
		if (!n || now >= deadline)
			break;
		if (poll(pfd, n, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
	}
	while (s->conns)
		conn_destroy(s->conns, "agent stopping");
	server_free(s);
}

void *srv_opaque(const struct srv *s)
{
	return s->cfg.opaque;
}
