/*
 * The destination side of a migration, shared by mig_dst.c (staging,
 * installs, the fault thread, the workload, start and stop) and
 * mig_dst_conn.c (the page channel connections and their frames).
 * Private to src/migration/.
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
#define DST_BG_CHUNK 256       /* pages installed per idle step */
#define DST_REQ_AHEAD 16       /* a demand request also asks for this many missing pages after */

struct mig_dst {
	struct mig *m;
	uint8_t *staging;
	_Atomic uint64_t *ready;     /* staged and current */
	_Atomic uint64_t *installed; /* in the workload's memory */
	_Atomic uint64_t *want;      /* requested from the source, not arrived */
	_Atomic uint64_t *removed;   /* the workload dropped them (MADV_DONTNEED): zero from now on */
	_Atomic uint64_t *fault_ns;  /* when a thread first faulted on the page, 0: none */
	/* under m->mu */
	uint64_t last_seq;
	bool switched;
	uint64_t held;               /* ready pages after the switchover */
	uint64_t switch_ns;          /* when the switchover arrived (CLOCK_MONOTONIC) */
	bool done_sent;
	struct ptls_conn *main_c, *pre_c; /* written under mu and send_mu */
	bool main_busy, pre_busy;
	unsigned threads;            /* connection threads running */
	bool pre_new;                /* a new preempt channel: resend pending requests */
	/* the attached workload */
	_Atomic bool attached;
	int uffd, pidfd;
	pid_t pid;
	uint64_t start;
	pthread_t fault_th;
	bool fault_started;
	int ev_fd;
	_Atomic bool ev_stop;
	pthread_mutex_t send_mu;     /* writes to main_c and pre_c */
	uint64_t bg_cursor;
};

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

void mig_dst_wake_fault_thread(struct mig_dst *d);
void mig_dst_send_done(struct mig_dst *d);
void mig_dst_deliver(struct mig_dst *d, uint64_t first, uint64_t n, bool data, bool demand);

#endif /* FAULTLINE_MIG_DST_H */
