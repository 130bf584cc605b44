/*
 * Control socket server.
 *
 * Every connection is an independent state machine driven by the loop:
 * bytes are read into a per-connection buffer, proto_buf_drain() splits them
 * into frames, each request is answered into a bounded output queue that is
 * flushed without ever blocking.  Nothing one client does (garbage, huge
 * frames, never reading) can stall the loop or grow memory without bound;
 * the worst it can do is get itself disconnected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "cmd.h"
#include "ctl.h"
#include "proto.h"
#include "usock.h"

#define LOG_COMP "ctl"
#include "log.h"

#define CTL_READ_CHUNK 16384
/* buffers larger than this are given back once empty (one big frame passed) */
#define CTL_BUF_KEEP 65536
/* above this much unsent output, stop reading requests from that client */
#define CTL_OUT_HIGH (256 * 1024)
/* high water plus one maximal reply: reaching it means a bug, not a slow peer */
#define CTL_OUT_LIMIT (CTL_OUT_HIGH + PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)
#define CTL_IN_LIMIT (PROTO_HDR_LEN + PROTO_MAX_PAYLOAD + CTL_READ_CHUNK)
#define CTL_ACCEPT_BATCH 16
/* at shutdown, time granted to flush replies already queued */
#define CTL_DRAIN_MS 1000

struct ctl_conn {
	struct loop_handler h;
	struct ctl *ctl;
	struct ctl_conn *prev, *next;
	int fd;
	struct cmd_session session;
	gid_t gid;
	uint32_t events;
	bool closing;  /* no more requests; close once the output is flushed */
	bool peer_eof;
	bool dead;     /* close now, output is lost */
	bool paused;   /* reading paused for output backlog (for logging changes) */
	const char *close_reason;
	struct proto_buf in, out;
	size_t need;
	uint64_t last_progress_ms;
	uint64_t requests;
};

struct ctl {
	struct agent *ag;
	struct log *log;
	struct loop_handler listen_h;
	struct usock sock;
	bool listening;
	bool accept_paused;
	struct ctl_conn *conns;
	unsigned n_conns;
	uint64_t next_serial;
	struct loop_timer sweep;
};

#define CONN_FIELDS(c)                                                    \
	LF_UINT("conn", (c)->session.conn), LF_INT("pid", (c)->session.pid), \
		LF_UINT("uid", (c)->session.uid)

/* ---- output ------------------------------------------------------------ */

static void queue_frame(struct ctl_conn *c, const struct proto_hdr *h, const void *payload)
{
	if (!c->out.len)
		c->last_progress_ms = loop_now_ms(); /* the stall clock starts now */
	if (proto_buf_put_frame(&c->out, h, payload, CTL_OUT_LIMIT)) {
		pr_perror(c->ctl->log, "cannot queue reply, dropping client", CONN_FIELDS(c),
			  LF_UINT("queued", c->out.len));
		c->dead = true;
		c->close_reason = "output queue overflow";
	}
}

static void send_error(struct ctl_conn *c, uint8_t type, uint64_t id,
		       enum proto_err code, const char *message)
{
	json_t *body = json_pack("{s:s, s:s}", "code", proto_err_code(code), "message", message);
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct proto_hdr h;

	if (!s) {
		/* keep the stable code even when memory is short */
		static const char fallback[] = "{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}";

		h = proto_hdr_make(type, PROTO_F_REPLY | PROTO_F_ERROR, id, sizeof(fallback) - 1);
		queue_frame(c, &h, fallback);
	} else {
		h = proto_hdr_make(type, PROTO_F_REPLY | PROTO_F_ERROR, id, (uint32_t)strlen(s));
		queue_frame(c, &h, s);
	}
	free(s);
	json_decref(body);
}

static void send_reply(struct ctl_conn *c, uint8_t type, uint64_t id, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	size_t len = s ? strlen(s) : 0;
	struct proto_hdr h;

	if (!s || len > PROTO_MAX_PAYLOAD) {
		pr_err(c->ctl->log, "cannot encode reply", CONN_FIELDS(c), LF_UINT("length", len));
		send_error(c, type, id, PROTO_E_INTERNAL, "reply could not be encoded");
	} else {
		h = proto_hdr_make(type, PROTO_F_REPLY, id, (uint32_t)len);
		queue_frame(c, &h, s);
	}
	free(s);
}

static void flush(struct ctl_conn *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, proto_buf_head(&c->out), c->out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			pr_debug(c->ctl->log, "write failed", CONN_FIELDS(c),
				 LF_STR("err", strerror(errno)));
			c->dead = true;
			c->close_reason = "peer gone";
			return;
		}
		proto_buf_consume(&c->out, (size_t)n);
		c->last_progress_ms = loop_now_ms();
	}
	proto_buf_shrink(&c->out, CTL_BUF_KEEP);
}

