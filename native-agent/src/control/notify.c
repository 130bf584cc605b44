/* Change events for control clients; see notify.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "loop.h"
#include "notify.h"
#include "region.h"
#include "srv.h"

#define LOG_COMP "notify"
#include "log.h"

struct notify_sub {
	struct conn_ref ref;
	unsigned stats_ms;
	uint64_t missed; /* events this subscriber could not take (for the log) */
};

struct notify {
	struct notify_sub *subs;
	unsigned n_subs, cap;
	uint64_t seq;
	unsigned stats_ms; /* the shortest interval any subscriber asked for, 0: no timer */
	struct loop_timer stats;
};

/* Whether the region's counters moved since they were last pushed. */
static uint64_t stats_sig(const struct region *r)
{
	const struct region_stats *st = &r->st;
	uint64_t sig = region_stat(&st->present) * 31 + region_stat(&st->gone);

	for (int i = 0; i < RF_N; i++)
		sig = sig * 31 + region_stat(&st->faults[i]);
	for (int i = 0; i < RE_N; i++)
		sig = sig * 31 + region_stat(&st->events[i]);
	for (int i = 0; i < RP_N; i++)
		sig = sig * 31 + region_stat(&st->installed[i]);
	return sig * 31 + region_stat(&st->zero_pages);
}

static void drop_sub(struct notify *n, unsigned i)
{
	n->subs[i] = n->subs[--n->n_subs];
}

/* The statistics timer runs at the shortest interval asked for, and not at all without subscribers. */
static void rearm(struct notify *n)
{
	unsigned shortest = 0;

	for (unsigned i = 0; i < n->n_subs; i++) {
		if (!shortest || n->subs[i].stats_ms < shortest)
			shortest = n->subs[i].stats_ms;
	}
	if (shortest == n->stats_ms)
		return;
	if (loop_timer_arm(&n->stats, shortest, shortest))
		return; /* keeps the old interval; only the statistics' pace is off */
	n->stats_ms = shortest;
}

/* Forgets subscribers whose connection is gone. */
static void prune(struct agent *ag)
{
	struct notify *n = ag->notify;
	unsigned before = n->n_subs;

	for (unsigned i = 0; i < n->n_subs;) {
		if (!srv_hub_find(ag->hub, n->subs[i].ref))
			drop_sub(n, i);
		else
			i++;
	}
	if (n->n_subs != before)
		rearm(n);
}

/*
 * Sends one event to every subscriber.  The sequence number advances even
 * for a subscriber that cannot take it (its connection is throttled or
 * gone): that is how it learns it missed something.
 */
static void send_event(struct agent *ag, const char *kind, json_t *body)
{
	struct notify *n = ag->notify;
	bool ok = true;

	if (!n || !n->n_subs || !body) {
		json_decref(body);
		return;
	}
	jx_put(body, "seq", json_integer((json_int_t)++n->seq), &ok);
	jx_put(body, "kind", json_string(kind), &ok);
	prune(ag);
	for (unsigned i = 0; ok && i < n->n_subs; i++) {
		struct conn *c = srv_hub_find(ag->hub, n->subs[i].ref);

		if (conn_notify(c, PROTO_T_EVENT, body)) {
			if (!n->subs[i].missed++)
				pr_warn(&ag->log, "subscriber is behind, events missed until it reads",
					LF_UINT("conn", n->subs[i].ref.serial), LF_UINT("seq", n->seq));
		} else if (n->subs[i].missed) {
			pr_info(&ag->log, "subscriber caught up", LF_UINT("conn", n->subs[i].ref.serial),
				LF_UINT("missed", n->subs[i].missed));
			n->subs[i].missed = 0;
		}
	}
	json_decref(body);
}

/*
 * A subscriber that missed events learns it from the next event; when
 * none comes, this one (it does not advance the number) tells it as soon
 * as it has room again.
 */
static void tell_missed(struct agent *ag)
{
	struct notify *n = ag->notify;

	for (unsigned i = 0; i < n->n_subs; i++) {
		struct conn *c;
		json_t *body;

		if (!n->subs[i].missed || !(c = srv_hub_find(ag->hub, n->subs[i].ref)))
			continue;
		body = json_pack("{s:I, s:s}", "seq", (json_int_t)n->seq, "kind", "sequence");
		if (body && !conn_notify(c, PROTO_T_EVENT, body)) {
			pr_info(&ag->log, "subscriber caught up", LF_UINT("conn", n->subs[i].ref.serial),
				LF_UINT("missed", n->subs[i].missed));
			n->subs[i].missed = 0;
		}
		json_decref(body);
	}
}

/*
 * Whether every subscriber that keeps up can take an event now.  Statistics
 * are held back (sent at a later tick) rather than lost while one of them is
 * still sending what came before; a subscriber that already missed events
 * reads everything again anyway, and does not hold the others back.
 */
static bool subs_have_room(struct agent *ag)
{
	struct notify *n = ag->notify;

	for (unsigned i = 0; i < n->n_subs; i++) {
		struct conn *c = srv_hub_find(ag->hub, n->subs[i].ref);

		if (c && !n->subs[i].missed && !conn_has_room(c))
			return false;
	}
	return true;
}

