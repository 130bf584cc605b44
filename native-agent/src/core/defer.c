/*
 * Deferred replies; see defer.h.
 */
#include <stdlib.h>

#include "defer.h"

struct defer_entry {
	struct defer_entry *next;
	uint64_t key;
	struct conn_ref ref;
	uint8_t type;
	uint64_t id;
};

/* Keys are never reused, so a late answer cannot reach a newer waiter. */
uint64_t defer_key(struct defer *d)
{
	return ++d->next_key;
}

int defer_add(struct defer *d, uint64_t key, struct conn_ref ref, uint8_t type, uint64_t id)
{
	struct defer_entry *e = malloc(sizeof(*e));

	if (!e)
		return -1;
	e->key = key;
	e->ref = ref;
	e->type = type;
	e->id = id;
	e->next = d->head;
	d->head = e;
	return 0;
}

/* Answers every waiter of key (with body, or an error when body is NULL). */
static unsigned resolve(struct defer *d, struct srv_hub *hub, uint64_t key, json_t *body,
			enum proto_err code, const char *message)
{
	struct defer_entry **pp = &d->head;
	unsigned n = 0;

	while (*pp) {
		struct defer_entry *e = *pp;
		struct conn *c;

		if (e->key != key) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		c = srv_hub_find(hub, e->ref);
		if (c && body)
			conn_reply(c, e->type, e->id, body);
		else if (c)
			conn_error(c, e->type, e->id, code, message);
		n += c != NULL;
		free(e);
	}
	return n;
}

unsigned defer_answer(struct defer *d, struct srv_hub *hub, uint64_t key, json_t *body)
{
	return resolve(d, hub, key, body, PROTO_E_INTERNAL, NULL);
}

unsigned defer_fail(struct defer *d, struct srv_hub *hub, uint64_t key, enum proto_err code,
		    const char *message)
{
	return resolve(d, hub, key, NULL, code, message);
}

void defer_fini(struct defer *d)
{
	while (d->head) {
		struct defer_entry *e = d->head;

		d->head = e->next;
		free(e);
	}
}
