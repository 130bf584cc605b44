/*
 * The destination side of a migration, shared by mig_dst.c (staging, the
 * workload attaching, start and stop), mig_dst_conn.c (the page channel
 * connections and their frames) and mig_dst_serve.c (the strategy that
 * serves the workload's region on the fault engine).  Private to
 * src/migration/.
 *
 * Threads: the connection threads stage pages (staging, `ready`) and tell
 * the region's fault worker through ev_fd ("pages ready"); the worker
 * alone installs pages, reads the uffd and sends demand requests.  Staging
 * bytes are written before their `ready` bit is set (release), and the
 * worker reads them after seeing it (acquire); once the destination runs,
 * nothing but a page's final bytes is ever written into a ready page's
 * staging (frames are received aside: mig_dst_conn.c).
 */
#ifndef FAULTLINE_MIG_DST_H
#define FAULTLINE_MIG_DST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mig.h"
#include "ptls.h"

#define DST_ACK_EVERY 32       /* data frames between two acks while busy */
#define DST_BG_CHUNK 256       /* pages installed per background step */
#define DST_REQ_AHEAD 16       /* a demand request also asks for this many missing pages after */

struct region;
struct region_strategy;

/* a region of the workload the strategy serves: the attached one, or one born from it */
struct dst_reg {
	struct region *r;
	struct ufd *u; /* the uffd serving it, once a hook told (NULL before) */
};

/* pages staged after the switchover, waiting for the worker to install them */
struct dst_run {
	uint64_t first, n;
	bool demand;
};

struct mig_dst {
	struct mig *m;
	uint8_t *staging;
	_Atomic uint64_t *ready;     /* staged and current */
	_Atomic uint64_t *want;      /* requested from the source, not arrived */
	/* under m->mu */
	uint64_t last_seq;
	bool switched;
	uint64_t held;               /* ready pages after the switchover */
	uint64_t switch_ns;          /* when the switchover arrived (CLOCK_MONOTONIC) */
	bool done_sent;
	struct ptls_conn *main_c, *pre_c; /* written under mu and send_mu */
	bool main_busy, pre_busy;
	/*
	 * Push connections (PROTOCOL.md §3.4), under mu: the main connection's
	 * session (a new main connection, or any of the session's readers
	 * ending, starts another, and the session's other readers end); its
	 * SETUP said that frames are processed in seq order (`ordered`) and how
	 * many connections push (`pushers`, the main one included).
	 */
	uint64_t gen;
	bool ordered;
	unsigned pushers;
	struct ptls_conn *push_c[PCHAN_MAX_PUSH]; /* written under mu and send_mu */
	bool push_busy[PCHAN_MAX_PUSH];
	unsigned threads;            /* connection threads running */
	_Atomic bool live;           /* switched, for the worker without the lock */
	_Atomic bool pre_new;        /* a new preempt channel: resend pending requests */
	pthread_mutex_t send_mu;     /* writes to main_c and pre_c */
	/* the attached workload's region, served by a fault worker (mig_dst_serve.c) */
	struct region *r;            /* loop thread: a reference of its own; NULL: not attached */
	int ev_fd;                   /* pages ready / the job ends: -> the worker */
	pthread_mutex_t q_mu;        /* guards the fields down to q_cond */
	struct dst_run *arrived;     /* staged since the worker last looked */
	size_t n_arrived, cap_arrived;
	bool end;                    /* the job ends: the worker lets go of the region */
	bool all_held;               /* with end: every page is here, the region is released */
	bool on_worker;              /* the strategy runs on the region's worker */
	pthread_cond_t q_cond;       /* on_worker went false */
	/* the worker's (set up by the loop thread before the region is attached) */
	struct dst_reg *regs;        /* regions served; the job waits for it to empty */
	size_t n_regs, cap_regs;
	bool watching;               /* ev_fd is in the worker's epoll set, */
	struct ufd *watch_u;         /* with this uffd's strategy tag */
	uint64_t *fault_ns;          /* when a thread first waited for the page, 0: none */
	/* added with agent restarts: every page of the workload installed (or removed,
	 * or unmapped), journaled before `done` goes (mig_dst_serve.c, mig_journal.c) */
	_Atomic bool all_installed;
};

extern const struct region_strategy mig_dst_strategy;

static inline bool abit_test(_Atomic uint64_t *map, uint64_t p)
{
	return atomic_load_explicit(&map[p / 64], memory_order_acquire) & (UINT64_C(1) << (p % 64));
}

/* Returns the old bit. */
static inline bool abit_set(_Atomic uint64_t *map, uint64_t p)
{
	uint64_t bit = UINT64_C(1) << (p % 64);

	return atomic_fetch_or_explicit(&map[p / 64], bit, memory_order_acq_rel) & bit;
}

static inline bool abit_clear(_Atomic uint64_t *map, uint64_t p)
{
	uint64_t bit = UINT64_C(1) << (p % 64);

	return atomic_fetch_and_explicit(&map[p / 64], ~bit, memory_order_acq_rel) & bit;
}

void mig_dst_poke(struct mig_dst *d);
void mig_dst_shutdown(struct mig_dst *d, bool preempt);
void mig_dst_send_done(struct mig_dst *d);
void mig_dst_deliver(struct mig_dst *d, uint64_t first, uint64_t n, bool data, bool demand);

#endif /* FAULTLINE_MIG_DST_H */
