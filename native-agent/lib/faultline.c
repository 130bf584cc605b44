/*
 * libfaultline (PROTOCOL.md §2.4).
 *
 * A client is one connection to a handoff socket plus a watcher thread
 * that is its only reader: it delivers replies to the threads waiting for
 * them, answers the agent's requests (region_detached), and when the agent
 * goes away it reconnects with backoff and registers every region again
 * with its id as resume_id.  Locks: `mu` guards the client's state, `send_mu`
 * serialises frames on the socket (and keeps the socket open while a frame
 * is written); `mu` is never held across I/O.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "faultline.h"
#include "fluffd.h"
#include "flwire.h"
#include "uffd_compat.h"

#define FL_CLIENT "libfaultline 0.1.0"
#define FL_TIMEOUT_MS 60000
#define FL_UNREGISTER_TIMEOUT_MS 5000
#define FL_BACKOFF_MIN_MS 10
#define FL_BACKOFF_MAX_MS 1000
#define FL_ID_LEN 36

struct fl_wait {
	struct fl_wait *next;
	uint64_t id;
	bool done;
	int err;
	int fd; /* a descriptor that came with the reply (clone_memory), or -1 */
	json_t *reply;
	char msg[200];
};

struct fl_region {
	struct fl_region *next;
	fl_client *c;
	int refs;           /* the client's list + a watcher re-registering it */
	char id[FL_ID_LEN + 1];
	void *addr;
	size_t len;
	struct flu_uffds u; /* fd -1 once the agent released the region */
	json_t *payload;    /* region_register payload, sent again on reconnect */
	uint64_t resumed;   /* connection generation it was last registered on */
	_Atomic int migrated; /* the agent said the region moved to another host */
};

struct fl_client {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t send_mu;
	int refs; /* the user's handle + one per region */
	char *path;
	struct flw w; /* read by the watcher only (and fl_connect before it starts) */
	int sock;     /* w.fd for senders; -1 while disconnected */
	uint64_t gen; /* connections made so far */
	uint64_t ready_gen; /* the last connection whose regions were registered again */
	pid_t agent_pid;
	uint64_t next_id;
	struct fl_wait *waits;
	struct fl_region *regions;
	pthread_t thread;
	bool has_thread;
	bool stopping;
	int wake[2];
	bool clone; /* the hello said: a restore session of mode clone (PROTOCOL.md §2.5) */
	int (*quiesce_fn)(void *arg, int phase); /* under mu */
	void *quiesce_arg;
};

static _Thread_local char last_error[256];

const char *fl_last_error(void)
{
	return last_error;
}

static int set_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* ---- frames ------------------------------------------------------------ */

static int send_frame(fl_client *c, uint8_t type, uint16_t flags, uint64_t id, json_t *body,
		      const int *pass)
{
	int fd, ret;

	pthread_mutex_lock(&c->send_mu);
	pthread_mutex_lock(&c->mu);
	fd = c->sock;
	pthread_mutex_unlock(&c->mu);
	if (fd < 0) {
		errno = ENOTCONN;
		ret = -1;
	} else {
		ret = flw_send(fd, type, flags, id, body, pass);
	}
	pthread_mutex_unlock(&c->send_mu);
	return ret;
}

static int error_errno(const char *code)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
		{ "BAD_REQUEST", EINVAL }, { "CONFLICT", EEXIST },	   { "NOT_FOUND", ENOENT },
		{ "PERMISSION_DENIED", EACCES }, { "INTERNAL", EIO }, { "NOT_NEGOTIATED", EPROTO },
		{ "TOO_MANY_CLIENTS", EAGAIN },
	};

	for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(code, map[i].code))
			return map[i].err;
	}
	return EPROTO;
}

static uint64_t next_id(fl_client *c)
{
	uint64_t id;

	pthread_mutex_lock(&c->mu);
	id = ++c->next_id;
	pthread_mutex_unlock(&c->mu);
	return id;
}

static void fail_waits(fl_client *c, int err, const char *msg)
{
	for (struct fl_wait *w = c->waits; w; w = w->next) {
		w->done = true;
		w->err = err;
		snprintf(w->msg, sizeof(w->msg), "%s", msg);
	}
	c->waits = NULL;
	pthread_cond_broadcast(&c->cv);
}

