/*
 * Framed connections (PROTOCOL.md §1.1-§1.6 and §2.1): per-connection
 * buffering, framing, backpressure and descriptor passing shared by the
 * control socket and the handoff sockets (accepted by srv.c).  What a frame
 * means is decided by the server's conn_ops.
 *
 * Beyond the control socket's needs, a connection can:
 *   - receive file descriptors (SCM_RIGHTS); a descriptor belongs to the
 *     frame whose first byte arrived with it (§2.1);
 *   - send requests of its own and receive the peer's replies (§2.1: either
 *     side may send requests);
 *   - be answered later: a request may be left unanswered by its handler and
 *     replied to from anywhere on the loop thread, looked up by conn_ref
 *     (the connection may be gone by then);
 *   - hand its byte stream to a raw handler when the first byte is not the
 *     frame magic (Firecracker's handshake starts with '[').
 * All of it runs on the loop thread.
 */
#ifndef FAULTLINE_CONN_H
#define FAULTLINE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto.h"

#define CONN_MAX_FDS 4

struct conn;
struct log;
struct srv;
struct ucred;

struct conn_peer {
	uint64_t serial; /* per server, from 1; for logs and conn_ref */
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Names a connection without keeping it alive. */
struct conn_ref {
	uint64_t server; /* srv id in its hub */
	uint64_t serial;
};

/* Descriptors that arrived with a frame's first byte; a handler keeps one by
 * setting its slot to -1, the rest are closed after the handler returns. */
struct conn_fds {
	int fd[CONN_MAX_FDS];
	unsigned n;
};

struct conn_ops {
	/* A request frame (no flags, id != 0) after the generic checks. */
	void (*request)(struct conn *c, const struct proto_hdr *h, const uint8_t *payload,
			struct conn_fds *fds);
	/* A reply to a request this side sent; NULL: replies are BAD_FRAME. */
	void (*reply)(struct conn *c, const struct proto_hdr *h, const uint8_t *payload);
	/*
	 * The stream does not start with a frame (first byte is not 'F') and
	 * raw_first says this handler wants it: every read is then handed over
	 * as it is.  Returns how many bytes it consumed, or -1 to close.
	 */
	bool (*raw_first)(uint8_t first_byte);
	ssize_t (*raw)(struct conn *c, const uint8_t *buf, size_t len, bool eof);
	/* After accept and before close; for per-connection state. */
	int (*opened)(struct conn *c);
	void (*closed)(struct conn *c);
};

const struct conn_peer *conn_peer(const struct conn *c);
struct conn_ref conn_ref(const struct conn *c);
struct srv *conn_srv(const struct conn *c);
void *conn_opaque(const struct conn *c);
void conn_set_opaque(struct conn *c, void *opaque);

void conn_reply(struct conn *c, uint8_t type, uint64_t id, json_t *body);
int conn_reply_fd(struct conn *c, uint8_t type, uint64_t id, json_t *body, int fd);
void conn_error(struct conn *c, uint8_t type, uint64_t id, enum proto_err code,
		const char *message);
int conn_request(struct conn *c, uint8_t type, json_t *body, uint64_t *id);
/*
 * A notification (request id 0, no flags, never answered).  Refused with
 * EAGAIN instead of queued while the peer has not read what is queued
 * already: notifications are the first thing a slow reader loses.
 */
int conn_notify(struct conn *c, uint8_t type, json_t *body);
/* Whether conn_notify() would queue a frame now (the peer reads what came before). */
bool conn_has_room(const struct conn *c);
void conn_close(struct conn *c, const char *reason);
/* For raw handlers: claims the descriptors that arrived with stream byte off. */
void conn_take_fds(struct conn *c, uint64_t off, struct conn_fds *fds);

/* For srv.c. */
struct conn *conn_new(struct srv *s, int fd, const struct ucred *cred);
void conn_destroy(struct conn *c, const char *reason);
struct conn *conn_next(const struct conn *c);
bool conn_stalled(const struct conn *c, uint64_t now, unsigned timeout_ms);
int conn_drain(struct conn *c);
bool conn_is(const struct conn *c, uint64_t serial);

#endif /* FAULTLINE_CONN_H */
