/*
 * A live snapshot of one region, taken by the region's fault worker
 * (docs/snapshots.md "How a capture works").
 *
 *   1. The range is on the hold uffd (moved there by the first capture and
 *      kept there: see track.h for why), and the rounds of hold.h protect
 *      whatever is writable (everything the first time, then what was
 *      written since the last capture) until T.  Write faults before T are
 *      lifted at once, a granule each, and the granule is marked written.
 *   2. At T the save set is fixed: every page for a full image, the pages
 *      written since the parent's T for an incremental one.  The tracking
 *      interval of the next capture starts at T.
 *   3. After T a write fault on a page still to be saved copies the page
 *      (its granule's pages still to be saved) into the writer's ring
 *      before the protection is lifted, and wakes the image writer only
 *      after that; the background copies the rest and leaves it protected,
 *      so that the next interval's first write per granule is seen.  Never
 *      populated pages are saved as zero without reading them
 *      (PAGEMAP_SCAN), so nothing is faulted in and a missing-mode range
 *      never faults to us.
 *      The background saves ahead of the writer: first the pages just after
 *      the granules write faults met last (a writer moving through memory
 *      finds them saved, its fault then only lifts), then the pages written
 *      during the protection rounds (written just before T: the likeliest
 *      to be written again), then the rest in address order.  It works in
 *      chunks of 512 KiB and stops as soon as a fault waits.  It
 *      leaves the last quarter of the ring to write faults; once a write
 *      fault found no room (the writer copies faster than the disk takes
 *      it) it leaves them 7/8: saving ahead then only takes room a fault
 *      will need, since the image writer drains at the disk's pace.
 *   4. The writer (snapw.h) completes the image; the capture reports.
 * A release of memory by the workload during a capture (MADV_DONTNEED,
 * munmap, mremap) would lose pages that still have to be saved, so it
 * aborts the capture.
 *
 * Threads: a capture belongs to its region's worker from its start to the
 * FAULT_CAPTURE_DONE completion, which hands it back to the loop thread.
 */
#ifndef FAULTLINE_CAPTURE_H
#define FAULTLINE_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "hold.h"
#include "install.h"
#include "jx.h"
#include "snapw.h"
#include "strategy.h"

struct region;
struct ufd;

enum cap_phase { CAP_ROUNDS, CAP_SAVING, CAP_FINISHING, CAP_WRITING, CAP_OVER };

struct cap_req {
	char snapshot_id[JX_UUID_LEN + 1];
	char parent_id[JX_UUID_LEN + 1]; /* "" for a full image */
	bool incremental;
	uint8_t quiesced;                /* SNAPIMG_Q_*: what quiesce BEGIN said */
	struct hold_cfg hold;
	uint64_t reserve_pages;          /* ring pages only write faults may use */
	uint64_t step_pages;             /* pages looked at per background step */
};

struct cap_result {
	int code; /* enum proto_err when error[0] */
	char error[320];
	struct snapw_result img;
	uint64_t t_ms;
	uint64_t duration_ms;
	uint64_t stall_count, stall_max_ns, stall_p999_ns;
	unsigned rounds;
	uint64_t round1_pages, final_pages, final_ns;
	uint64_t faults_before_t, faults_after_t, copied_on_fault, zero_unread;
	uint64_t saved_ahead;    /* pages the background saved out of address order */
	uint64_t buffer_bytes, buffer_peak_bytes, buffer_resident_bytes;
};

struct capture {
	struct cap_req req;
	struct snapw *w;   /* owned; freed by the loop thread afterwards */
	enum cap_phase phase;
	struct hold h;
	bool hold_started;
	uint64_t *save, *done, *prev_dirty;
	uint64_t cursor;
	uint64_t *hot;        /* written during the rounds: saved first after T */
	uint64_t hot_cursor;
	uint64_t ahead[16];   /* first pages after granules write faults met, newest last */
	unsigned n_ahead;
	uint64_t n_saved;     /* pages saved so far, by faults and the background */
	uint64_t start_ns;
	uint64_t stall_hist[HIST_BUCKETS];
	struct cap_result res;
};

/* Given to fault_strategy() with the capture as its context. */
extern const struct region_strategy cap_strategy;

#endif /* FAULTLINE_CAPTURE_H */