static void deliver(fl_client *c, const struct proto_hdr *h, json_t *body)
{
	pthread_mutex_lock(&c->mu);
	for (struct fl_wait **pp = &c->waits; *pp; pp = &(*pp)->next) {
		struct fl_wait *w = *pp;

		if (w->id != h->id)
			continue;
		*pp = w->next;
		w->done = true;
		if (h->flags & PROTO_F_ERROR) {
			const char *code = json_string_value(json_object_get(body, "code"));
			const char *msg = json_string_value(json_object_get(body, "message"));

			w->err = error_errno(code);
			snprintf(w->msg, sizeof(w->msg), "agent: %s: %s", code ? code : "?",
				 msg ? msg : "");
		} else {
			w->reply = json_incref(body);
			if (h->type == PROTO_T_CLONE_MEMORY)
				w->fd = flw_take_fd(&c->w);
		}
		pthread_cond_broadcast(&c->cv);
		break;
	}
	pthread_mutex_unlock(&c->mu);
}

/* region_detached: the agent populated and released the region; our copy goes. */
static void on_detached(fl_client *c, json_t *body)
{
	const char *id = json_string_value(json_object_get(body, "id"));
	struct flu_uffds u = { .fd = -1, .hold_fd = -1 };

	pthread_mutex_lock(&c->mu);
	for (struct fl_region *r = c->regions; id && r; r = r->next) {
		if (!strcmp(r->id, id)) {
			u = r->u;
			r->u.fd = r->u.hold_fd = -1;
		}
	}
	pthread_mutex_unlock(&c->mu);
	/* the agent unregistered the range already */
	if (u.fd >= 0)
		close(u.fd);
	if (u.hold_fd >= 0)
		close(u.hold_fd);
}

/*
 * region_migrated: the region lives on another host now.  Its writers are
 * held on the hold uffd for good (they must never run here again); the
 * uffds stay open so that they keep waiting.  The workload learns it with
 * fl_region_migrated() and exits or unmaps the range.
 */