struct stats_batch {
	json_t *regions;
	struct region *of[NOTIFY_STATS_BATCH];
	uint64_t sig[NOTIFY_STATS_BATCH];
	unsigned n;
	size_t bytes;
};

/* Sends the batch, and only then counts its regions' statistics as told; false when held back. */
static bool stats_flush(struct agent *ag, struct stats_batch *b)
{
	bool sent = false;

	if (b->n && subs_have_room(ag)) {
		send_event(ag, "region_stats", json_pack("{s:O}", "regions", b->regions));
		for (unsigned i = 0; i < b->n; i++)
			b->of[i]->ctl.stats_sig = b->sig[i];
		sent = true;
	}
	json_decref(b->regions);
	b->regions = NULL;
	b->n = 0;
	b->bytes = 0;
	return sent;
}

/*
 * Periodic: the statistics of the attached regions whose counters moved, in
 * events of at most NOTIFY_STATS_BATCH regions and NOTIFY_STATS_BYTES.
 */
static void stats_tick(struct loop *lp, struct loop_timer *t)
{
	struct agent *ag = t->opaque;
	struct stats_batch b = { .regions = NULL };
	unsigned sent = 0;

	(void)lp;
	prune(ag);
	if (!ag->notify->n_subs)
		return;
	tell_missed(ag);
	for (struct region *r = ag->regions->head; r && sent < NOTIFY_STATS_PER_TICK; r = r->ctl.next) {
		uint64_t sig;
		size_t size;
		json_t *j;

		if (region_state(r) == REGION_DETACHED)
			continue;
		sig = stats_sig(r);
		if (sig == r->ctl.stats_sig)
			continue;
		if (!(j = region_json(r)))
			break;
		/* a region with many long labels is ~17 KiB: an event stays well within a frame */
		size = json_dumpb(j, NULL, 0, JSON_COMPACT) + 1;
		if ((b.n == NOTIFY_STATS_BATCH || (b.n && b.bytes + size > NOTIFY_STATS_BYTES)) &&
		    !stats_flush(ag, &b)) {
			json_decref(j);
			return; /* a subscriber is still busy: the rest at a later tick */
		}
		if (!b.regions && !(b.regions = json_array())) {
			json_decref(j);
			return;
		}
		if (json_array_append_new(b.regions, j))
			break;
		b.of[b.n] = r;
		b.sig[b.n++] = sig;
		b.bytes += size;
		sent++;
	}
	stats_flush(ag, &b);
}

int notify_init(struct agent *ag)
{
	struct notify *n = calloc(1, sizeof(*n));

	if (!n) {
		pr_perror(&ag->log, "out of memory");
		return -1;
	}
	n->stats.fd = -1;
	if (loop_timer_init(&ag->loop, &n->stats, stats_tick, ag)) {
		pr_perror(&ag->log, "cannot create the statistics timer");
		free(n);
		return -1;
	}
	ag->notify = n;
	return 0;
}

void notify_fini(struct agent *ag)
{
	struct notify *n = ag->notify;

	if (!n)
		return;
	loop_timer_fini(&ag->loop, &n->stats);
	free(n->subs);
	free(n);
	ag->notify = NULL;
}

int notify_subscribe(struct agent *ag, struct conn_ref ref, unsigned stats_interval_ms,
		     uint64_t *seq)
{
	struct notify *n = ag->notify;
	unsigned i;

	for (i = 0; i < n->n_subs; i++) {
		if (n->subs[i].ref.server == ref.server && n->subs[i].ref.serial == ref.serial)
			break;
	}
	if (i == n->n_subs) {
		if (n->n_subs == n->cap) {
			unsigned cap = n->cap ? n->cap * 2 : 4;
			struct notify_sub *subs = realloc(n->subs, cap * sizeof(*subs));

			if (!subs)
				return -1;
			n->subs = subs;
			n->cap = cap;
		}
		n->n_subs++;
	}
	n->subs[i] = (struct notify_sub){ .ref = ref, .stats_ms = stats_interval_ms };
	prune(ag);
	rearm(n);
	*seq = n->seq;
	return 0;
}

void notify_region(struct agent *ag, struct region *r, const char *kind)
{
	if (!ag->notify || !ag->notify->n_subs)
		return;
	/* the region object carries its statistics: they need not be pushed again */
	r->ctl.stats_sig = stats_sig(r);
	send_event(ag, kind, json_pack("{s:s, s:o}", "id", r->id, "region", region_json(r)));
}

uint64_t notify_seq(const struct agent *ag)
{
	return ag->notify ? ag->notify->seq : 0;
}

void notify_restore(struct agent *ag, const char *restore_id, bool gone)
{
	if (!ag->notify || !ag->notify->n_subs)
		return;
	send_event(ag, gone ? "restore_deleted" : "restore_changed",
		   json_pack("{s:s}", "id", restore_id));
}
