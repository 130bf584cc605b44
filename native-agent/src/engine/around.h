/*
 * Fault-around that adapts to the access pattern: which pages a demand
 * fault installs besides its own.  Pure (no syscalls), worker only.
 *
 * The region's configured window (restore option fault_around_pages) is the
 * floor.  A fault that continues a run (it lands at or just after the end
 * of a window installed before, within that window's size) doubles that
 * run's window, which goes on from where the run ended (no gap behind a
 * reader that skips pages), up to AROUND_GROWTH times the floor and
 * AROUND_MAX_PAGES: a
 * sequential reader takes one fault per growing window instead of one per
 * 16 pages.  Runs are followed per stream (AROUND_STREAMS of them, least
 * recently used replaced), so that threads reading their own parts in
 * order do not break each other's runs.  Any other fault starts a stream
 * at the floor and installs the aligned window around the page (neighbours
 * on both sides): random touches keep the window small.  The floor is not
 * undercut: a workload that touches the whole region in random order uses
 * every neighbour sooner or later, and a smaller window would only add
 * round trips; a window of 1 (fault-around 0) never changes.
 */
#ifndef FAULTLINE_AROUND_H
#define FAULTLINE_AROUND_H

#include <stdint.h>

#define AROUND_GROWTH 16u
#define AROUND_MAX_PAGES 512u
#define AROUND_STREAMS 4u
/*
 * A clone's window is at least this (unless it is 1 page): UFFDIO_CONTINUE
 * maps pages of the shared copy, no allocation and no copy, ~0.1-0.3 us a
 * page against a round trip of tens of us, so larger windows are cheap.
 */
#define AROUND_CLONE_FLOOR 64u

struct around {
	struct {
		uint64_t next; /* the page after its last window, 0: unused */
		unsigned win;  /* its last window, pages */
		uint64_t used; /* tick of its last fault (LRU) */
	} s[AROUND_STREAMS];
	uint64_t tick;
	uint64_t runs; /* faults that continued a run (stats, tests) */
};

/* The window [*first, *end) to install for a fault at page p of a region of n pages. */
void around_window(struct around *a, unsigned floor, uint64_t p, uint64_t n, uint64_t *first,
		   uint64_t *end);

/* Faults a read of n pages in order takes from a fresh state (tests, benchmarks). */
uint64_t around_run_faults(unsigned floor, uint64_t n);

#endif /* FAULTLINE_AROUND_H */
