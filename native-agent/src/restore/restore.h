/*
 * Restore sessions (PROTOCOL.md §1.8): a memory image plus a handoff
 * socket; regions registered on that socket are served from the image.
 * Sessions are persisted in <state-dir>/restore/<id>.json (atomic writes)
 * and re-opened by a restarted agent, so workloads reconnect to the same
 * socket and resume.  Loop thread only.
 *
 * State: WAITING (no region attached) -> ACTIVE (regions attached) ->
 * COMPLETE (every page of every region present; sticky); a session whose
 * workload left before that goes back to WAITING for the next one;
 * FAILED on errors (image gone at restart, pages that cannot be installed).
 */
#ifndef FAULTLINE_RESTORE_H
#define FAULTLINE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cmd.h"
#include "jx.h"
#include "loop.h"
#include "share.h"
#include "wset.h"

struct agent;
struct srv;
struct image;
struct region;

enum restore_state { RESTORE_WAITING, RESTORE_ACTIVE, RESTORE_COMPLETE, RESTORE_FAILED };
enum restore_ws { WS_OFF, WS_RECORD, WS_REPLAY, WS_AUTO };
/* copy: every page is copied into the workload's own memory (UFFDIO_COPY);
 * clone: the workload maps the image's shared copy (share.h) MAP_PRIVATE */
enum restore_mode { RESTORE_COPY, RESTORE_CLONE };

#define RESTORE_MAX_REGIONS 64

struct restore {
	struct restore *next;
	struct agent *ag;
	char id[JX_UUID_LEN + 1];
	char snapshot_id[JX_UUID_LEN + 1]; /* the snapshot restored (snapshot_restore); "" for an image */
	char *name;
	json_t *labels;
	struct image *image;
	char *image_path; /* as requested; image->path is the resolved one */
	char **chain;     /* a snapshot chain served directly (snapshot_restore), oldest first */
	unsigned n_chain;
	uint64_t image_offset;
	unsigned fault_around;
	int64_t populate_delay_ms;
	enum restore_ws ws_requested, ws_mode; /* ws_mode: off, record or replay */
	char *ws_file;
	struct wset replay;                    /* ws_mode == WS_REPLAY */
	struct wset_rec *recs;                 /* recordings handed over by regions */
	unsigned n_recs;
	bool ws_saved;
	uint64_t recorded_pages, replayed_pages;
	uint64_t readahead_pages; /* asked of the kernel ahead of the replay (engine/readahead.h) */
	enum restore_state state;
	char *error;
	uint64_t created_ms;
	char *sock_path;
	struct srv *srv;
	char region_ids[RESTORE_MAX_REGIONS][JX_UUID_LEN + 1];
	unsigned n_regions;
	int source; /* enum region_source, -1 before the first registration */
	enum restore_mode mode;
	enum share_memory clone_memory;
	struct share *share; /* mode clone: the image's shared copy (a reference) */
	/* restore-to-run (timing in PROTOCOL.md §1.8): mono_now_ns() at the
	 * request, its reply, the first region and COMPLETE; 0: not (yet) */
	uint64_t created_ns, replied_ns, first_region_ns, complete_ns;
	/* a save staged while a workload waited, made durable by this timer (save_soon) */
	struct loop_timer sync;
	bool sync_armed;
};

int restore_init(struct agent *ag);
void restore_fini(struct agent *ag);
struct restore *restore_find(struct agent *ag, const char *id);
bool restore_knows_region(struct agent *ag, const char *region_id);
json_t *restore_json(const struct restore *s);
int restore_create(struct agent *ag, json_t *req, json_t **reply, struct cmd_error *err);
int restore_create_chain(struct agent *ag, json_t *req, char *const *chain, unsigned n_chain,
			 struct image *im, json_t **reply, struct cmd_error *err);
int restore_delete(struct agent *ag, struct restore *s, struct cmd_error *err);

int restore_region_setup(const struct restore *s, struct region *r, bool waits);
void restore_region_added(struct restore *s, struct region *r, bool adopted);
void restore_region_ready(struct restore *s, struct region *r);
void restore_region_complete(struct restore *s, struct region *r, struct wset_rec *rec);
void restore_region_detached(struct restore *s, struct region *r, struct wset_rec *rec);
void restore_fail(struct restore *s, const char *why);
int restore_clone_fd(const struct restore *s, json_t **reply, struct cmd_error *err);

#endif /* FAULTLINE_RESTORE_H */
