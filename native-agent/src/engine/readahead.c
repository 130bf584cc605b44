/*
 * Read-ahead of a working-set replay; see readahead.h.
 *
 * The replay's installs read each run with one pread (image.c), which waits
 * for the disk before the next run is even asked for: on a cold image the
 * replay then goes at one request in flight, measured at ~150 MB/s on a
 * disk that streams 600-700 MB/s.  Asking for the next READAHEAD_AHEAD
 * bytes at once puts hundreds of requests in the disk's queue, in the order
 * the installs will want them (image order when the workload waits for the
 * replay), and keeps it that deep as the installs move on.  The window is
 * bounded so that a working set larger than memory is not read far ahead of
 * its installs only to be evicted before them, and so that a worker whose
 * workload runs meanwhile (Firecracker: demand faults come in between
 * replay steps) waits for the disk's queue at most that long.
 */
#define _GNU_SOURCE

#include "image.h"
#include "readahead.h"
#include "region.h"

void readahead_replay(struct region *r)
{
	struct region_work *w = &r->w;
	uint64_t ahead = READAHEAD_AHEAD / r->page_size, gap = READAHEAD_GAP / r->page_size;
	uint64_t max = READAHEAD_MAX / r->page_size;

	/* only installs that read the image's file wait for its disk */
	if (r->kind != REGION_IMAGE || w->clone || !r->image || r->image->ops)
		return;
	max = max ? max : 1;
	/* the runs installed since the last call are not ahead any more */
	for (; w->ra_seen < w->prefetch_pos && w->ra_seen < w->ra_pos; w->ra_seen++)
		w->ra_pages -= w->prefetch[w->ra_seen].count;
	if (w->ra_pos < w->prefetch_pos)
		w->ra_pos = w->ra_seen = w->prefetch_pos; /* nothing asked for those */
	while (w->ra_pos < w->n_prefetch && w->ra_pages < ahead) {
		const struct wset_run *run = &w->prefetch[w->ra_pos++];
		uint64_t first = run->page, end = first + run->count, pages = run->count;

		/* the following runs that start in or just after this request join it */
		while (w->ra_pos < w->n_prefetch) {
			const struct wset_run *next = &w->prefetch[w->ra_pos];
			uint64_t next_end = next->page + next->count;

			if (next->page < first || next->page > end + gap ||
			    (next_end > end ? next_end : end) - first > max)
				break;
			end = next_end > end ? next_end : end;
			pages += next->count;
			w->ra_pos++;
		}
		if (image_readahead(r->image, r->image_offset + first * r->page_size,
				    (end - first) * r->page_size)) {
			/* only advice: the installs read the image anyway */
			w->ra_pos = w->ra_seen = w->n_prefetch;
			w->ra_pages = 0;
			return;
		}
		w->ra_pages += pages;
		region_stat_add(&r->st.readahead, end - first);
	}
}
