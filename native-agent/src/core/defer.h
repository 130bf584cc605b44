/*
 * Replies that come later: a request whose answer depends on work done
 * elsewhere (a region populated by a fault worker, a working set installed
 * before a registration is confirmed) is remembered here under a key, and
 * answered - on whichever connection still exists - when the key resolves.
 * Several requests may wait on one key (two clients detaching one region).
 * Loop thread only.
 */
#ifndef FAULTLINE_DEFER_H
#define FAULTLINE_DEFER_H

#include <stdint.h>

#include <jansson.h>

#include "conn.h"
#include "srv.h"

struct defer_entry;

struct defer {
	struct defer_entry *head;
	uint64_t next_key;
};

uint64_t defer_key(struct defer *d);
int defer_add(struct defer *d, uint64_t key, struct conn_ref ref, uint8_t type, uint64_t id);
unsigned defer_answer(struct defer *d, struct srv_hub *hub, uint64_t key, json_t *body);
unsigned defer_fail(struct defer *d, struct srv_hub *hub, uint64_t key, enum proto_err code,
		    const char *message);
void defer_fini(struct defer *d);

#endif /* FAULTLINE_DEFER_H */
