/*
 * Change events on the control socket (PROTOCOL.md §1.11): a control
 * client that sent `subscribe` is told when a region attaches, changes
 * state or detaches, when a restore session changes, and, at most once per
 * statistics interval, the statistics of the regions whose counters moved.
 * Each event carries the agent's sequence number; a subscriber whose
 * connection is too far behind misses events and sees the gap in the
 * numbers, and then re-reads the full state.  Loop thread only.
 */
#ifndef FAULTLINE_NOTIFY_H
#define FAULTLINE_NOTIFY_H

#include <stdint.h>

#include "conn.h"

struct agent;
struct region;

#define NOTIFY_STATS_MIN_MS 100
#define NOTIFY_STATS_MAX_MS 3600000
#define NOTIFY_STATS_DEFAULT_MS 1000
/* regions per region_stats event, and per statistics interval */
#define NOTIFY_STATS_BATCH 64
/* ...and at most this many bytes of them (a subscriber's buffer takes 256 KiB) */
#define NOTIFY_STATS_BYTES (128u << 10)
#define NOTIFY_STATS_PER_TICK 4096

int notify_init(struct agent *ag);
void notify_fini(struct agent *ag);
/* Adds (or updates) a subscriber; *seq is the last sequence number sent. */
int notify_subscribe(struct agent *ag, struct conn_ref ref, unsigned stats_interval_ms,
		     uint64_t *seq);
/* kind: "region_attached" or "region_state" (the region object says which state). */
void notify_region(struct agent *ag, struct region *r, const char *kind);
/* A restore session was created, changed state or was deleted (gone: deleted). */
void notify_restore(struct agent *ag, const char *restore_id, bool gone);
/* The number of the last event sent (0 before any). */
uint64_t notify_seq(const struct agent *ag);

#endif /* FAULTLINE_NOTIFY_H */
