/*
 * Adaptive fault-around; see around.h.
 */
#include "around.h"

static unsigned ceiling(unsigned floor)
{
	uint64_t c = (uint64_t)floor * AROUND_GROWTH;

	if (c > AROUND_MAX_PAGES)
		c = AROUND_MAX_PAGES;
	return c < floor ? floor : (unsigned)c;
}

void around_window(struct around *a, unsigned floor, uint64_t p, uint64_t n, uint64_t *first,
		   uint64_t *end)
{
	unsigned k, lru = 0;
	uint64_t ws, we;

	if (floor <= 1) {
		*first = p;
		*end = p + 1 <= n ? p + 1 : n;
		return;
	}
	a->tick++;
	/*
	 * A run: the fault is at the page after a stream's last window or
	 * within a window of it (the reader skipped a few pages, or a present
	 * page ended that install early).
	 */
	for (k = 0; k < AROUND_STREAMS; k++) {
		if (a->s[k].next && p >= a->s[k].next && p - a->s[k].next < a->s[k].win)
			break;
		if (a->s[k].used < a->s[lru].used)
			lru = k;
	}
	if (k < AROUND_STREAMS) {
		unsigned w = a->s[k].win < floor ? floor : a->s[k].win;

		a->s[k].win = w * 2 > ceiling(floor) ? ceiling(floor) : w * 2;
		a->runs++;
		/* from the run's end, so that a reader that skips leaves no gap behind */
		ws = a->s[k].next;
		we = ws + a->s[k].win;
	} else {
		k = lru;
		a->s[k].win = floor;
		ws = p - p % floor;
		we = ws + floor;
	}
	if (we > n)
		we = n;
	a->s[k].next = we;
	a->s[k].used = a->tick;
	*first = ws;
	*end = we;
}

uint64_t around_run_faults(unsigned floor, uint64_t n)
{
	struct around a = { 0 };
	uint64_t faults = 0, first, end;

	for (uint64_t p = 0; p < n; p = end) {
		around_window(&a, floor, p, n, &first, &end);
		faults++;
	}
	return faults;
}
