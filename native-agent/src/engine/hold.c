/*
 * Protection rounds up to T; see hold.h.
 *
 * Why the content at T is what a capture saves: a page is protected for
 * the last time either in a round before the final one (and not lifted
 * since, or it would be in the final round's set) or in the final round.
 * Protected pages cannot change: a write waits for the agent.  So at T
 * every page holds what it held when it was protected last, and writes
 * that completed before then are in it.  A write that comes after T faults
 * and is held until the caller decides, so nothing written after T can
 * reach a page that still has to be saved.  The only writes that bypass
 * protection are the kernel's into pinned pages (O_DIRECT, io_uring,
 * DMA): that is what quiesce is for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitmap.h"
#include "hold.h"
#include "mono.h"

/*
 * Starts round 1 over every page (only == NULL) or over the pages set in
 * only (copied).  The range must be on the hold uffd already.
 */
int hold_start(struct hold *h, struct track *t, const struct hold_cfg *cfg, const uint64_t *only)
{
	uint64_t words = BITMAP_WORDS(t->n_pages);

	memset(h, 0, sizeof(*h));
	if (t->where != TRACK_ON_HOLD) {
		errno = EINVAL;
		return -1;
	}
	h->t = t;
	h->cfg = *cfg;
	if (!h->cfg.chunk_pages)
		h->cfg.chunk_pages = 512;
	if (!h->cfg.max_rounds || h->cfg.max_rounds >= HOLD_MAX_ROUNDS)
		h->cfg.max_rounds = HOLD_MAX_ROUNDS - 1;
	h->todo = bitmap_new(t->n_pages);
	h->lifted = bitmap_new(t->n_pages);
	if (!h->todo || !h->lifted) {
		hold_end(h);
		errno = ENOMEM;
		return -1;
	}
	if (only)
		memcpy(h->todo, only, words * sizeof(uint64_t));
	else
		bitmap_set(h->todo, 0, t->n_pages);
	h->round = 1;
	h->phase = HOLD_ROUNDS;
	h->start_ns = mono_now_ns();
	return 0;
}

/* The next run of todo pages from the cursor, at most max pages; false at the end. */
static bool next_run(struct hold *h, uint64_t max, uint64_t *first, uint64_t *n)
{
	uint64_t p = bitmap_next_set(h->todo, h->cursor, h->t->n_pages), q;

	if (p >= h->t->n_pages) {
		h->cursor = h->t->n_pages;
		return false;
	}
	q = p + 1;
	while (q < h->t->n_pages && q - p < max && bitmap_test(h->todo, q))
		q++;
	*first = p;
	*n = q - p;
	h->cursor = q;
	return true;
}

/*
 * The final round: what this round was to protect and what was lifted
 * since it began (between the previous round's last step and this one),
 * protected now, in one go: no faults are read meanwhile.
 */
static int protect_rest(struct hold *h, uint64_t *pages)
{
	uint64_t first, n;

	for (uint64_t w = 0; w < BITMAP_WORDS(h->t->n_pages); w++)
		h->todo[w] |= h->lifted[w];
	*pages = 0;
	while (next_run(h, UINT64_MAX, &first, &n)) {
		if (track_protect(h->t, first, n))
			return -1;
		*pages += n;
	}
	return 0;
}

/* lifted becomes the next round's todo. */
static void next_round(struct hold *h)
{
	uint64_t *tmp = h->todo;

	h->todo = h->lifted;
	h->lifted = tmp;
	memset(h->lifted, 0, BITMAP_WORDS(h->t->n_pages) * sizeof(uint64_t));
	h->n_lifted = 0;
	h->cursor = 0;
	h->round++;
}

static bool final_round(const struct hold *h, uint64_t pages)
{
	return pages <= h->cfg.final_pages || h->round > h->cfg.max_rounds;
}

/*
 * One step: a chunk of a non-final round, or the whole final round, after
 * which T is reached.  The caller resolves the region's faults between
 * steps (hold_lift_early before T).
 */
enum hold_step hold_step(struct hold *h)
{
	uint64_t first, n, pages, t0;

	if (h->phase == HOLD_AT_T)
		return HOLD_REACHED_T;
	/* round 1 is never final (its size is the region's), later rounds may be */
	if (h->round > 1 && h->cursor == 0) {
		pages = bitmap_count(h->todo, 0, h->t->n_pages) + h->n_lifted;
		if (final_round(h, pages)) {
			t0 = mono_now_ns();
			if (protect_rest(h, &pages))
				return HOLD_FAILED;
			h->t_ns = mono_now_ns();
			h->final_ns = h->t_ns - t0;
			h->round_pages[h->round - 1] = pages;
			h->phase = HOLD_AT_T;
			return HOLD_REACHED_T;
		}
	}
	if (next_run(h, h->cfg.chunk_pages, &first, &n)) {
		if (track_protect(h->t, first, n))
			return HOLD_FAILED;
		h->round_pages[h->round - 1] += n;
		return HOLD_MORE;
	}
	next_round(h);
	return HOLD_MORE;
}

/*
 * A write fault before T on page: the writer goes on at once and the page
 * is protected again in the next round.  After T this is the caller's
 * business (the page must be dealt with before it is lifted).
 */
int hold_lift_early(struct hold *h, uint64_t page)
{
	return hold_lift_early_range(h, page, 1);
}

/*
 * The same for pages [first, first + n): a caller that lifts a granule per
 * fault (a random writer then faults once per granule before T, not once
 * per page) has all of it protected again in the next round.
 */
int hold_lift_early_range(struct hold *h, uint64_t first, uint64_t n)
{
	if (h->phase != HOLD_ROUNDS) {
		errno = EINVAL;
		return -1;
	}
	h->n_lifted += n - bitmap_count(h->lifted, first, n);
	bitmap_set(h->lifted, first, n);
	h->lifted_total++;
	return track_unprotect(h->t, first, n);
}

void hold_end(struct hold *h)
{
	free(h->todo);
	free(h->lifted);
	h->todo = h->lifted = NULL;
}
