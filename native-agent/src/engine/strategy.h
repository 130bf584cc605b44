/*
 * Strategies: what a subsystem plugs into the fault handling of one region
 * (DESIGN.md "The fault engine").  The engine alone reads a region's uffds
 * and installs, zeroes, wakes and write-protects its pages; a strategy
 * decides what must happen before a held write goes on (a live capture
 * saves the page first) and has background steps of its own.  The owner
 * hands one to the region's worker with fault_strategy(); every hook runs
 * on that worker, and the strategy tells its owner it is done through its
 * own fault_done message (a capture) or its own channel (a migration
 * source, whose job thread waits for its answers).  A region has at most
 * one strategy at a time.
 *
 * A strategy may also own the region's missing pages (a migration
 * destination: missing_fault): a fault it cannot answer yet is parked by
 * the engine (kept queued, its thread blocked) and resolved again each
 * time the strategy's watched descriptor wakes the worker ("pages ready").
 * The engine's page-state map stays the truth for every event meanwhile.
 */
#ifndef FAULTLINE_STRATEGY_H
#define FAULTLINE_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>

#include "install.h"
#include "region.h"

struct fault_engine;
struct ufd;

/* what missing_fault answers */
enum missing_answer {
	MISSING_INSTALL, /* the engine installs the page now (from the region's backing) */
	MISSING_WAIT,    /* not here yet: the fault stays parked until the strategy wakes the worker */
};

struct region_strategy {
	const char *name;
	/* takes over r: sets r->w.strat and r->w.strat_ctx = ctx (or ends at once) */
	void (*start)(struct ufd *u, struct region *r, void *ctx);
	/* r is not served, or has a strategy already: ctx goes back to its owner */
	void (*refuse)(struct fault_engine *e, struct region *r, void *ctx, int code,
		       const char *why);
	/* has background work now (never run at idle priority) */
	bool (*runnable)(const struct region *r);
	void (*step)(struct ufd *u, struct region *r);
	/* a write to a protected page; INSTALL_WAIT keeps it (and later faults) queued */
	enum install_res (*write_fault)(struct ufd *u, struct region *r, uint64_t page,
					uint64_t read_ns);
	/* one of the descriptors it watches through u->strat_tag is ready */
	void (*wake)(struct ufd *u, struct region *r);
	/* the region changed under it (REMOVE, UNMAP, REMAP), or the worker stops */
	void (*abort)(struct ufd *u, struct region *r, int code, const char *why);
	/* every page installed now must be write-protected */
	bool (*protects_all)(const struct region *r);
	/* appended (migration destination); NULL: the engine serves missing faults itself */
	/* a missing fault on page; read_ns: when it was read (parked faults keep theirs) */
	enum missing_answer (*missing_fault)(struct ufd *u, struct region *r, uint64_t page,
					     uint64_t read_ns);
	/* the worker lets go of r for good (dropped, unregistered, workload gone); NULL: nothing */
	void (*dropped)(struct ufd *u, struct region *r);
	/* child was born from r in the worker (mremap'd part, fork copy); NULL: it goes without */
	void (*follow)(struct region *r, struct region *child);
	/* pages [first, first + n) were released (MADV_DONTNEED) and read zero from now on:
	 * true when the strategy carries on (it noted them), false to be aborted; NULL: aborted */
	bool (*pages_removed)(struct ufd *u, struct region *r, uint64_t first, uint64_t n);
};

static inline bool strategy_runnable(const struct region *r)
{
	return r->w.strat && r->w.strat->runnable(r);
}

/* The strategy decides which missing pages can be installed (only it populates r). */
static inline bool strategy_owns_missing(const struct region *r)
{
	return r->w.strat && r->w.strat->missing_fault;
}

/* A removal of pages: false when the strategy noted it and goes on (else it is aborted). */
static inline bool strategy_keeps_after_remove(struct ufd *u, struct region *r, uint64_t first,
					       uint64_t n)
{
	return r->w.strat && r->w.strat->pages_removed && r->w.strat->pages_removed(u, r, first, n);
}

static inline void strategy_abort(struct ufd *u, struct region *r, int code, const char *why)
{
	if (r->w.strat)
		r->w.strat->abort(u, r, code, why);
}

#endif /* FAULTLINE_STRATEGY_H */
