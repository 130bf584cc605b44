/*
 * Framed connections.
 *
 * Every connection is an independent state machine driven by the loop:
 * bytes are read into a per-connection buffer, proto_buf_drain() splits them
 * into frames, each request goes to the server's handler and its answer
 * into a bounded output queue that is flushed without ever blocking.
 * Nothing one peer does (garbage, huge frames, never reading) can stall the
 * loop or grow memory without bound; the worst it can do is get itself
 * disconnected.  Accepting and listening live in srv.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "scm.h"
#include "log.h"
#include "loop.h"
#include "srv.h"

#define CONN_READ_CHUNK 16384
/* buffers larger than this are given back once empty (one big frame passed) */
#define CONN_BUF_KEEP 65536
/* above this much unsent output, stop reading requests from that peer */
#define CONN_OUT_HIGH (256 * 1024)
/* high water plus one maximal frame: reaching it means a bug, not a slow peer */
#define CONN_OUT_LIMIT (CONN_OUT_HIGH + PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)
#define CONN_IN_LIMIT (PROTO_HDR_LEN + PROTO_MAX_PAYLOAD + CONN_READ_CHUNK)
/* descriptors received but not yet claimed by a frame */
#define CONN_FD_QUEUE 8

/* Log lines carry the component of the server (ctl, handoff, ...). */
#define c_log(c, lvl, err, ...) \
	log_emit((c)->srv->log, (lvl), (c)->srv->cfg.comp, (err), __VA_ARGS__, LF_END)
#define s_log(s, lvl, err, ...) log_emit((s)->log, (lvl), (s)->cfg.comp, (err), __VA_ARGS__, LF_END)
#define CONN_FIELDS(c)                                                       \
	LF_UINT("conn", (c)->peer.serial), LF_INT("pid", (c)->peer.pid), \
		LF_UINT("uid", (c)->peer.uid)

struct conn {
	struct loop_handler h;
	struct srv *srv;
	struct conn *prev, *next;
	int fd;
	struct conn_peer peer;
	void *opaque;
	uint32_t events;
	bool closing;    /* no more requests; close once the output is flushed */
	bool peer_eof;
	bool dead;       /* close now, output is lost */
	bool paused;     /* reading paused for output backlog (for logging changes) */
	bool in_service; /* inside service(): closing is left to it */
	bool mode_known; /* first byte seen: framed or raw */
	bool raw;
	const char *close_reason;
	struct proto_buf in, out;
	size_t need;
	uint64_t consumed; /* stream offset of in's first byte */
	uint64_t last_progress_ms;
	uint64_t requests;
	uint64_t next_id; /* ids of requests this side sends */
	struct {
		uint64_t off;
		int fd;
	} fdq[CONN_FD_QUEUE];
	unsigned n_fdq;
	/* a descriptor that goes out with the first byte of a queued reply (conn_reply_fd) */
	int out_fd;        /* -1: none */
	uint64_t out_fd_at; /* its stream offset among bytes sent */
	uint64_t out_sent;  /* bytes of output sent so far */
};

/* ---- output ------------------------------------------------------------ */

static void queue_frame(struct conn *c, const struct proto_hdr *h, const void *payload)
{
	if (c->dead)
		return;
	if (!c->out.len)
		c->last_progress_ms = loop_now_ms(); /* the stall clock starts now */
	if (proto_buf_put_frame(&c->out, h, payload, CONN_OUT_LIMIT)) {
		c_log(c, LOG_LVL_ERROR, errno, "cannot queue frame, dropping peer", CONN_FIELDS(c),
		      LF_UINT("queued", c->out.len));
		c->dead = true;
		c->close_reason = "output queue overflow";
	}
}

static void queue_error(struct conn *c, uint8_t type, uint64_t id, enum proto_err code,
			const char *message)
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

/* 0 when queued; -1 when the body could not be encoded (nothing queued). */
static int queue_json(struct conn *c, uint8_t type, uint16_t flags, uint64_t id, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	size_t len = s ? strlen(s) : 0;
	struct proto_hdr h;

	if (!s || len > PROTO_MAX_PAYLOAD) {
		c_log(c, LOG_LVL_ERROR, 0, "cannot encode frame", CONN_FIELDS(c),
		      LF_UINT("length", len));
		free(s);
		return -1;
	}
	h = proto_hdr_make(type, flags, id, (uint32_t)len);
	queue_frame(c, &h, s);
	free(s);
	return 0;
}

