/*
 * Regions (PROTOCOL.md §1.8): one registered address range of one workload
 * whose uffd the agent holds.
 *
 * Threads: a region is created and listed by the loop thread and served by
 * exactly one fault worker while it is attached.  Fields are grouped by who
 * writes them:
 *   - immutable after creation (identity, geometry except start, backing);
 *   - written by the worker, read by anyone: relaxed atomics (start, state,
 *     counters); each has a single writer, so an increment is a plain load
 *     and store, no locked instruction on the fault path;
 *   - worker only (struct region_work, bitmaps): no sharing at all;
 *   - loop thread only (struct region_ctl).
 * The loop thread frees a region only after its worker has let go of it
 * (FAULT_DETACHED, or the engine stopped).
 */
#ifndef FAULTLINE_REGION_H
#define FAULTLINE_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "around.h"
#include "conn.h"
#include "hist.h"
#include "jx.h"
#include "wset.h"

#define REGION_MODE_MISSING (1u << 0)
#define REGION_MODE_WP (1u << 1)
#define REGION_MODE_MINOR (1u << 2)
#define REGION_MAX_LENGTH (UINT64_C(1) << 40)

enum region_state { REGION_ATTACHED, REGION_DETACHING, REGION_DETACHED };
/* REGION_STAGED: bytes from a staging area that its strategy fills (a migration destination) */
enum region_kind { REGION_ANON, REGION_IMAGE, REGION_STAGED };
enum region_source { REGION_SRC_LIBFAULTLINE, REGION_SRC_FIRECRACKER };

/* how a page was installed (stats "installed") */
enum region_path { RP_DEMAND, RP_AROUND, RP_PREFETCH, RP_BACKGROUND, RP_DETACH, RP_N };
enum region_fault { RF_MISSING, RF_WP, RF_MINOR, RF_N };
enum region_event { RE_REMOVE, RE_UNMAP, RE_REMAP, RE_FORK, RE_N };

struct region_stats {
	_Atomic uint64_t faults[RF_N];
	_Atomic uint64_t events[RE_N];
	_Atomic uint64_t installed[RP_N];
	_Atomic uint64_t zero_pages;
	_Atomic uint64_t bytes;
	_Atomic uint64_t lat_count, lat_sum, lat_max;
	_Atomic uint64_t lat_hist[HIST_BUCKETS];
	_Atomic uint64_t eexist, eagain;
	_Atomic uint64_t refaults; /* missing faults on pages the map had present */
	_Atomic uint64_t present; /* pages */
	_Atomic uint64_t gone;    /* pages unmapped by the workload */
	_Atomic uint64_t first_served_ns; /* mono_now_ns() of the first fault served, 0: none yet */
	_Atomic uint64_t readahead; /* pages a replay asked the kernel to read ahead (readahead.h) */
};

/* Set up by the loop thread before attach, then owned by the worker. */
struct region_strategy;

struct region_work {
	unsigned fault_around;     /* pages installed per demand fault, >= 1 */
	int64_t populate_after_ms; /* background fill after attach; < 0: never */
	uint64_t populate_at_ns;   /* worker clock, set at attach */
	uint64_t bg_cursor;
	struct wset_run *prefetch; /* image pages to install first (replay) */
	uint64_t n_prefetch, prefetch_pos;
	/* readahead.h: runs [prefetch_pos, ra_pos) were asked for, ra_pages of them not yet
	 * passed by the installs (those before ra_seen are subtracted) */
	uint64_t ra_pos, ra_seen, ra_pages;
	bool record;               /* record demand touches into rec */
	struct wset_rec rec;
	bool detach;               /* populate, then unregister */
	uint64_t detach_installed;
	bool complete_sent;
	bool failed;               /* an install failed; faults are left blocked */
	bool clone;                /* maps a shared copy MAP_PRIVATE: installs are UFFDIO_CONTINUE */
	uint64_t *clone_holes;     /* clone: its pages that are holes of the copy (zero), or NULL */
	uint64_t *present_map, *removed_map, *gone_map;
	int removed_log; /* REMOVE records of an image region (region_removed_*), -1: none */
	struct track *wp;          /* write tracking (regions with a hold uffd), or NULL */
	const struct region_strategy *strat; /* strategy.h: a live capture, or NULL */
	void *strat_ctx;
	char last_capture[JX_UUID_LEN + 1]; /* last snapshot completed since attach, "" none */
	/* REGION_STAGED: the bytes of page 0 (read-only here; its strategy says which are current) */
	const uint8_t *staged;
	struct around around;      /* fault-around windows that adapt (around.h); floor fault_around */
};