/* ---- input ------------------------------------------------------------- */

static const char *type_str(uint8_t type, char buf[8])
{
	const char *name = proto_type_name(type);

	if (name)
		return name;
	snprintf(buf, 8, "0x%02x", type);
	return buf;
}

static void handle_request(struct ctl_conn *c, const struct proto_hdr *h, const uint8_t *payload)
{
	struct cmd_error err = { .code = PROTO_E_INTERNAL };
	json_t *reply = NULL;
	char tbuf[8];
	int ret;

	c->requests++;
	ret = cmd_dispatch(c->ctl->ag, &c->session, h, payload, &reply, &err);
	if (ret == 0) {
		send_reply(c, h->type, h->id, reply);
	} else {
		pr_info(c->ctl->log, "request failed", CONN_FIELDS(c),
			LF_STR("type", type_str(h->type, tbuf)), LF_UINT("id", h->id),
			LF_STR("code", proto_err_code(err.code)), LF_STR("message", err.message));
		send_error(c, h->type, h->id, err.code, err.message);
	}
	pr_debug(c->ctl->log, "request", CONN_FIELDS(c), LF_STR("type", type_str(h->type, tbuf)),
		 LF_UINT("id", h->id), LF_UINT("length", h->length), LF_BOOL("ok", ret == 0));
	json_decref(reply);
}

static bool throttled(const struct ctl_conn *c)
{
	return c->out.len >= CTL_OUT_HIGH;
}

static bool accepts_requests(const struct ctl_conn *c)
{
	return !c->dead && !c->closing && !c->ctl->ag->stopping;
}

/* proto_buf_drain callback: one frame from the peer. */
static int on_frame(void *opaque, enum proto_result res, const struct proto_frame *f)
{
	struct ctl_conn *c = opaque;
	const struct proto_hdr *h = &f->hdr;
	char msg[128];

	if (proto_result_is_fatal(res)) {
		/* the header could not be trusted enough to echo, unless only its length was bad */
		bool usable = res == PROTO_TOO_LARGE;

		if (usable)
			snprintf(msg, sizeof(msg), "payload length %u exceeds max_payload %u",
				 h->length, PROTO_MAX_PAYLOAD);
		else if (res == PROTO_BAD_VERSION)
			snprintf(msg, sizeof(msg), "protocol version %u not supported, this agent speaks %d",
				 h->version, PROTO_VERSION);
		else
			snprintf(msg, sizeof(msg), "bad magic, expected \"FLCT\"");
		pr_warn(c->ctl->log, "protocol error, closing connection", CONN_FIELDS(c),
			LF_STR("error", proto_result_str(res)), LF_STR("message", msg));
		send_error(c, usable ? h->type : 0, usable ? h->id : 0, proto_result_err(res), msg);
		c->closing = true;
		c->close_reason = "protocol error";
		return 1;
	}

	if (res == PROTO_RESERVED)
		send_error(c, h->type, h->id, PROTO_E_BAD_FRAME, "reserved header field must be 0");
	else if (res == PROTO_BAD_FLAGS)
		send_error(c, h->type, h->id, PROTO_E_BAD_FRAME,
			   "unknown flag bits, or ERROR without REPLY");
	else if (h->flags & PROTO_F_REPLY)
		send_error(c, h->type, h->id, PROTO_E_BAD_FRAME,
			   "the agent only accepts requests; this frame has the REPLY flag");
	else if (h->id == 0)
		send_error(c, h->type, h->id, PROTO_E_BAD_FRAME,
			   "request id 0 is reserved for frames that answer no request");
	else
		handle_request(c, h, f->payload);

	return !accepts_requests(c) || throttled(c);
}

static void read_input(struct ctl_conn *c)
{
	size_t want = CTL_READ_CHUNK;
	ssize_t n;

	/* size the buffer for the whole of a large frame at once */
	if (c->need > c->in.len && c->need - c->in.len > want)
		want = c->need - c->in.len;
	if (proto_buf_reserve(&c->in, want, CTL_IN_LIMIT)) {
		pr_perror(c->ctl->log, "cannot grow input buffer", CONN_FIELDS(c));
		c->dead = true;
		c->close_reason = "out of memory";
		return;
	}
	do
		n = read(c->fd, proto_buf_tail(&c->in), proto_buf_room(&c->in));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		pr_debug(c->ctl->log, "read failed", CONN_FIELDS(c), LF_STR("err", strerror(errno)));
		c->dead = true;
		c->close_reason = "peer gone";
		return;
	}
	if (n == 0) {
		c->peer_eof = true;
		return;
	}
	proto_buf_commit(&c->in, (size_t)n);
}

