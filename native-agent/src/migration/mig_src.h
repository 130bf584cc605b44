/*
 * The source side of a migration, shared by mig_src.c (the job thread:
 * rounds, switchover, push; start and stop), mig_src_engine.c (the
 * strategy the region's fault worker runs for the job: write faults,
 * protection, the requests of the job thread), mig_src_push.c (reading
 * and sending pages, the passes the senders share) and mig_src_conn.c
 * (the page channel connections and their threads).  Private to
 * src/migration/.
 */
#ifndef FAULTLINE_MIG_SRC_H
#define FAULTLINE_MIG_SRC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "freeze.h"
#include "mig.h"
#include "mig_sent.h"
#include "ptls.h"
#include "throttle.h"
#include "track.h"

#define SRC_WINDOW 1024       /* pages looked at per step */
#define SRC_FRAME_PAGES 64    /* pages per PAGES frame (256 KiB of 4 KiB pages) */
#define SRC_STALE_WORDS 8192  /* bitmap words per STALE frame (64 KiB) */
#define SRC_BACKOFF_MIN_MS 50
#define SRC_BACKOFF_MAX_MS 2000
#define SRC_IDLE_WAIT_MS 10
#define SRC_ASK_TRIES 100     /* requests that met a change of the mappings (EAGAIN) */
#define SRC_MOVE_STEP_PAGES 4096 /* pages moved to the hold uffd per step after the switchover (16 MiB) */
#define SRC_CONVERGE_DIV 2     /* a round that dirtied >= 1/2 of what it sent does not converge */
#define SRC_DRAIN_MAX_MS 2000 /* the switchover waits this long at most for the precopy backlog's ack */
#define SRC_FINISH_MS 2000    /* after `complete`, the destination's close is waited for this long */
/* auto-converge (mig_src_throttle.c): the share of each period the workload is stopped,
 * first, added per round that does not converge, at most (QEMU's cpu-throttle-* defaults) */
#define SRC_THROTTLE_INITIAL 20
#define SRC_THROTTLE_STEP 10
#define SRC_THROTTLE_MAX 99
#define SRC_THROTTLE_DEFER_MAX_NS 2000000000u /* a request waits this long at most for a stop to complete */

/* What the job thread asks the region's worker to do (mig_src_ask()). */
enum mig_src_req {
	SRC_REQ_NONE,
	SRC_REQ_ROUND,  /* a round starts: what was written since the last one joins todo */
	SRC_REQ_SWITCH, /* the hold: every writer waits from now on, the final dirty set joins todo */
	SRC_REQ_END,    /* the job ends: give the region back (not switched over), or keep it held */
	SRC_REQ_THROTTLE, /* auto-converge: stop the workload thr_want% of every period (0: never) */
};

/*
 * How the worker tracks writes during precopy (mig_src.c): on the track
 * uffd with WP_ASYNC + PAGEMAP_SCAN, the workload stopped for the move to
 * the hold uffd at the switchover; or on the hold uffd for the whole job,
 * one fault per first write per granule per round (where the workload
 * cannot be stopped, or when the job's options ask for it).
 */
enum mig_src_mode { SRC_MODE_ASYNC, SRC_MODE_HOLD };

/* What a freeze of the workload is for (worker only). */
enum mig_src_freeze { SRC_FZ_NONE, SRC_FZ_PROBE, SRC_FZ_SWITCH };

struct region;
struct mig_src;

struct runs {
	uint64_t first[SRC_WINDOW], n[SRC_WINDOW];
	unsigned count;
};

enum stream { ST_PRECOPY, ST_POSTCOPY, ST_DEMAND };

/*
 * A connection that sends pages, with what its sender needs of its own:
 * lane 0 is the main channel (the job thread sends on it), lanes 1.. the
 * push connections (a thread each, which takes its share of every pass),
 * and the preempt channel's (demand pages) is one too.
 */
struct mig_src_lane {
	struct mig_src *s;
	unsigned i;            /* 0: main; 1..PCHAN_MAX_PUSH: push connection i */
	struct ptls_conn *c;   /* under mu for shutdown; used by its sender */
	pthread_t th;          /* push connections only */
	bool started;
	bool quit;             /* under mu: the thread ends */
	uint8_t *buf;          /* SRC_FRAME_PAGES pages read */
	struct runs runs;
	void *zc;              /* "compress": "zstd": its ZSTD_CCtx, lazily */
	uint8_t *zbuf;         /* its output, ZSTD_compressBound() of a frame's pages */
	uint64_t round_bytes;  /* page bytes it sent in the pass, or found unchanged (skip_unchanged) */
	uint64_t seen;         /* under mu: the last pass it took its share of (pass_gen) */
	int result;            /* under mu: how its share of that pass ended (as pass()) */
};

