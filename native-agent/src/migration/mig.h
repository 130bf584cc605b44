/*
 * Postcopy live migration of a region between two agents (PROTOCOL.md §1.9
 * control messages, §3 page channel).  One struct mig per job, on either
 * side; mig_src.c runs the source's threads, mig_dst.c the destination's.
 *
 * Threads: the loop thread creates, lists and deletes jobs (control
 * messages) and tells workloads what happened; each job runs its own
 * threads (blocking I/O on its page channel connections), which share the
 * job through m->mu.  A job's threads end when their sockets are shut
 * down, so stopping a job never waits on a peer.
 */
#ifndef FAULTLINE_MIG_H
#define FAULTLINE_MIG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cmd.h"
#include "hist.h"
#include "jx.h"
#include "loop.h"
#include "pchan.h"

struct ptls;

struct agent;
struct srv;
struct conn;
struct proto_hdr;

enum mig_role { MIG_SOURCE, MIG_DEST };
enum mig_phase {
	MIG_PRECOPY,
	MIG_SWITCHOVER,
	MIG_POSTCOPY,
	MIG_COMPLETED,
	MIG_PAUSED,
	MIG_FAILED,
	MIG_CANCELLED,
};


struct mig_stats {
	uint64_t setup_ms;           /* created -> first page sent/received */
	uint64_t switchover_at_ms;   /* unix ms the source held (0: not yet) */
	uint64_t first_fault_ms;     /* destination: unix ms of its first served fault */
	uint64_t running_at_ms;      /* destination: unix ms the switchover arrived (it runs) */
	uint64_t completed_ms;
	uint64_t precopy_bytes, precopy_pages;
	uint64_t postcopy_bytes, postcopy_pages;
	uint64_t demand_bytes, demand_pages;
	uint64_t remaining_pages;
	uint64_t dirty_rate;         /* bytes/s during the last round */
	uint64_t rounds;
	uint64_t postcopy_requests;
	uint64_t lat_count, lat_max, lat_hist[HIST_BUCKETS];
	uint64_t blocked_ns;
	uint64_t reconnects;
	const char *tracking;        /* source: "async" or "hold" (mig_src.c), NULL before */
	uint64_t tracking_faults;    /* source: write faults lifted while tracking on hold */
	uint64_t compressed_pages;   /* source: pages sent in pages_z frames (added with zstd) */
	uint64_t compressed_bytes;   /* source: the payload bytes of those frames */
	uint64_t unchanged_pages;    /* source: pages not sent again, their bytes unchanged (mig_sent.h) */
	/* source, with auto_converge (mig_src_throttle.c): "ready", "throttling", "unavailable",
	 * "stopped"; NULL without the option */
	const char *throttle;
	unsigned throttle_pct;       /* of each period the workload is stopped now */
	uint64_t throttled_ms;       /* the workload was held by the throttle, in all */
	/* connections that push pages, the main one included: the source's in use, the
	 * destination's as the source's SETUP said (0: not connected yet, shown as 1) */
	unsigned push_connections;
	uint64_t push_pages[1 + PCHAN_MAX_PUSH]; /* source: pages each of them carried */
};

struct mig_src;
struct mig_dst;

struct mig {
	struct mig *next;
	struct agent *ag;
	char id[JX_UUID_LEN + 1];
	enum mig_role role;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* under mu */
	enum mig_phase phase;
	enum mig_phase paused_in;    /* MIG_PAUSED: where it was; else = phase */
	char error[256];
	struct mig_stats st;
	bool stop;                   /* threads end */
	bool want_switchover;
	bool want_pause;             /* operator pause: no reconnect until resume */
	bool want_resume;            /* reconnect now */
	bool released;               /* source: the workload was told */
	/* immutable after creation */
	char region_id[JX_UUID_LEN + 1]; /* source: the region; destination: its id once attached */
	char *region_name;
	json_t *labels;
	uint64_t length, n_pages;
	uint32_t page_size;
	uint8_t secret[PCHAN_SECRET_LEN];
	char channel[300];           /* source: destination host:port (under mu); dest: ours */
	uint64_t created_ms;
	/* source options */
	uint64_t bw_bytes_per_s;     /* 0: unlimited */
	unsigned max_rounds;
	uint64_t max_downtime_ms;
	bool postcopy_auto;
	int64_t postcopy_after_ms;   /* < 0: never */
	uint64_t granule;            /* pages lifted per tracking fault */
	bool track_on_hold;          /* "tracking": "hold": never WP_ASYNC (mig_src.c) */
	struct mig_src *src;
	struct mig_dst *dst;
	int refs;                    /* loop thread */
	/* added with agent restarts (mig_journal.c): read back from a journal, the
	 * secret not known yet (under mu; the listener refuses the job until set) */
	_Atomic bool need_secret;
	bool compress_zstd;          /* source option "compress": "zstd" (pages_z frames) */
	bool skip_unchanged;         /* source option "skip_unchanged" (mig_sent.h), default true */
	bool auto_converge;          /* source option "auto_converge": throttle a writer that outruns the rounds */
	unsigned push_conns;         /* source option "push_connections": main + push connections asked */
};

/* ---- loop thread ------------------------------------------------------- */

int mig_start(struct agent *ag);
void mig_stop(struct agent *ag);
int mig_command(struct agent *ag, uint8_t type, json_t *req, json_t **reply, struct cmd_error *err);
bool mig_is_command(uint8_t type);

/* handoff hook: a workload registers on a migration's session socket */
int mig_dst_register(struct mig *m, struct conn *c, json_t *req, int fd, json_t **reply,
		     struct cmd_error *err);
json_t *mig_json(struct mig *m);
struct region;
void mig_region_resumed(struct agent *ag, struct region *r, int fd, int hold_fd);
/* whether a migration that has not failed or been cancelled has the region as its source
 * (the region's hold uffd is then the migration's); its id into id[JX_UUID_LEN + 1] */
bool mig_source_of(struct agent *ag, const char *region_id, char *id, size_t len);

/* ---- any thread -------------------------------------------------------- */

void mig_notify(struct agent *ag);
void mig_set_phase(struct mig *m, enum mig_phase p);   /* under mu */
void mig_fail(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mig_latency(struct mig *m, uint64_t ns);          /* under mu */
int mig_wait_ms(struct mig *m, uint64_t ms);           /* under mu; 1 when stopping */
int mig_accept(struct agent *ag, int fd, const char *peer);
const char *mig_phase_name(enum mig_phase p);

/* ---- per role (mig_src.c, mig_dst.c) ------------------------------------ */

int mig_src_start(struct mig *m, struct region *r, char *why, size_t why_len);
void mig_src_stop(struct mig *m, bool cancel);
void mig_src_kick(struct mig *m);
uint64_t mig_src_remaining(struct mig *m);
int mig_mark_held(struct mig *m);
void mig_unmark_held(struct mig *m);

int mig_dst_start(struct mig *m, char *why, size_t why_len);
void mig_dst_stop(struct mig *m);
void mig_dst_kick(struct mig *m);
int mig_dst_conn(struct mig *m, struct ptls_conn *c, enum pchan_kind kind, uint64_t *last_seq,
		 uint64_t *session);
void mig_dst_run_conn(struct mig *m, struct ptls_conn *c, enum pchan_kind kind, uint64_t session);
struct ptls *mig_tls(struct agent *ag);

#endif /* FAULTLINE_MIG_H */
