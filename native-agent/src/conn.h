/*
 * Framed connections (PROTOCOL.md §1.1-§1.6 and §2.1): the listening
 * socket, peer credential checks, per-connection buffering, backpressure,
 * stall detection and orderly shutdown shared by the control socket and the
 * handoff sockets.  What a frame means is decided by the server's conn_ops.
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
struct conn_server;
struct conn_hub;
struct log;
struct loop;

struct conn_peer {
	uint64_t serial; /* per server, from 1; for logs and conn_ref */
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Names a connection without keeping it alive. */
struct conn_ref {
	uint64_t server; /* conn_server id in its hub */
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

struct conn_server_cfg {
	const char *comp;        /* log component of this server's lines */
	const char *path;
	mode_t mode;
	bool lock;               /* PATH.lock guards the path (see usock.h) */
	unsigned max_clients;
	unsigned stall_timeout_ms;
	unsigned drain_ms;       /* at stop, time granted to flush queued replies */
	unsigned max_fds;        /* 0: descriptors sent by peers are discarded */
	const uid_t *allow_uids;
	unsigned n_allow_uids;
	const struct conn_ops *ops;
	void *opaque;
};

struct conn_hub *conn_hub_new(void);
void conn_hub_free(struct conn_hub *hub);
struct conn *conn_hub_find(struct conn_hub *hub, struct conn_ref ref);

struct conn_server *conn_server_start(struct loop *lp, struct log *lg, struct conn_hub *hub,
				      const struct conn_server_cfg *cfg);
void conn_server_stop(struct conn_server *s);
void *conn_server_opaque(const struct conn_server *s);
unsigned conn_server_count(const struct conn_server *s);

const struct conn_peer *conn_peer(const struct conn *c);
struct conn_ref conn_ref(const struct conn *c);
struct conn_server *conn_server(const struct conn *c);
void *conn_opaque(const struct conn *c);
void conn_set_opaque(struct conn *c, void *opaque);
struct log *conn_log(const struct conn *c);

void conn_reply(struct conn *c, uint8_t type, uint64_t id, json_t *body);
void conn_error(struct conn *c, uint8_t type, uint64_t id, enum proto_err code,
		const char *message);
int conn_request(struct conn *c, uint8_t type, json_t *body, uint64_t *id);
void conn_close(struct conn *c, const char *reason);
/* For raw handlers: claims the descriptors that arrived with stream byte off. */
void conn_take_fds(struct conn *c, uint64_t off, struct conn_fds *fds);

#endif /* FAULTLINE_CONN_H */