struct restore;

/* Loop thread only. */
struct region_ctl {
	struct region *next;       /* region table */
	int refs;
	struct conn_ref conn;      /* handoff connection that registered it */
	uint64_t register_key;     /* deferred region_register reply, 0: none */
	uint64_t detach_key;       /* deferred region_detach replies, 0: none */
	struct restore *session;
	unsigned worker;           /* fault worker serving it */
	uint64_t detached_ms;
	char detach_reason[96];
	uint64_t populated;        /* pages installed by region_detach */
	uint64_t replayed;         /* pages installed by working-set replay */
	bool complete;
	int mig_track_fd, mig_hold_fd; /* copies of a hold-capable region's uffds, -1: none */
	char kept[64];             /* its uffd's name in the descriptor store (keep.h), "": none */
	uint64_t stats_sig;        /* counters when last pushed to subscribers (control/notify.c) */
};

struct region {
	char id[JX_UUID_LEN + 1];
	char *name;
	json_t *labels;
	pid_t pid;
	uid_t uid;
	char command[32];
	_Atomic uint64_t start;
	uint64_t length;
	uint64_t n_pages;
	uint32_t page_size;
	unsigned modes;
	uint64_t features;
	bool hold;                /* came with a hold uffd (PROTOCOL.md §2.1) */
	uint64_t hold_features;
	bool resumed;             /* registered again after an agent restart */
	enum region_source source;
	enum region_kind kind;
	struct image *image;      /* released when the region is detached */
	char *image_path;         /* for reports, kept after that */
	uint64_t image_offset;
	char restore_id[JX_UUID_LEN + 1]; /* "" when not restoring */
	uint64_t attached_ms;
	_Atomic int state;
	struct region_stats st;
	struct region_work w;
	struct region_ctl ctl;
	/* added with migration restarts: resumed after its migration switched over (the
	 * .held marker): it stays on its hold uffd, protected, its writers never woken */
	bool mig_held;
};

struct region_table {
	struct region *head;
	unsigned n_detached;
};

struct region *region_new(const char *id, const char *name, json_t *labels, uint64_t start,
			  uint64_t length, uint32_t page_size);
struct region *region_clone(const struct region *src, uint64_t first_page, uint64_t n_pages,
			    uint64_t new_start);
void region_put(struct region *r);
enum region_state region_state(const struct region *r);
void region_set_state(struct region *r, enum region_state s);
uint64_t region_start(const struct region *r);
int region_learn_present(struct region *r);
int region_removed_open(struct region *r, const char *dir, bool resumed);
void region_removed_note(struct region *r, uint64_t first, uint64_t n);
void region_removed_forget(const char *dir, const char *id);

static inline void region_stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t region_stat(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void region_latency(struct region *r, uint64_t ns);
uint64_t region_percentile(const struct region *r, double q);
json_t *region_json(const struct region *r);
json_t *region_backing_json(const struct region *r);

void region_table_add(struct region_table *t, struct region *r);
struct region *region_table_find(const struct region_table *t, const char *id);
struct region *region_table_overlap(const struct region_table *t, pid_t pid, uint64_t start,
				    uint64_t length);
void region_table_detached(struct region_table *t, struct region *r);
void region_table_fini(struct region_table *t);

#endif /* FAULTLINE_REGION_H */