static void update_events(struct ctl_conn *c)
{
	uint32_t ev = 0;

	if (throttled(c) != c->paused) {
		c->paused = throttled(c);
		pr_debug(c->ctl->log, c->paused ? "client throttled: replies pile up, requests paused"
						: "client resumed: replies drained", CONN_FIELDS(c),
			 LF_UINT("queued", c->out.len));
	}
	if (accepts_requests(c) && !c->peer_eof && !throttled(c))
		ev |= EPOLLIN;
	if (c->out.len)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	if (loop_mod(&c->ctl->ag->loop, c->fd, ev, &c->h)) {
		pr_perror(c->ctl->log, "epoll_ctl failed", CONN_FIELDS(c));
		c->dead = true;
		c->close_reason = "internal error";
		return;
	}
	c->events = ev;
}

static void conn_close(struct ctl_conn *c)
{
	struct ctl *ctl = c->ctl;

	loop_del(&ctl->ag->loop, c->fd, &c->h);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_conns--;
	pr_info(ctl->log, "client disconnected", CONN_FIELDS(c),
		LF_STR("reason", c->close_reason ? c->close_reason : "closed"),
		LF_UINT("requests", c->requests));
	proto_buf_free(&c->in);
	proto_buf_free(&c->out);
	free(c);
}

/*
 * Processes buffered frames and flushes replies until one of them has to
 * wait for the peer.  Frames left behind by throttling are resumed here
 * when output drains, since no read event will announce them again.
 */
static void service(struct ctl_conn *c)
{
	for (;;) {
		enum proto_drain d = PROTO_DRAIN_MORE;

		if (accepts_requests(c) && !throttled(c)) {
			d = proto_buf_drain(&c->in, PROTO_MAX_PAYLOAD, on_frame, c, &c->need);
			if (d == PROTO_DRAIN_FATAL)
				proto_buf_free(&c->in);
		}
		flush(c);
		if (d != PROTO_DRAIN_STOPPED || c->dead || throttled(c) || !accepts_requests(c))
			break;
	}

	if (c->peer_eof && accepts_requests(c) && !throttled(c)) {
		if (c->in.len)
			pr_info(c->ctl->log, "peer closed in the middle of a frame", CONN_FIELDS(c),
				LF_UINT("buffered", c->in.len));
		c->closing = true;
		c->close_reason = "peer closed";
	}
	if (c->dead || (c->closing && !c->out.len)) {
		conn_close(c);
		return;
	}
	proto_buf_shrink(&c->in, CTL_BUF_KEEP);
	update_events(c);
	if (c->dead)
		conn_close(c);
}

static void conn_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct ctl_conn *c = h->opaque;

	(void)lp;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		flush(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->events & EPOLLIN))
		read_input(c);
	service(c);
}

/* ---- accepting --------------------------------------------------------- */

static void accept_conn(struct ctl *ctl, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_conn *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		pr_perror(ctl->log, "SO_PEERCRED failed, closing connection");
		goto close_fd;
	}
	if (!agent_uid_allowed(ctl->ag, cred.uid)) {
		pr_warn(ctl->log, "peer refused: uid not allowed", LF_INT("pid", cred.pid),
			LF_UINT("uid", cred.uid), LF_UINT("gid", cred.gid));
		goto close_fd;
	}
	if (ctl->n_conns >= ctl->ag->opts.max_clients) {
		pr_warn(ctl->log, "peer refused: too many clients", LF_INT("pid", cred.pid),
			LF_UINT("uid", cred.uid), LF_UINT("max_clients", ctl->ag->opts.max_clients));
		goto close_fd;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pr_perror(ctl->log, "cannot allocate connection", LF_INT("pid", cred.pid));
		goto close_fd;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->session.conn = ++ctl->next_serial;
	c->session.pid = cred.pid;
	c->session.uid = cred.uid;
	c->gid = cred.gid;
	c->h.fn = conn_ready;
	c->h.opaque = c;
	c->events = EPOLLIN;
	if (loop_add(&ctl->ag->loop, fd, c->events, &c->h)) {
		pr_perror(ctl->log, "cannot watch connection", CONN_FIELDS(c));
		free(c);
		goto close_fd;
	}
	c->next = ctl->conns;
	if (c->next)
		c->next->prev = c;
	ctl->conns = c;
	ctl->n_conns++;
	pr_info(ctl->log, "client connected", CONN_FIELDS(c), LF_UINT("gid", c->gid));
	return;

close_fd:
	close(fd);
}