/*
 * send(), except that the bytes before a pending descriptor's frame go
 * alone and the frame's first byte carries the descriptor: the peer then
 * receives it with the frame it belongs to.
 */
static ssize_t send_out(struct conn *c)
{
	union scm_fd_buf ctrl;
	struct iovec iov = { .iov_base = (void *)proto_buf_head(&c->out), .iov_len = c->out.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (c->out_fd < 0 || c->out_sent > c->out_fd_at)
		return send(c->fd, iov.iov_base, iov.iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (c->out_sent < c->out_fd_at) {
		iov.iov_len = (size_t)(c->out_fd_at - c->out_sent);
		return sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	scm_attach_fd(&mh, &ctrl, c->out_fd);
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		close(c->out_fd); /* the peer has its own now */
		c->out_fd = -1;
	}
	return n;
}

static void flush(struct conn *c)
{
	while (c->out.len) {
		ssize_t n = send_out(c);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			c_log(c, LOG_LVL_DEBUG, 0, "write failed", CONN_FIELDS(c),
			      LF_STR("err", strerror(errno)));
			c->dead = true;
			c->close_reason = "peer gone";
			return;
		}
		proto_buf_consume(&c->out, (size_t)n);
		c->out_sent += (uint64_t)n;
		c->last_progress_ms = loop_now_ms();
	}
	proto_buf_shrink(&c->out, CONN_BUF_KEEP);
}

/* ---- descriptors ------------------------------------------------------- */

static void close_fds_before(struct conn *c, uint64_t off)
{
	unsigned k = 0;

	for (unsigned i = 0; i < c->n_fdq; i++) {
		if (c->fdq[i].off < off) {
			c_log(c, LOG_LVL_WARN, 0, "descriptor not sent with a frame's first byte, closed",
			      CONN_FIELDS(c), LF_UINT("offset", c->fdq[i].off));
			close(c->fdq[i].fd);
		} else {
			c->fdq[k++] = c->fdq[i];
		}
	}
	c->n_fdq = k;
}

static void take_fds(struct conn *c, uint64_t off, struct conn_fds *fds)
{
	unsigned k = 0;

	fds->n = 0;
	for (unsigned i = 0; i < c->n_fdq; i++) {
		if (c->fdq[i].off == off && fds->n < CONN_MAX_FDS)
			fds->fd[fds->n++] = c->fdq[i].fd;
		else
			c->fdq[k++] = c->fdq[i];
	}
	c->n_fdq = k;
}

static void close_fds(struct conn_fds *fds)
{
	for (unsigned i = 0; i < fds->n; i++) {
		if (fds->fd[i] >= 0)
			close(fds->fd[i]);
	}
	fds->n = 0;
}

/* ---- input ------------------------------------------------------------- */

static bool throttled(const struct conn *c)
{
	return c->out.len >= CONN_OUT_HIGH;
}

static bool accepts_requests(const struct conn *c)
{
	return !c->dead && !c->closing;
}

static void fatal_frame(struct conn *c, enum proto_result res, const struct proto_hdr *h)
{
	/* the header could not be trusted enough to echo, unless only its length was bad */
	bool usable = res == PROTO_TOO_LARGE;
	char msg[128];

	if (usable)
		snprintf(msg, sizeof(msg), "payload length %u exceeds max_payload %u", h->length,
			 PROTO_MAX_PAYLOAD);
	else if (res == PROTO_BAD_VERSION)
		snprintf(msg, sizeof(msg), "protocol version %u not supported, this agent speaks %d",
			 h->version, PROTO_VERSION);
	else
		snprintf(msg, sizeof(msg), "bad magic, expected \"FLCT\"");
	c_log(c, LOG_LVL_WARN, 0, "protocol error, closing connection", CONN_FIELDS(c),
	      LF_STR("error", proto_result_str(res)), LF_STR("message", msg));
	queue_error(c, usable ? h->type : 0, usable ? h->id : 0, proto_result_err(res), msg);
	c->closing = true;
	c->close_reason = "protocol error";
}

/* proto_buf_drain callback: one frame from the peer. */
static int on_frame(void *opaque, enum proto_result res, const struct proto_frame *f)
{
	struct conn *c = opaque;
	const struct proto_hdr *h = &f->hdr;
	const struct conn_ops *ops = c->srv->cfg.ops;
	uint64_t start = c->consumed;
	struct conn_fds fds;

	if (proto_result_is_fatal(res)) {
		fatal_frame(c, res, h);
		return 1;
	}
	c->consumed += f->size;
	close_fds_before(c, start);
	take_fds(c, start, &fds);

	if (res == PROTO_RESERVED)
		queue_error(c, h->type, h->id, PROTO_E_BAD_FRAME, "reserved header field must be 0");
	else if (res == PROTO_BAD_FLAGS)
		queue_error(c, h->type, h->id, PROTO_E_BAD_FRAME,
			    "unknown flag bits, or ERROR without REPLY");
	else if ((h->flags & PROTO_F_REPLY) && ops->reply)
		ops->reply(c, h, f->payload);
	else if (h->flags & PROTO_F_REPLY)
		queue_error(c, h->type, h->id, PROTO_E_BAD_FRAME,
			    "the agent only accepts requests; this frame has the REPLY flag");
	else if (h->id == 0)
		queue_error(c, h->type, h->id, PROTO_E_BAD_FRAME,
			    "request id 0 is reserved for frames that answer no request");
	else {
		c->requests++;
		ops->request(c, h, f->payload, &fds);
	}
	close_fds(&fds);
	return !accepts_requests(c) || throttled(c);
}

static void queue_fds(struct conn *c, struct msghdr *mh, uint64_t off)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (c->n_fdq == CONN_FD_QUEUE) {
				c_log(c, LOG_LVL_WARN, 0, "too many descriptors pending, closed one",
				      CONN_FIELDS(c));
				close(fd);
				continue;
			}
			c->fdq[c->n_fdq].off = off;
			c->fdq[c->n_fdq++].fd = fd;
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		c_log(c, LOG_LVL_WARN, 0, "peer sent more descriptors than accepted, extra ones dropped",
		      CONN_FIELDS(c));
}