struct mig_src {
	struct mig *m;
	struct track t;        /* job thread: reads (pagemap, mem) only, no uffd of its own */
	pid_t pid;
	uint64_t start;
	struct region *r;      /* the worker's; the job thread never touches it */
	int req_fd;            /* eventfd: a request for the worker (watched through its strat_tag) */
	enum mig_src_req req;  /* under mu */
	uint64_t req_seq, req_done; /* under mu: asked, and answered, requests */
	int req_err;           /* under mu: errno of the last request, 0 if it succeeded */
	bool engine_on;        /* under mu: the worker runs the strategy */
	bool engine_gone;      /* under mu: the worker let go of the region (or never took it) */
	bool handed;           /* loop thread: fault_strategy() took the job */
	bool give_back;        /* under mu: SRC_REQ_END gives the region back even if held */
	char engine_why[160];  /* under mu: why it let go */
	uint64_t *dirty;       /* under mu: written since their protection (the worker marks) */
	uint64_t round_taken;  /* under mu: pages the last SRC_REQ_ROUND added to todo */
	enum mig_src_mode mode; /* set by the worker before engine_on, then fixed */
	enum mig_src_freeze fz_for; /* worker: the freeze in progress is for this */
	struct freeze fz;      /* worker */
	uint64_t fz_seq;       /* worker: the request a freeze answers */
	uint64_t *todo;        /* pages the destination must (re)receive; under mu */
	uint64_t *sent_seq;    /* senders: seq of the frame that last carried the page (a pass's
				* senders take different pages; the job thread between passes) */
	_Atomic uint64_t seq;  /* last seq used on the main channel and the push connections */
	uint64_t switch_seq;   /* seq of the SWITCHOVER frame, 0 before */
	bool holding;          /* under mu: writers wait from now on (every page protected) */
	pthread_t main_th, rd_th, pre_th;
	bool main_started, rd_started, pre_started;
	struct ptls_conn *main_c, *pre_c; /* under mu for shutdown; used by their threads */
	struct mig_src_lane lane[1 + PCHAN_MAX_PUSH]; /* lane[0].c is main_c */
	unsigned lanes;        /* job thread: lanes connected (1 + push connections) */
	struct mig_src_lane pre; /* the preempt channel's sender */
	/* under mu: the pass the push connections take their share of (mig_src.c) */
	uint64_t pass_gen;
	enum stream pass_st;
	uint64_t pass_deadline;
	unsigned pass_left;    /* push connections still in it */
	bool broken;           /* under mu: a connection failed */
	bool done_seen;        /* under mu: the destination sent DONE */
	uint64_t acked;        /* under mu */
	_Atomic uint64_t hint; /* page after the last demand request + 1, 0: none */
	double tokens;         /* under mu: the background stream's bucket */
	uint64_t tok_ns;       /* under mu */
	uint64_t round_bytes;  /* job thread: page bytes the round sent, or found unchanged (skip_unchanged) */
	/* added with agent restarts: the job read back from its journal for a region that
	 * had switched over (held already): every page is sent again, and the switchover */
	bool resumed_held;
	bool fz_stuck;         /* worker: the hold failed after the switchover; the workload stays stopped */
	struct mig_sent sent;  /* senders: fingerprints of the pages sent ("skip_unchanged"), as sent_seq */
	uint32_t peer_caps;    /* main thread: the destination's, from auth_ok (PCHAN_CAP_*) */
	/* added with auto-converge (mig_src_throttle.c) */
	unsigned thr_want;     /* under mu: the throttle SRC_REQ_THROTTLE asks for */
	unsigned thr_pct;      /* job thread: the throttle it last got */
	struct throttle thr;   /* worker */
	bool thr_off;          /* worker: the workload could not be stopped: no throttle any more */
	uint64_t thr_held_ns;  /* worker: held by earlier throttles of the job */
	bool thr_deferred;     /* worker: a request waits for the throttle's stop to complete */
	/* the region's own granule while the job's granule_pages is on its track (tracking on
	 * the hold uffd), given back when the worker lets go; 0: not changed */
	uint64_t region_granule; /* worker */
};

int mig_src_send_range(struct mig_src *s, struct mig_src_lane *l, uint64_t first, uint64_t n, enum stream st);
void mig_src_shutdown(struct mig_src *s);
void mig_src_disconnect(struct mig_src *s);
void *mig_src_lane_main(void *arg);
int mig_src_pass(struct mig_src *s, enum stream st, uint64_t deadline_ns);
int mig_src_interrupted(struct mig_src *s, uint64_t deadline_ns);
int mig_src_send_switch(struct mig_src *s, struct ptls_conn *c);
int mig_src_connect_all(struct mig_src *s, char *why, size_t why_len);
void mig_src_drop_unchanged(struct mig_src *s);

/* mig_src_engine.c */
extern const struct region_strategy mig_src_strategy;
extern const struct region_strategy mig_held_strategy;
int mig_src_ask(struct mig_src *s, enum mig_src_req req);

/* mig_src_throttle.c: auto-converge; the worker's, then the job thread's */
struct ufd;
int mig_src_thr_set(struct ufd *u, struct mig_src *s, unsigned pct);
void mig_src_thr_wake(struct ufd *u, struct mig_src *s);
bool mig_src_thr_runnable(const struct mig_src *s);
void mig_src_thr_step(struct ufd *u, struct mig_src *s);
bool mig_src_thr_defer(struct mig_src *s, enum mig_src_req req, unsigned want);
void mig_src_thr_end(struct ufd *u, struct mig_src *s, const char *state);
void mig_src_thr_failed(struct ufd *u, struct mig_src *s, int err);
int mig_src_throttle(struct mig_src *s, unsigned pct);

#endif /* FAULTLINE_MIG_SRC_H */