static void set_accepting(struct ctl *ctl, bool on)
{
	if (loop_mod(&ctl->ag->loop, ctl->sock.fd, on ? EPOLLIN : 0, &ctl->listen_h))
		pr_perror(ctl->log, "epoll_ctl on listening socket failed");
	ctl->accept_paused = !on;
}

static void listen_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct ctl *ctl = h->opaque;

	(void)lp;
	(void)events;
	for (int i = 0; i < CTL_ACCEPT_BATCH; i++) {
		int fd = accept4(ctl->sock.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			accept_conn(ctl, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* out of fds or memory: the listener stays readable, so back off
		 * until the next sweep instead of spinning on it */
		pr_perror(ctl->log, "accept failed, pausing new connections");
		set_accepting(ctl, false);
		return;
	}
}

/* Periodic: drops clients that do not read their replies. */
static void sweep(struct loop *lp, struct loop_timer *t)
{
	struct ctl *ctl = t->opaque;
	uint64_t now = loop_now_ms();
	struct ctl_conn *c, *next;

	(void)lp;
	if (ctl->accept_paused)
		set_accepting(ctl, true);
	for (c = ctl->conns; c; c = next) {
		next = c->next;
		if (!c->out.len || now - c->last_progress_ms < ctl->ag->opts.stall_timeout_ms)
			continue;
		pr_warn(ctl->log, "dropping client: replies unread", CONN_FIELDS(c),
			LF_UINT("queued", c->out.len), LF_UINT("stalled_ms", now - c->last_progress_ms));
		c->close_reason = "write stalled";
		conn_close(c);
	}
}

/* ---- lifecycle --------------------------------------------------------- */

static void ctl_free(struct ctl *ctl)
{
	loop_timer_fini(&ctl->ag->loop, &ctl->sweep);
	if (ctl->listening)
		loop_del(&ctl->ag->loop, ctl->sock.fd, &ctl->listen_h);
	ctl->listening = false;
	usock_close(&ctl->sock, ctl->log);
	free(ctl);
}

struct ctl *ctl_start(struct agent *ag)
{
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	uint64_t tick;

	if (!ctl) {
		pr_perror(&ag->log, "out of memory");
		return NULL;
	}
	ctl->ag = ag;
	ctl->log = &ag->log;
	ctl->sock.fd = ctl->sock.lock_fd = -1;
	ctl->sweep.fd = -1;
	if (usock_listen(&ctl->sock, ag->opts.socket_path, 0600, ctl->log))
		goto free_ctl;

	ctl->listen_h.fn = listen_ready;
	ctl->listen_h.opaque = ctl;
	if (loop_add(&ag->loop, ctl->sock.fd, EPOLLIN, &ctl->listen_h)) {
		pr_perror(ctl->log, "cannot watch listening socket");
		goto free_ctl;
	}
	ctl->listening = true;
	/* a quarter of the stall timeout bounds how late a stalled client is dropped */
	tick = ag->opts.stall_timeout_ms / 4;
	tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
	if (loop_timer_init(&ag->loop, &ctl->sweep, sweep, ctl) ||
	    loop_timer_arm(&ctl->sweep, tick, tick)) {
		pr_perror(ctl->log, "cannot start sweep timer");
		goto free_ctl;
	}
	pr_info(ctl->log, "listening", LF_STR("path", ag->opts.socket_path));
	return ctl;

free_ctl:
	ctl_free(ctl);
	return NULL;
}

/*
 * Stops accepting at once (the socket disappears), then gives queued
 * replies - the answer to a shutdown request above all - a bounded time to
 * reach their clients before every connection is closed.
 */
void ctl_stop(struct ctl *ctl)
{
	uint64_t deadline = loop_now_ms() + CTL_DRAIN_MS;
	struct pollfd pfd[64];
	struct ctl_conn *c;

	if (ctl->listening)
		loop_del(&ctl->ag->loop, ctl->sock.fd, &ctl->listen_h);
	ctl->listening = false;
	usock_close(&ctl->sock, ctl->log);

	for (;;) {
		uint64_t now = loop_now_ms();
		nfds_t n = 0;

		for (c = ctl->conns; c && n < 64; c = c->next) {
			if (c->out.len && !c->dead)
				pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
		}
		if (!n || now >= deadline)
			break;
		if (poll(pfd, n, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		for (c = ctl->conns; c; c = c->next) {
			if (c->out.len && !c->dead)
				flush(c);
		}
	}
	while (ctl->conns) {
		ctl->conns->close_reason = "agent stopping";
		conn_close(ctl->conns);
	}
	ctl_free(ctl);
}