static void read_input(struct conn *c)
{
	union {
		char buf[CMSG_SPACE(CONN_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	size_t want = CONN_READ_CHUNK;
	uint64_t off = c->consumed + c->in.len;
	struct msghdr mh = { 0 };
	struct iovec iov;
	ssize_t n;

	/* size the buffer for the whole of a large frame at once */
	if (c->need > c->in.len && c->need - c->in.len > want)
		want = c->need - c->in.len;
	if (proto_buf_reserve(&c->in, want, CONN_IN_LIMIT)) {
		c_log(c, LOG_LVL_ERROR, errno, "cannot grow input buffer", CONN_FIELDS(c));
		c->dead = true;
		c->close_reason = "out of memory";
		return;
	}
	iov.iov_base = proto_buf_tail(&c->in);
	iov.iov_len = proto_buf_room(&c->in);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (c->srv->cfg.max_fds) {
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = CMSG_SPACE(c->srv->cfg.max_fds * sizeof(int));
	}
	do
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		c_log(c, LOG_LVL_DEBUG, 0, "read failed", CONN_FIELDS(c), LF_STR("err", strerror(errno)));
		c->dead = true;
		c->close_reason = "peer gone";
		return;
	}
	if (mh.msg_controllen)
		queue_fds(c, &mh, off);
	if (n == 0) {
		c->peer_eof = true;
		return;
	}
	proto_buf_commit(&c->in, (size_t)n);
}

static void update_events(struct conn *c)
{
	uint32_t ev = 0;

	if (throttled(c) != c->paused) {
		c->paused = throttled(c);
		c_log(c, LOG_LVL_DEBUG, 0,
		      c->paused ? "client throttled: replies pile up, requests paused"
				: "client resumed: replies drained",
		      CONN_FIELDS(c), LF_UINT("queued", c->out.len));
	}
	if (accepts_requests(c) && !c->peer_eof && !throttled(c))
		ev |= EPOLLIN;
	if (c->out.len)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	if (loop_mod(c->srv->lp, c->fd, ev, &c->h)) {
		c_log(c, LOG_LVL_ERROR, errno, "epoll_ctl failed", CONN_FIELDS(c));
		c->dead = true;
		c->close_reason = "internal error";
		return;
	}
	c->events = ev;
}

static void conn_free(struct conn *c)
{
	struct srv *s = c->srv;

	if (s->cfg.ops->closed)
		s->cfg.ops->closed(c);
	loop_del(s->lp, c->fd, &c->h);
	close(c->fd);
	for (unsigned i = 0; i < c->n_fdq; i++)
		close(c->fdq[i].fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	c_log(c, LOG_LVL_INFO, 0, "client disconnected", CONN_FIELDS(c),
	      LF_STR("reason", c->close_reason ? c->close_reason : "closed"),
	      LF_UINT("requests", c->requests));
	proto_buf_free(&c->in);
	proto_buf_free(&c->out);
	free(c);
}

/* Hands buffered bytes to the raw handler (the peer does not speak frames). */
static void drain_raw(struct conn *c)
{
	ssize_t n = c->srv->cfg.ops->raw(c, proto_buf_head(&c->in), c->in.len, c->peer_eof);

	if (n < 0) {
		c->closing = true;
		if (!c->close_reason)
			c->close_reason = "handshake rejected";
		return;
	}
	proto_buf_consume(&c->in, (size_t)n);
	c->consumed += (uint64_t)n;
	if (c->peer_eof) {
		c->closing = true;
		c->close_reason = "peer closed";
	}
}

/*
 * Decides between closing and waiting for the peer, once handlers are
 * done.  Returns false when the connection was freed.
 */
static bool settle(struct conn *c)
{
	if (c->peer_eof && accepts_requests(c) && !throttled(c)) {
		if (c->in.len)
			c_log(c, LOG_LVL_INFO, 0, "peer closed in the middle of a frame", CONN_FIELDS(c),
			      LF_UINT("buffered", c->in.len));
		c->closing = true;
		c->close_reason = "peer closed";
	}
	if (c->dead || (c->closing && !c->out.len)) {
		conn_free(c);
		return false;
	}
	proto_buf_shrink(&c->in, CONN_BUF_KEEP);
	update_events(c);
	if (c->dead) {
		conn_free(c);
		return false;
	}
	return true;
}

/*
 * Processes buffered frames and flushes replies until one of them has to
 * wait for the peer.  Frames left behind by throttling are resumed here
 * when output drains, since no read event will announce them again.
 */
static void service(struct conn *c)
{
	const struct conn_ops *ops = c->srv->cfg.ops;

	c->in_service = true;
	if (!c->mode_known && c->in.len) {
		c->mode_known = true;
		c->raw = ops->raw_first && ops->raw && ops->raw_first(proto_buf_head(&c->in)[0]);
	}
	if (c->raw) {
		if (accepts_requests(c))
			drain_raw(c);
		flush(c);
	}
	while (!c->raw) {
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
	c->in_service = false;
	settle(c);
}

static void conn_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct conn *c = h->opaque;

	(void)lp;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		flush(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->events & EPOLLIN))
		read_input(c);
	service(c);
}

/* Output queued outside service() is sent now; the connection may go. */
static void kick(struct conn *c)
{
	if (c->in_service)
		return;
	flush(c);
	settle(c);
}

/* ---- the API used by handlers ------------------------------------------ */

const struct conn_peer *conn_peer(const struct conn *c)
{
	return &c->peer;
}

struct conn_ref conn_ref(const struct conn *c)
{
	struct conn_ref r = { .server = c->srv->id, .serial = c->peer.serial };

	return r;
}

struct srv *conn_srv(const struct conn *c)
{
	return c->srv;
}

void *conn_opaque(const struct conn *c)
{
	return c->opaque;
}

void conn_set_opaque(struct conn *c, void *opaque)
{
	c->opaque = opaque;
}

void conn_reply(struct conn *c, uint8_t type, uint64_t id, json_t *body)
{
	if (queue_json(c, type, PROTO_F_REPLY, id, body))
		queue_error(c, type, id, PROTO_E_INTERNAL, "reply could not be encoded");
	kick(c);
}

/*
 * A reply that carries fd (SCM_RIGHTS, on its first byte); the connection
 * owns fd from here and closes it once sent or when the peer is gone.  One
 * at a time: -1 (EBUSY, nothing queued, fd still the caller's) while
 * another one is still waiting to be sent.
 */
int conn_reply_fd(struct conn *c, uint8_t type, uint64_t id, json_t *body, int fd)
{
	if (c->out_fd >= 0 || c->dead) {
		errno = c->dead ? ENOTCONN : EBUSY;
		return -1;
	}
	c->out_fd_at = c->out_sent + c->out.len;
	if (queue_json(c, type, PROTO_F_REPLY, id, body)) {
		errno = EMSGSIZE;
		return -1;
	}
	c->out_fd = fd;
	kick(c);
	return 0;
}

void conn_error(struct conn *c, uint8_t type, uint64_t id, enum proto_err code,
		const char *message)
{
	queue_error(c, type, id, code, message);
	kick(c);
}

/* A request from this side; the peer's reply goes to ops->reply. */
int conn_request(struct conn *c, uint8_t type, json_t *body, uint64_t *id)
{
	if (c->dead || c->closing) {
		errno = ENOTCONN;
		return -1;
	}
	*id = ++c->next_id;
	if (queue_json(c, type, 0, *id, body)) {
		errno = EMSGSIZE;
		return -1;
	}
	kick(c);
	return 0;
}

bool conn_has_room(const struct conn *c)
{
	return !c->dead && !c->closing && !throttled(c);
}

int conn_notify(struct conn *c, uint8_t type, json_t *body)
{
	if (c->dead || c->closing) {
		errno = ENOTCONN;
		return -1;
	}
	if (throttled(c)) {
		errno = EAGAIN;
		return -1;
	}
	if (queue_json(c, type, 0, 0, body)) {
		errno = EMSGSIZE;
		return -1;
	}
	kick(c);
	return 0;
}

void conn_take_fds(struct conn *c, uint64_t off, struct conn_fds *fds)
{
	take_fds(c, off, fds);
}

void conn_close(struct conn *c, const char *reason)
{
	if (!c->closing && !c->dead)
		c->close_reason = reason;
	c->closing = true;
	kick(c);
}


/* ---- for srv.c --------------------------------------------------------- */

/* A connection accepted by s; NULL (fd closed, logged) when it cannot be set up. */
struct conn *conn_new(struct srv *s, int fd, const struct ucred *cred)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		s_log(s, LOG_LVL_ERROR, errno, "cannot allocate connection", LF_INT("pid", cred->pid));
		close(fd);
		return NULL;
	}
	c->srv = s;
	c->fd = fd;
	c->out_fd = -1;
	c->peer.serial = ++s->next_serial;
	c->peer.pid = cred->pid;
	c->peer.uid = cred->uid;
	c->peer.gid = cred->gid;
	c->h.fn = conn_ready;
	c->h.opaque = c;
	c->events = EPOLLIN;
	if (s->cfg.ops->opened && s->cfg.ops->opened(c)) {
		s_log(s, LOG_LVL_ERROR, errno, "cannot set up connection", CONN_FIELDS(c));
		goto free_conn;
	}
	if (loop_add(s->lp, fd, c->events, &c->h)) {
		s_log(s, LOG_LVL_ERROR, errno, "cannot watch connection", CONN_FIELDS(c));
		if (s->cfg.ops->closed)
			s->cfg.ops->closed(c);
		goto free_conn;
	}
	c->next = s->conns;
	if (c->next)
		c->next->prev = c;
	s->conns = c;
	s->n_conns++;
	s_log(s, LOG_LVL_INFO, 0, "client connected", CONN_FIELDS(c), LF_UINT("gid", c->peer.gid));
	return c;

free_conn:
	free(c);
	close(fd);
	return NULL;
}

void conn_destroy(struct conn *c, const char *reason)
{
	c->close_reason = reason;
	conn_free(c);
}

struct conn *conn_next(const struct conn *c)
{
	return c->next;
}

/* Replies queued and not read for timeout_ms: the peer is not reading. */
bool conn_stalled(const struct conn *c, uint64_t now, unsigned timeout_ms)
{
	if (!c->out.len || now - c->last_progress_ms < timeout_ms)
		return false;
	c_log(c, LOG_LVL_WARN, 0, "dropping client: replies unread", CONN_FIELDS(c),
	      LF_UINT("queued", c->out.len), LF_UINT("stalled_ms", now - c->last_progress_ms));
	return true;
}

/* At shutdown: sends what can be sent; the fd to wait on, or -1 when done. */
int conn_drain(struct conn *c)
{
	if (!c->dead && c->out.len)
		flush(c);
	return !c->dead && c->out.len ? c->fd : -1;
}

bool conn_is(const struct conn *c, uint64_t serial)
{
	return c->peer.serial == serial && !c->dead;
}
