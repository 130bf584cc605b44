/*
 * Reaching an instant T at which every page of a region is write-protected
 * on its hold uffd, without stalling writers for the whole protection walk
 * (docs/snapshots.md "How a capture works").
 *
 * UFFDIO_WRITEPROTECT over 4 GiB of 4 KiB pages takes ~65 ms here and is
 * not atomic for writers, so protection runs in rounds:
 *   round 1 protects the pages asked for (all of them, or the pages that
 *     may have been written since the last capture), a chunk at a time;
 *   a write fault during a non-final round is resolved at once: the caller
 *     calls hold_lift_early() (or _range(), for the page's granule), which
 *     lifts the protection (waking the writer) and records the pages for
 *     the next round;
 *   round i+1 protects again only what was lifted during round i;
 *   when what is left is small (cfg.final_pages) or rounds run out, the
 *     final round protects it in one go while the caller reads no faults:
 *     writers that fault meanwhile wait, and the round's end is T.
 * From T on every page is protected, so a write to a page raises a fault
 * and waits until the caller has dealt with it (copied the page, for a
 * snapshot; switched over, for a migration).  The longest stall a writer
 * sees before T is one chunk of round 1 plus one fault round trip; at T,
 * the final round.
 *
 * Threads: one thread drives a hold and resolves the region's faults (the
 * region's fault worker), so "the caller reads no faults during the final
 * round" needs no lock: it is simply busy.
 */
#ifndef FAULTLINE_HOLD_H
#define FAULTLINE_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "track.h"

#define HOLD_MAX_ROUNDS 16

struct hold_cfg {
	uint64_t chunk_pages; /* pages protected per step of a non-final round */
	uint64_t final_pages; /* a round this small is the final one */
	unsigned max_rounds;  /* the round after this many is final whatever its size */
};

enum hold_phase { HOLD_ROUNDS, HOLD_AT_T };

enum hold_step { HOLD_MORE, HOLD_REACHED_T, HOLD_FAILED };

struct hold {
	struct track *t;
	struct hold_cfg cfg;
	enum hold_phase phase;
	unsigned round;       /* 1-based */
	uint64_t *todo;       /* what this round protects */
	uint64_t *lifted;     /* lifted during this round: the next round's todo */
	uint64_t n_lifted;
	uint64_t cursor;      /* next page of todo to look at */
	uint64_t t_ns;        /* T, CLOCK_MONOTONIC */
	uint64_t start_ns;
	uint64_t round_pages[HOLD_MAX_ROUNDS];
	uint64_t final_ns;    /* duration of the final round */
	uint64_t lifted_total;
};

int hold_start(struct hold *h, struct track *t, const struct hold_cfg *cfg, const uint64_t *only);
enum hold_step hold_step(struct hold *h);
int hold_lift_early(struct hold *h, uint64_t page);
int hold_lift_early_range(struct hold *h, uint64_t first, uint64_t n);
void hold_end(struct hold *h);

#endif /* FAULTLINE_HOLD_H */
