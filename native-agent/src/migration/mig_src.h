/*
 * The source side of a migration, shared by mig_src.c (the fault thread,
 * the main thread: rounds, switchover, push; start and stop) and
 * mig_src_conn.c (reading and sending pages, the page channel
 * connections and their threads).  Private to src/migration/.
 */
#ifndef FAULTLINE_MIG_SRC_H
#define FAULTLINE_MIG_SRC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mig.h"
#include "ptls.h"
#include "track.h"

#define SRC_WINDOW 1024       /* pages looked at per step */
#define SRC_FRAME_PAGES 64    /* pages per PAGES frame (256 KiB of 4 KiB pages) */
#define SRC_STALE_WORDS 8192  /* bitmap words per STALE frame (64 KiB) */
#define SRC_BACKOFF_MIN_MS 50
#define SRC_BACKOFF_MAX_MS 2000
#define SRC_IDLE_WAIT_MS 10
#define SRC_SNDBUF (1u << 20) /* main channel send buffer: bounds what the switchover queues behind */

struct mig_src {
	struct mig *m;
	struct track t;
	pid_t pid;
	uint64_t start;
	int track_fd, hold_fd; /* our dups of the workload's uffds */
	int stop_fd;           /* wakes the fault thread */
	uint64_t *todo;        /* pages the destination must (re)receive; under mu */
	uint64_t *sent_seq;    /* main thread: seq of the frame that last carried the page */
	uint64_t seq;          /* main thread: last seq used on the main channel */
	uint64_t switch_seq;   /* seq of the SWITCHOVER frame, 0 before */
	bool holding;          /* under mu: writers wait from now on */
	bool settled;          /* under mu: every page is protected since the hold */
	bool moved;            /* the range is on the hold uffd */
	pthread_t main_th, fault_th, rd_th, pre_th;
	bool main_started, fault_started, rd_started, pre_started;
	struct ptls_conn *main_c, *pre_c; /* under mu for shutdown; used by their threads */
	bool broken;           /* under mu: a connection failed */
	bool done_seen;        /* under mu: the destination sent DONE */
	uint64_t acked;        /* under mu */
	_Atomic uint64_t hint; /* page after the last demand request + 1, 0: none */
	uint8_t *buf, *pre_buf;
	double tokens;
	uint64_t tok_ns;
	uint64_t round_bytes;
};

struct runs {
	uint64_t first[SRC_WINDOW], n[SRC_WINDOW];
	unsigned count;
};

enum stream { ST_PRECOPY, ST_POSTCOPY, ST_DEMAND };

int mig_src_send_range(struct mig_src *s, struct ptls_conn *c, uint64_t first, uint64_t n, enum stream st,
		      uint8_t *buf, struct runs *r);
void mig_src_disconnect(struct mig_src *s);
int mig_src_send_switch(struct mig_src *s, struct ptls_conn *c);
int mig_src_connect_all(struct mig_src *s, char *why, size_t why_len);

#endif /* FAULTLINE_MIG_SRC_H */