static void on_migrated(fl_client *c, json_t *body)
{
	const char *id = json_string_value(json_object_get(body, "id"));

	pthread_mutex_lock(&c->mu);
	for (struct fl_region *r = c->regions; id && r; r = r->next) {
		if (!strcmp(r->id, id))
			atomic_store(&r->migrated, 1);
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int fl_set_quiesce_handler(fl_client *c, int (*fn)(void *arg, int phase), void *arg)
{
	if (!c) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&c->mu);
	c->quiesce_fn = fn;
	c->quiesce_arg = arg;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* quiesce {"phase": "begin"|"end"}: the application's handler says whether it is quiet. */
static void on_quiesce(fl_client *c, const struct proto_hdr *h, json_t *body)
{
	const char *phase = json_string_value(json_object_get(body, "phase"));
	int (*fn)(void *, int);
	void *arg;
	json_t *reply;
	int ret = -1;

	pthread_mutex_lock(&c->mu);
	fn = c->quiesce_fn;
	arg = c->quiesce_arg;
	pthread_mutex_unlock(&c->mu);
	if (fn && phase && !strcmp(phase, "begin"))
		ret = fn(arg, FL_QUIESCE_BEGIN);
	else if (fn && phase && !strcmp(phase, "end"))
		ret = fn(arg, FL_QUIESCE_END);
	reply = json_pack("{s:b, s:s}", "quiesced", ret == 0, "reason",
			  !fn ? "no quiesce handler" : ret ? "the handler declined" : "");
	send_frame(c, h->type, PROTO_F_REPLY, h->id, reply, NULL);
	json_decref(reply);
}

/* One frame read by the watcher (or by fl_connect before it runs). */
static void handle_frame(fl_client *c, const struct proto_hdr *h, json_t *body)
{
	json_t *empty;

	if (h->flags & PROTO_F_REPLY) {
		deliver(c, h, body);
		return;
	}
	if (h->type == PROTO_T_QUIESCE) {
		on_quiesce(c, h, body);
		return;
	}
	if (h->type == PROTO_T_REGION_DETACHED)
		on_detached(c, body);
	if (h->type == PROTO_T_REGION_MIGRATED)
		on_migrated(c, body);
	if (h->type == PROTO_T_REGION_DETACHED || h->type == PROTO_T_PING ||
	    h->type == PROTO_T_REGION_MIGRATED) {
		empty = json_object();
		send_frame(c, h->type, PROTO_F_REPLY, h->id, empty, NULL);
		json_decref(empty);
		return;
	}
	empty = json_pack("{s:s, s:s}", "code", "UNKNOWN_TYPE", "message", "not a libfaultline request");
	send_frame(c, h->type, PROTO_F_REPLY | PROTO_F_ERROR, h->id, empty, NULL);
	json_decref(empty);
}

/*
 * A request whose reply the calling thread reads itself: used where no
 * watcher reads the socket (connecting, and inside the watcher).
 */
static int call_direct(fl_client *c, uint8_t type, json_t *body, const int *pass, json_t **reply)
{
	uint64_t id = next_id(c);

	int send_err = 0;

	*reply = NULL;
	/*
	 * A peer that refused the connection (too many clients) has sent why
	 * and closed, maybe before our request went out: read its frame
	 * before reporting the failed send.
	 */
	if (send_frame(c, type, 0, id, body, pass))
		send_err = errno;
	for (;;) {
		struct proto_hdr h;
		json_t *b;
		enum flw_recv r = flw_recv(&c->w, send_err ? 100 : FL_TIMEOUT_MS, c->wake[0], &h, &b);

		if (send_err && r != FLW_FRAME)
			return set_error(send_err, "cannot send %s: %s", proto_type_name(type),
					 strerror(send_err));
		if (r == FLW_TIMEOUT)
			return set_error(ETIMEDOUT, "no reply to %s", proto_type_name(type));
		if (r != FLW_FRAME)
			return set_error(r == FLW_STOPPED ? ECANCELED : errno, "agent connection lost");
		/* an error that answers no request (id 0) ends the connection: it is the answer */
		if ((h.flags & PROTO_F_REPLY) && (h.id == id || (h.id == 0 && (h.flags & PROTO_F_ERROR)))) {
			if (h.flags & PROTO_F_ERROR) {
				const char *code = json_string_value(json_object_get(b, "code"));
				const char *msg = json_string_value(json_object_get(b, "message"));

				set_error(error_errno(code), "agent: %s: %s", code ? code : "?",
					  msg ? msg : "");
				json_decref(b);
				return -1;
			}
			*reply = b;
			return 0;
		}
		handle_frame(c, &h, b);
		json_decref(b);
	}
}

/* A request answered through the watcher; fd_out: a descriptor the reply carries. */
static int call_fd(fl_client *c, uint8_t type, json_t *body, const int *pass, int timeout_ms,
		   json_t **reply, int *fd_out)
{
	struct fl_wait w = { .id = 0, .fd = -1 };
	struct timespec deadline;
	int ret = 0;

	*reply = NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	if (c->sock < 0 || c->stopping) {
		pthread_mutex_unlock(&c->mu);
		return set_error(ENOTCONN, "not connected to the agent (it may be restarting)");
	}
	w.id = ++c->next_id;
	w.next = c->waits;
	c->waits = &w;
	pthread_mutex_unlock(&c->mu);

	if (send_frame(c, type, 0, w.id, body, pass))
		ret = errno;
	pthread_mutex_lock(&c->mu);
	while (!ret && !w.done)
		ret = pthread_cond_timedwait(&c->cv, &c->mu, &deadline);
	if (!w.done) {
		for (struct fl_wait **pp = &c->waits; *pp; pp = &(*pp)->next) {
			if (*pp == &w) {
				*pp = w.next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (!w.done)
		return set_error(ret, "%s: %s", proto_type_name(type),
				 ret == ETIMEDOUT ? "no reply from the agent" : strerror(ret));
	if (w.err)
		return set_error(w.err, "%s", w.msg);
	*reply = w.reply;
	if (fd_out)
		*fd_out = w.fd;
	else if (w.fd >= 0)
		close(w.fd);
	return 0;
}

static int call(fl_client *c, uint8_t type, json_t *body, const int *pass, int timeout_ms,
		json_t **reply)
{
	return call_fd(c, type, body, pass, timeout_ms, reply, NULL);
}

/* ---- connection -------------------------------------------------------- */

/* Connects and says hello; the agent's pid may then trace us (Yama). */
static int open_connection(fl_client *c)
{
	json_t *hello = json_pack("{s:s, s:i}", "client", FL_CLIENT, "protocol", PROTO_VERSION);
	json_t *reply = NULL;
	int fd = flw_connect(c->path), ret;

	if (fd < 0) {
		json_decref(hello);
		return set_error(errno, "cannot connect to %s: %s", c->path, strerror(errno));
	}
	c->w.fd = fd;
	pthread_mutex_lock(&c->mu);
	c->sock = fd;
	c->gen++;
	pthread_mutex_unlock(&c->mu);
	ret = hello ? call_direct(c, PROTO_T_HELLO, hello, NULL, &reply) : set_error(ENOMEM, "out of memory");
	json_decref(hello);
	if (ret) {
		int err = errno;

		pthread_mutex_lock(&c->send_mu);
		pthread_mutex_lock(&c->mu);
		c->sock = -1;
		pthread_mutex_unlock(&c->mu);
		flw_reset(&c->w);
		pthread_mutex_unlock(&c->send_mu);
		errno = err;
		return -1;
	}
	/*
	 * Who may trace us is the process at the other end of the socket, as
	 * the kernel says (SO_PEERCRED), never the number in its hello: a
	 * process that took over the socket path could name any pid there.
	 * The kernel's pid is in our pid namespace (0: not visible from here,
	 * then nobody is allowed).
	 */
	{
		struct ucred cred = { 0 };
		socklen_t cl = sizeof(cred);

		const char *mode = json_string_value(json_object_get(json_object_get(reply, "restore"),
								     "mode"));

		c->clone = mode && !strcmp(mode, "clone");
		json_decref(reply);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cl != sizeof(cred))
			cred.pid = 0;
		c->agent_pid = cred.pid;
	}
	/* EINVAL without Yama: nothing to allow then */
	if (c->agent_pid > 0)
		prctl(PR_SET_PTRACER, (unsigned long)c->agent_pid, 0, 0, 0);
	return 0;
}

/* Not exported (lib/faultline.map): the tests check which pid was trusted. */
pid_t flc_agent_pid(const fl_client *c)
{
	return c->agent_pid;
}

static void lost_connection(fl_client *c)
{
	pthread_mutex_lock(&c->send_mu);
	pthread_mutex_lock(&c->mu);
	c->sock = -1;
	fail_waits(c, ECONNRESET, "agent connection lost");
	pthread_mutex_unlock(&c->mu);
	flw_reset(&c->w);
	pthread_mutex_unlock(&c->send_mu);
}

static void region_unref(struct fl_region *r);

/*
 * After a reconnect: every region the agent served is registered again with
 * its id, one at a time, the watcher reading the replies itself.  A region
 * the new agent refuses stays as it is and is tried again on the next
 * reconnect (its faults wait rather than be served wrongly).
 */
static void resume_regions(fl_client *c)
{
	for (;;) {
		struct fl_region *r = NULL;
		json_t *reply;
		int fds[FLW_MAX_FDS] = { -1, -1 };

		pthread_mutex_lock(&c->mu);
		for (struct fl_region *x = c->regions; x && !r; x = x->next) {
			if (x->u.fd < 0 || x->resumed == c->gen)
				continue;
			r = x;
			r->refs++;
			r->resumed = c->gen;
			/* an unregister may close the originals meanwhile */
			fds[0] = dup(r->u.fd);
			if (r->u.hold_fd >= 0)
				fds[1] = dup(r->u.hold_fd);
		}
		pthread_mutex_unlock(&c->mu);
		if (!r)
			return;
		if (fds[0] >= 0 && (r->u.hold_fd < 0 || fds[1] >= 0) &&
		    !call_direct(c, PROTO_T_REGION_REGISTER, r->payload, fds, &reply))
			json_decref(reply);
		for (unsigned i = 0; i < FLW_MAX_FDS; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
		}
		region_unref(r);
		if (c->w.fd < 0)
			return; /* lost again: the next connection starts over */
	}
}

static bool stop_requested(fl_client *c, int wait_ms)
{
	struct pollfd pfd = { .fd = c->wake[0], .events = POLLIN };

	return poll(&pfd, 1, wait_ms) > 0;
}

static void *watcher(void *arg)
{
	fl_client *c = arg;
	unsigned backoff = FL_BACKOFF_MIN_MS;

	for (;;) {
		struct proto_hdr h;
		json_t *body;
		enum flw_recv r;

		if (c->w.fd < 0) {
			if (stop_requested(c, (int)backoff))
				break;
			if (open_connection(c)) {
				backoff = backoff * 2 > FL_BACKOFF_MAX_MS ? FL_BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = FL_BACKOFF_MIN_MS;
			resume_regions(c);
			pthread_mutex_lock(&c->mu);
			c->ready_gen = c->gen;
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->mu);
			continue;
		}
		r = flw_recv(&c->w, -1, c->wake[0], &h, &body);
		if (r == FLW_STOPPED)
			break;
		if (r != FLW_FRAME) {
			lost_connection(c);
			continue;
		}
		handle_frame(c, &h, body);
		json_decref(body);
	}
	return NULL;
}

fl_client *fl_connect(const char *socket_path)
{
	pthread_condattr_t ca;
	fl_client *c;
	int err;

	if (!socket_path)
		socket_path = getenv("FAULTLINE_HANDOFF");
	if (!socket_path || !*socket_path) {
		set_error(EINVAL, "no socket path and $FAULTLINE_HANDOFF is not set");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_error(ENOMEM, "out of memory");
		return NULL;
	}
	c->refs = 1;
	c->sock = c->w.fd = c->wake[0] = c->wake[1] = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->send_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->path = strdup(socket_path);
	if (!c->path || pipe2(c->wake, O_CLOEXEC | O_NONBLOCK)) {
		set_error(errno ? errno : ENOMEM, "cannot set up the client: %s", strerror(errno));
		goto free_client;
	}
	if (open_connection(c))
		goto free_client;
	c->ready_gen = c->gen;
	err = pthread_create(&c->thread, NULL, watcher, c);
	if (err) {
		set_error(err, "cannot start the watcher thread: %s", strerror(err));
		lost_connection(c);
		goto free_client;
	}
	c->has_thread = true;
	return c;

free_client:
	err = errno;
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c->path);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->send_mu);
	free(c);
	errno = err;
	return NULL;
}

static void client_unref(fl_client *c)
{
	bool last;

	pthread_mutex_lock(&c->mu);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	close(c->wake[0]);
	close(c->wake[1]);
	free(c->path);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->send_mu);
	free(c);
}

void fl_disconnect(fl_client *c)
{
	ssize_t n;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	do
		n = write(c->wake[1], "x", 1);
	while (n < 0 && errno == EINTR);
	if (c->has_thread)
		pthread_join(c->thread, NULL);
	c->has_thread = false;
	lost_connection(c);
	client_unref(c);
}

/* ---- regions ----------------------------------------------------------- */

static void region_unref(struct fl_region *r)
{
	fl_client *c = r->c;
	bool last;

	pthread_mutex_lock(&c->mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	json_decref(r->payload);
	free(r);
	client_unref(c);
}

const char *fl_region_id(const fl_region *r)
{
	return r ? r->id : NULL;
}

int fl_region_migrated(const fl_region *r)
{
	return r ? atomic_load(&((fl_region *)r)->migrated) : 0;
}

int fl_region_unregister(fl_region *r)
{
	fl_client *c;
	json_t *body, *reply = NULL;
	struct flu_uffds u;
	bool tell;

	if (!r)
		return set_error(EINVAL, "no region");
	c = r->c;
	pthread_mutex_lock(&c->mu);
	for (struct fl_region **pp = &c->regions; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	u = r->u;
	r->u.fd = r->u.hold_fd = -1;
	tell = u.fd >= 0 && c->sock >= 0 && !c->stopping;
	pthread_mutex_unlock(&c->mu);
	/* the agent first, so that it stops serving before the range goes */
	body = json_pack("{s:s}", "id", r->id);
	if (tell && body && !call(c, PROTO_T_REGION_UNREGISTER, body, NULL, FL_UNREGISTER_TIMEOUT_MS, &reply))
		json_decref(reply);
	json_decref(body);
	flu_close(&u, r->addr, r->len);
	region_unref(r);
	return 0;
}


/*
 * The agent went away during a request: waits until the watcher has a new
 * connection past gen and has registered the known regions on it again.
 * -1 (ETIMEDOUT, ECANCELED) when that does not happen by the deadline.
 */
static int wait_reconnected(fl_client *c, uint64_t gen, const struct timespec *deadline)
{
	int ret = 0;

	pthread_mutex_lock(&c->mu);
	while (!ret && !c->stopping && c->ready_gen <= gen)
		ret = pthread_cond_timedwait(&c->cv, &c->mu, deadline);
	ret = c->ready_gen > gen ? 0 : c->stopping ? ECANCELED : ETIMEDOUT;
	pthread_mutex_unlock(&c->mu);
	return ret ? set_error(ret, "the agent did not come back: %s", strerror(ret)) : 0;
}
/*
 * A clone session (PROTOCOL.md §2.5): the range becomes a private mapping
 * of the image's shared copy, which the agent hands over with
 * clone_memory; registered in minor mode, a read maps the shared page and
 * a write copies that page alone (the kernel's copy-on-write).  What the
 * range held before is replaced, as a restore replaces it anyway.
 */
static int map_clone(fl_client *c, void *addr, size_t len, size_t *page_size)
{
	json_t *body = json_object(), *reply = NULL;
	json_int_t off, size, ps;
	int fd = -1, ret;
	void *m;

	ret = body ? call_fd(c, PROTO_T_CLONE_MEMORY, body, NULL, FL_TIMEOUT_MS, &reply, &fd)
		   : set_error(ENOMEM, "out of memory");
	json_decref(body);
	if (ret)
		return -1;
	off = json_integer_value(json_object_get(reply, "offset"));
	size = json_integer_value(json_object_get(reply, "image_size"));
	ps = json_integer_value(json_object_get(reply, "page_size"));
	json_decref(reply);
	/* the copy's page size is the mapping's: no walk of /proc/self/smaps (ms for a big process) */
	*page_size = ps >= 4096 && !(ps & (ps - 1)) ? (size_t)ps : 0;
	if (fd < 0)
		return set_error(EPROTO, "the agent's clone_memory reply carries no descriptor");
	if (off < 0 || size < off || (uint64_t)(size - off) < len) {
		close(fd);
		return set_error(EINVAL, "the region (%zu bytes) is larger than the image from offset %lld",
				 len, (long long)off);
	}
	m = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE, fd, (off_t)off);
	ret = errno;
	close(fd); /* the mapping keeps the shared copy */
	if (m == MAP_FAILED)
		return set_error(ret, "cannot map the shared copy over the region: %s", strerror(ret));
	return 0;
}

int fl_region_register(fl_client *c, void *addr, size_t len, const char *name,
		       const char *labels, unsigned modes, fl_region **out)
{
	json_t *payload, *lab, *reply = NULL, *mode_list;
	struct flu_uffds u;
	struct fl_region *r;
	int fds[FLW_MAX_FDS];
	bool again;
	struct timespec deadline;
	uint64_t gen;
	size_t ps;

	if (!c || !addr || !len || !out)
		return set_error(EINVAL, "c, addr, len and out are required");
	if (!modes || (modes & ~(unsigned)(FL_MODE_MISSING | FL_MODE_WP | FL_MODE_MINOR)))
		return set_error(EINVAL, "modes must be a non-empty set of FL_MODE_*");
	if (c->clone) {
		if (modes != FL_MODE_MISSING)
			return set_error(EINVAL, "a clone session restores in FL_MODE_MISSING alone");
		if (map_clone(c, addr, len, &ps))
			return -1;
		if (!ps)
			ps = flu_page_size(addr);
		/*
		 * Missing too on a shmem copy: a read of one of its holes (a zero page
		 * of the image) is no minor fault, and the kernel would fill the hole
		 * in the shared copy for every clone after it; as a missing fault the
		 * agent maps the zero page instead.  A hugetlbfs copy keeps minor
		 * alone: a private 2 MiB zero page per clone costs more than one in
		 * the copy.
		 */
		modes = FL_MODE_MINOR;
		if (ps == (size_t)sysconf(_SC_PAGESIZE))
			modes |= FL_MODE_MISSING;
	} else {
		ps = flu_page_size(addr);
	}
	if ((uintptr_t)addr % ps || len % ps)
		return set_error(EINVAL, "the range is not aligned to its page size %zu", ps);
	lab = flu_labels(labels);
	if (!lab)
		return set_error(EINVAL, "labels must look like \"k=v,k2=v2\"");
	mode_list = json_array();
	if (modes & FL_MODE_MISSING)
		json_array_append_new(mode_list, json_string("missing"));
	if (modes & FL_MODE_WP)
		json_array_append_new(mode_list, json_string("wp"));
	if (modes & FL_MODE_MINOR)
		json_array_append_new(mode_list, json_string("minor"));
	if (flu_create(modes, addr, len, &u, last_error, sizeof(last_error))) {
		json_decref(lab);
		json_decref(mode_list);
		return -1;
	}
	fds[0] = u.fd;
	fds[1] = u.hold_fd;
	payload = json_pack("{s:s, s:o, s:I, s:I, s:I, s:o, s:I, s:n, s:I}", "name",
			    name && *name ? name : "region", "labels", lab, "start",
			    (json_int_t)(uintptr_t)addr, "length", (json_int_t)len, "page_size",
			    (json_int_t)ps, "modes", mode_list, "features", (json_int_t)u.features,
			    "resume_id", "ioctls", (json_int_t)u.ioctls);
	/* the second descriptor and what it is (PROTOCOL.md §2.1) */
	if (payload && u.hold_fd >= 0 &&
	    (json_object_set_new(payload, "hold_uffd", json_true()) ||
	     json_object_set_new(payload, "hold_features", json_integer((json_int_t)u.hold_features)))) {
		json_decref(payload);
		payload = NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!payload || !r) {
		set_error(ENOMEM, "out of memory");
		goto unregister;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += FL_TIMEOUT_MS / 1000;
	/*
	 * An agent that dies before it answers (it may have served the region
	 * already) takes the registration with it: it is sent again, as a new
	 * region, once the watcher is connected to the next agent.
	 */
	for (;;) {
		int err;

		pthread_mutex_lock(&c->mu);
		gen = c->gen;
		pthread_mutex_unlock(&c->mu);
		if (!call(c, PROTO_T_REGION_REGISTER, payload, fds, FL_TIMEOUT_MS, &reply))
			break;
		err = errno;
		if ((err != ECONNRESET && err != ENOTCONN) || wait_reconnected(c, gen, &deadline))
			goto unregister;
	}
	if (!json_is_string(json_object_get(reply, "id")) ||
	    json_string_length(json_object_get(reply, "id")) != FL_ID_LEN) {
		set_error(EPROTO, "the agent's reply has no region id");
		goto unregister;
	}
	memcpy(r->id, json_string_value(json_object_get(reply, "id")), FL_ID_LEN + 1);
	json_decref(reply);
	json_object_set_new(payload, "resume_id", json_string(r->id));
	r->c = c;
	r->refs = 1;
	r->addr = addr;
	r->len = len;
	r->u = u;
	r->payload = payload;
	pthread_mutex_lock(&c->mu);
	c->refs++;
	r->next = c->regions;
	c->regions = r;
	/* the agent restarted between our reply and now: the watcher's resume
	 * may have run without this region, so register it again here */
	r->resumed = c->gen;
	again = gen != c->gen;
	pthread_mutex_unlock(&c->mu);
	if (again && !call(c, PROTO_T_REGION_REGISTER, payload, fds, FL_TIMEOUT_MS, &reply))
		json_decref(reply);
	*out = r;
	return 0;

unregister:
	{
		int err = errno;

		flu_close(&u, addr, len);
		json_decref(reply);
		json_decref(payload);
		free(r);
		errno = err;
	}
	return -1;
}
