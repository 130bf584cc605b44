/*
 * Listening AF_UNIX sockets serving framed connections: the control socket
 * and the handoff sockets.  A server owns its path (usock.h), checks each
 * peer with SO_PEERCRED against its allowed uids, bounds the number of
 * clients, drops clients whose replies stay unread, and at stop gives
 * queued replies a bounded time to leave.  Servers register in a hub, so
 * that a reply that comes later finds its connection by conn_ref, or
 * learns that it is gone.  Loop thread only.
 */
#ifndef FAULTLINE_SRV_H
#define FAULTLINE_SRV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "loop.h"
#include "usock.h"

struct log;

struct srv_cfg {
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

struct srv_hub {
	struct srv *servers;
	uint64_t next_id;
};

/* Shared with conn.c, which links its connections into `conns`. */
struct srv {
	struct srv_cfg cfg;
	struct srv_hub *hub;
	struct srv *hub_next;
	uint64_t id;
	struct loop *lp;
	struct log *log;
	struct loop_handler listen_h;
	struct usock sock;
	bool listening;
	bool accept_paused;
	struct conn *conns;
	unsigned n_conns;
	uint64_t next_serial;
	struct loop_timer sweep;
};

struct srv_hub *srv_hub_new(void);
void srv_hub_free(struct srv_hub *hub);
struct conn *srv_hub_find(struct srv_hub *hub, struct conn_ref ref);

struct srv *srv_start(struct loop *lp, struct log *lg, struct srv_hub *hub,
		      const struct srv_cfg *cfg);
void srv_stop(struct srv *s);
void *srv_opaque(const struct srv *s);

#endif /* FAULTLINE_SRV_H */
