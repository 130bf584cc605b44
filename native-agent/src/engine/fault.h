/*
 * The fault engine: worker threads that serve the uffds workloads hand over.
 *
 * Design (docs in README.md "Fault engine"):
 *   - Each uffd is owned by exactly one worker, which alone reads it, applies
 *     its events and installs pages into its regions - demand faults, fault-
 *     around, working-set replay, background population and the population
 *     of a detach.  One owner keeps the region map and the page bitmaps
 *     single-threaded, and it is what makes remove/unmap events safe: a page
 *     can only be installed after every event read before it was applied (a
 *     second installer could copy image bytes into a range the workload just
 *     MADV_DONTNEED'ed, after the kernel's mmap_changing guard was lifted).
 *     Install helpers (crew.h) run pieces of one install beside the worker;
 *     the worker plans and accounts them and reads nothing until all ended.
 *   - A worker reads up to FAULT_BATCH messages per read(2), resolves them,
 *     then polls (spins) for a bounded, adaptive time before sleeping in
 *     epoll: waking a sleeping thread on another CPU costs more than the
 *     whole one-page fault.
 *   - Background work (replay, detach, populate) runs only when no fault is
 *     pending, in chunks whose size shrinks while demand faults are recent,
 *     at SCHED_IDLE when the agent may switch back.
 *   - Results the loop thread must act on (replies, session state, records)
 *     are posted as fault_done completions behind an eventfd.
 */
#ifndef FAULTLINE_FAULT_H
#define FAULTLINE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uffd_compat.h"
#include "wset.h"

#define FAULT_BATCH 64

struct log;
struct region;

struct fault_cfg {
	unsigned workers;     /* 0: no threads; tests drive a worker by hand */
	unsigned spin_us;     /* upper bound of the adaptive spin, 0: never spin */
	unsigned chunk_pages; /* largest background install between two polls */
	unsigned track_granule; /* pages lifted per write fault of a tracked region */
	unsigned install_helpers; /* threads that share a worker's installs (crew.h), 0: none */
};

enum fault_done_kind {
	FAULT_READY,    /* attached and its replay installed: reply to the registration */
	FAULT_COMPLETE, /* every page present */
	FAULT_DETACHED, /* the worker let go of the region */
	FAULT_ADOPT,    /* a region born in the worker (partial mremap, fork child) */
	FAULT_ERROR,    /* installs into the region fail; its faults stay blocked */
	FAULT_CAPTURE_AT_T, /* a snapshot reached its instant T (quiesce may end) */
	FAULT_CAPTURE_DONE, /* a snapshot ended; the capture is handed back */
};

struct capture;
struct region_strategy;

struct fault_done {
	enum fault_done_kind kind;
	struct region *r;
	struct region *parent; /* ADOPT */
	struct wset_rec rec;   /* COMPLETE, DETACHED: the demand recording, handed over */
	uint64_t populated;    /* DETACHED: pages installed by the detach */
	struct capture *cap;   /* CAPTURE_*: owned by the loop thread again after DONE */
	char reason[96];       /* DETACHED, ERROR */
};

/* ---- used by the loop thread ------------------------------------------- */

struct fault_engine;

typedef void (*fault_drain_fn)(void *arg, struct fault_done *d);

struct fault_engine *fault_start(struct log *lg, const struct fault_cfg *cfg);
void fault_stop(struct fault_engine *e, fault_drain_fn drain, void *arg);
int fault_notify_fd(const struct fault_engine *e);
unsigned fault_take(struct fault_engine *e, struct fault_done *out, unsigned max);
int fault_attach(struct fault_engine *e, int fd, int hold_fd, int pidfd, pid_t pid,
		 struct region **regs, unsigned n);
int fault_detach(struct fault_engine *e, struct region *r, bool populate);
int fault_release(struct fault_engine *e, struct region *r);
int fault_strategy(struct fault_engine *e, struct region *r, const struct region_strategy *s,
		   void *ctx);

/* ---- engine internals (fault.c, worker.c, ufd.c, install.c) ------------ */

struct worker;

void fault_post(struct fault_engine *e, const struct fault_done *d);
struct worker *fault_manual_worker(struct fault_engine *e);

#endif /* FAULTLINE_FAULT_H */
