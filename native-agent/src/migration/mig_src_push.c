/*
 * The migration source's senders (PROTOCOL.md §3.4): reading the
 * workload's pages and sending them (throttled background stream, zero
 * runs for unpopulated pages, unchanged pages not sent again), and the
 * passes over todo that the job thread, on the main channel, and the push
 * connections' threads share.  See mig_src.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "agent.h"
#include "bitmap.h"
#include "mig.h"
#include "mono.h"
#include "ptls.h"
#include "track.h"
#include "uffd_compat.h"

#define LOG_COMP "migration"
#include "log.h"
#include "mig_src.h"

/* ---- reading and sending pages ----------------------------------------- */


static int add_run(void *arg, uint64_t first, uint64_t n, uint64_t categories)
{
	struct runs *r = arg;

	(void)categories;
	if (r->count && r->first[r->count - 1] + r->n[r->count - 1] == first) {
		r->n[r->count - 1] += n;
		return 0;
	}
	if (r->count == SRC_WINDOW)
		return -1;
	r->first[r->count] = first;
	r->n[r->count++] = n;
	return 0;
}

/*
 * Through /proc/<pid>/mem (track_read): it never waits for a fault, which
 * only the region's worker could resolve; a page released under the read
 * reads as the zeros it holds.
 */
static int read_pages(struct mig_src *s, uint64_t first, uint64_t n, uint8_t *buf)
{
	uint64_t absent;

	return track_read(&s->t, first, n, buf, &absent);
}

static bool page_is_zero(const uint8_t *p, uint32_t len)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;

	for (uint32_t i = 0; i < len / 8; i++) {
		acc |= w[i];
		if ((i & 63) == 63 && acc)
			return false;
	}
	return !acc;
}

/*
 * "compress": "zstd": the pages of h (a PAGES frame) as one zstd frame, if
 * that is smaller; h becomes PAGES_Z.  Returns the payload to send.  Fast
 * level: it pays on links slower than the compressor (PROTOCOL.md §3.1).
 */
static const uint8_t *compress(struct mig_src *s, struct mig_src_lane *l, struct pchan_hdr *h,
			       const uint8_t *raw)
{
	size_t cap = ZSTD_compressBound((size_t)SRC_FRAME_PAGES * s->m->page_size), n;

	if (!l->zc)
		l->zc = ZSTD_createCCtx();
	if (!l->zbuf)
		l->zbuf = malloc(cap);
	if (!l->zc || !l->zbuf)
		return raw; /* out of memory: raw pages are as good */
	n = ZSTD_compressCCtx(l->zc, l->zbuf, cap, raw, h->length, 1);
	if (ZSTD_isError(n) || n >= h->length)
		return raw;
	pthread_mutex_lock(&s->m->mu);
	s->m->st.compressed_pages += h->count;
	s->m->st.compressed_bytes += n;
	pthread_mutex_unlock(&s->m->mu);
	h->type = PCHAN_T_PAGES_Z;
	h->length = (uint32_t)n;
	return l->zbuf;
}

/*
 * Waits for tokens of the background stream's bucket (demand pages never
 * do), one bucket for all the connections that push; 1: nothing more to
 * send.
 */
static int throttle(struct mig_src *s, uint64_t bytes)
{
	struct mig *m = s->m;
	uint64_t bw = m->bw_bytes_per_s;
	double burst;
	int r = 0;

	if (!bw)
		return 0;
	burst = (double)bw / 20 > 262144.0 ? (double)bw / 20 : 262144.0;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		uint64_t t = mono_now_ns();
		double need;

		s->tokens += (double)(t - s->tok_ns) * (double)bw / 1e9;
		s->tok_ns = t;
		if (s->tokens > burst)
			s->tokens = burst;
		if (s->tokens >= (double)bytes || s->tokens >= burst) {
			s->tokens -= (double)bytes;
			break;
		}
		need = ((double)bytes - s->tokens) / (double)bw * 1000.0;
		if (s->done_seen) {
			r = 1; /* the destination holds every page: nothing more to push */
			break;
		}
		if (m->stop || s->broken || (m->want_switchover && !s->holding))
			break;
		mig_wait_ms(m, (uint64_t)need + 1);
	}
	pthread_mutex_unlock(&m->mu);
	return r;
}

static void count(struct mig_src *s, const struct mig_src_lane *l, enum stream st, uint64_t pages,
		  uint64_t bytes)
{
	struct mig_stats *x = &s->m->st;

	pthread_mutex_lock(&s->m->mu);
	if (st != ST_DEMAND)
		x->push_pages[l->i] += pages;
	if (!x->setup_ms)
		x->setup_ms = jx_now_ms() - s->m->created_ms;
	switch (st) {
	case ST_PRECOPY:
		x->precopy_pages += pages;
		x->precopy_bytes += bytes;
		break;
	case ST_POSTCOPY:
		x->postcopy_pages += pages;
		x->postcopy_bytes += bytes;
		break;
	case ST_DEMAND:
		x->demand_pages += pages;
		x->demand_bytes += bytes;
		break;
	}
	pthread_mutex_unlock(&s->m->mu);
}

static void count_unchanged(struct mig_src *s, uint64_t pages)
{
	pthread_mutex_lock(&s->m->mu);
	s->m->st.unchanged_pages += pages;
	pthread_mutex_unlock(&s->m->mu);
}

/* What becomes of a page read for sending. */
enum page_kind { PK_DATA, PK_ZERO, PK_SAME };

/*
 * Sends pages [first, first + n) on l's connection: populated pages (present or
 * swapped; PAGEMAP_SCAN) as data, the rest as zero runs, so that no
 * unpopulated page is ever touched.  main: frames get a sequence number
 * and the pages remember it.  Precopy with "skip_unchanged": a page whose
 * bytes have the fingerprint of those it last went out with is not sent
 * (the destination processes the main channel in order, so it has them
 * staged, or gets them before anything later; a reconnect forgets the
 * fingerprints of frames it did not process, mig_src_connect_all()); the
 * fingerprint of what is sent is recorded, over the very bytes sent.
 * After the switchover such a page is stale there (the final dirty set):
 * a destination that takes them gets a `current` frame instead of its
 * bytes, else the bytes.  Demand requests always get the bytes.
 */
int mig_src_send_range(struct mig_src *s, struct mig_src_lane *l, uint64_t first, uint64_t n, enum stream st)
{
	struct mig *m = s->m;
	struct ptls_conn *c = l->c;
	uint8_t *buf = l->buf;
	struct runs *r = &l->runs;
	uint64_t cur = first, end = first + n;
	bool main = st != ST_DEMAND, note = st == ST_PRECOPY && s->sent.on;
	bool fps = note || (st == ST_POSTCOPY && s->sent.on && (s->peer_caps & PCHAN_CAP_CURRENT));

	r->count = 0;
	if (track_scan(&s->t, first, n, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, 0, 0, add_run, r))
		return -2;
	for (unsigned i = 0; i <= r->count; i++) {
		uint64_t rf = i < r->count ? r->first[i] : end, rn = i < r->count ? r->n[i] : 0;

		if (rf > cur) {
			struct pchan_hdr h = { .type = PCHAN_T_ZERO, .page = cur,
					       .count = (uint32_t)(rf - cur) };

			if (main)
				h.seq = atomic_fetch_add(&s->seq, 1) + 1;
			if (pchan_send(c, &h, NULL))
				return -1;
			for (uint64_t p = cur; main && p < rf; p++)
				s->sent_seq[p] = h.seq;
			for (uint64_t p = cur; note && p < rf; p++)
				mig_sent_note(&s->sent, p, &s->sent.zero);
			count(s, l, st, rf - cur, 0);
		}
		for (uint64_t p = rf; p < rf + rn;) {
			uint64_t k = rf + rn - p < SRC_FRAME_PAGES ? rf + rn - p : SRC_FRAME_PAGES;
			enum page_kind kind[SRC_FRAME_PAGES];
			bool zero[SRC_FRAME_PAGES];
			struct mig_sent_fp fp[SRC_FRAME_PAGES];

			if (read_pages(s, p, k, buf))
				return -2;
			for (uint64_t x = 0; x < k; x++) {
				zero[x] = page_is_zero(buf + x * m->page_size, m->page_size);
				kind[x] = zero[x] ? PK_ZERO : PK_DATA;
				if (!fps)
					continue;
				if (zero[x])
					fp[x] = s->sent.zero;
				else
					mig_sent_print(&s->sent, buf + x * m->page_size, &fp[x]);
				if (mig_sent_same(&s->sent, p + x, &fp[x]))
					kind[x] = PK_SAME;
			}
			/* populated pages of zeros travel as zero runs too: no bytes for them */
			for (uint64_t x = 0, y; x < k; x = y) {
				struct pchan_hdr h = { .type = kind[x] == PK_ZERO ? PCHAN_T_ZERO : PCHAN_T_PAGES,
						       .page = p + x };
				uint64_t bytes = 0;

				for (y = x + 1; y < k && kind[y] == kind[x]; y++)
					;
				for (uint64_t q = x; q < y; q++)
					bytes += zero[q] ? 0 : m->page_size;
				if (kind[x] == PK_SAME && st == ST_PRECOPY) {
					/* the round dealt with them as if sent (its rate decides the switchover) */
					count_unchanged(s, y - x);
					l->round_bytes += bytes;
					continue;
				}
				if (kind[x] == PK_SAME) {
					/* stale there since the switchover: its staged copy is current after all */
					h.type = PCHAN_T_CURRENT;
					h.count = (uint32_t)(y - x);
					h.seq = atomic_fetch_add(&s->seq, 1) + 1;
					if (pchan_send(c, &h, NULL))
						return -1;
					for (uint64_t q = p + x; q < p + y; q++)
						s->sent_seq[q] = h.seq; /* a reconnect before it was processed: sent again */
					count_unchanged(s, y - x);
					continue;
				}
				const uint8_t *payload = buf + x * m->page_size;

				h.count = (uint32_t)(y - x);
				h.length = kind[x] == PK_ZERO ? 0 : (uint32_t)((y - x) * m->page_size);
				if (kind[x] == PK_DATA && m->compress_zstd)
					payload = compress(s, l, &h, payload);
				if (main && h.length && throttle(s, h.length))
					return 0;
				if (main)
					h.seq = atomic_fetch_add(&s->seq, 1) + 1;
				if (pchan_send(c, &h, payload))
					return -1;
				for (uint64_t q = p + x; main && q < p + y; q++)
					s->sent_seq[q] = h.seq;
				for (uint64_t q = x; note && q < y; q++)
					mig_sent_note(&s->sent, p + q, &fp[q]);
				/* page bytes, also when they travelled compressed */
				count(s, l, st, y - x, bytes);
				if (main)
					l->round_bytes += bytes;
			}
			p += k;
		}
		cur = rf + rn;
	}
	return 0;
}

/*
 * Which of pages [first, first + n) (at most SRC_FRAME_PAGES) hold the
 * bytes they were last sent with, into same[]: unpopulated ones read as
 * zeros and are not touched, as in mig_src_send_range().
 */
static int same_pages(struct mig_src *s, uint64_t first, uint64_t n, struct runs *r, bool *same)
{
	uint32_t ps = s->m->page_size;

	for (uint64_t x = 0; x < n; x++)
		same[x] = mig_sent_same(&s->sent, first + x, &s->sent.zero);
	r->count = 0;
	if (track_scan(&s->t, first, n, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, 0, 0, add_run, r))
		return -1;
	for (unsigned i = 0; i < r->count; i++) {
		uint8_t *at = s->lane[0].buf + (r->first[i] - first) * ps;

		if (read_pages(s, r->first[i], r->n[i], at))
			return -1;
		for (uint64_t q = r->first[i]; q < r->first[i] + r->n[i]; q++) {
			const uint8_t *page = s->lane[0].buf + (q - first) * ps;
			struct mig_sent_fp fp;

			if (page_is_zero(page, ps))
				fp = s->sent.zero;
			else
				mig_sent_print(&s->sent, page, &fp);
			same[q - first] = mig_sent_same(&s->sent, q, &fp);
		}
	}
	return 0;
}

/*
 * At the switchover, the writers held and the memory final, before the
 * stale bitmap goes: the pages of todo whose bytes are those they last
 * went out with (precopy, "skip_unchanged") are taken out of it, so the
 * destination keeps its staged copy instead of marking it stale and
 * getting it again.  The destination waits for the bitmap meanwhile, so
 * this looks for at most half of max_downtime_ms; what it has not looked
 * at stays stale (sent after the switchover, as without the option).  A
 * page that cannot be read stays stale too: never a failure.
 */
void mig_src_drop_unchanged(struct mig_src *s)
{
	struct mig *m = s->m;
	uint64_t t0 = mono_now_ns(), budget = m->max_downtime_ms * 1000000u / 2, p = 0, dropped = 0;
	struct runs *r;

	if (!s->sent.on || !s->sent.fp || !(r = malloc(sizeof(*r))))
		return;
	while (p < m->n_pages && mono_now_ns() - t0 < budget) {
		bool same[SRC_FRAME_PAGES];
		uint64_t first, n = 0;

		/* the next pages of todo with a fingerprint, one read's worth */
		pthread_mutex_lock(&m->mu);
		first = p = bitmap_next_set(s->todo, p, m->n_pages);
		while (p < m->n_pages && n < SRC_FRAME_PAGES && bitmap_test(s->todo, p) &&
		       mig_sent_known(&s->sent, p)) {
			p++;
			n++;
		}
		pthread_mutex_unlock(&m->mu);
		if (!n) {
			p = first + 1; /* never sent, or sent again since: stale */
			continue;
		}
		if (same_pages(s, first, n, r, same))
			break;
		pthread_mutex_lock(&m->mu);
		for (uint64_t x = 0; x < n; x++) {
			if (same[x]) {
				bitmap_clear(s->todo, first + x, 1);
				dropped++;
			}
		}
		pthread_mutex_unlock(&m->mu);
	}
	free(r);
	count_unchanged(s, dropped);
	pr_info(&m->ag->log, "migration switchover: unchanged pages are not stale", LF_STR("migration", m->id),
		LF_UINT("unchanged_pages", dropped), LF_UINT("looked_to_page", p),
		LF_UINT("us", (mono_now_ns() - t0) / 1000));
}

/* ---- passes over todo ------------------------------------------------- */

/*
 * Next run of todo from *cursor (at most `window` pages), taken out of todo.
 * Postcopy takes one frame's worth at a time: pages taken are sent even if
 * a demand request fetched them meanwhile, and at a limited bandwidth a
 * whole SRC_WINDOW of them would keep the push busy for nothing.
 */
static bool next_todo(struct mig_src *s, uint64_t window, uint64_t *cursor, uint64_t *first, uint64_t *n)
{
	struct mig *m = s->m;
	uint64_t p, q;

	pthread_mutex_lock(&m->mu);
	p = bitmap_next_set(s->todo, *cursor, m->n_pages);
	if (p >= m->n_pages) {
		pthread_mutex_unlock(&m->mu);
		*cursor = m->n_pages;
		return false;
	}
	q = p;
	while (q < m->n_pages && q - p < window && bitmap_test(s->todo, q))
		q++;
	bitmap_clear(s->todo, p, q - p);
	pthread_mutex_unlock(&m->mu);
	*first = p;
	*n = q - p;
	*cursor = q;
	return true;
}

static void give_back(struct mig_src *s, uint64_t first, uint64_t n)
{
	pthread_mutex_lock(&s->m->mu);
	bitmap_set(s->todo, first, n);
	pthread_mutex_unlock(&s->m->mu);
}

/*
 * One sender's share of a pass over todo: runs taken from todo as it goes,
 * so the senders of a pass never send the same page.  Returns as
 * interrupted() does, or -1 on a failure (the job failed).
 */
static int lane_pass(struct mig_src *s, struct mig_src_lane *l, enum stream st, uint64_t deadline_ns)
{
	uint64_t cursor = 0, first, n, hint;

	while (next_todo(s, st == ST_POSTCOPY ? SRC_FRAME_PAGES : SRC_WINDOW, &cursor, &first, &n)) {
		int r = mig_src_interrupted(s, deadline_ns);

		if (st == ST_POSTCOPY && (hint = atomic_exchange(&s->hint, 0)) &&
		    hint - 1 < s->m->n_pages && (hint - 1 > first + n || hint - 1 < first)) {
			/* a demand request elsewhere: carry on from there, this run later */
			give_back(s, first, n);
			cursor = hint - 1;
			continue;
		}

		if (!r)
			r = mig_src_send_range(s, l, first, n, st);
		if (r == -2) {
			mig_fail(s->m, "cannot read the region's pages: %s", strerror(errno));
			return -1;
		}
		if (r == -1) {
			/* its connection failed: the others stop too, and all connect again */
			pthread_mutex_lock(&s->m->mu);
			s->broken = true;
			pthread_cond_broadcast(&s->m->cond);
			pthread_mutex_unlock(&s->m->mu);
		}
		if (r) {
			give_back(s, first, n);
			return r == -1 ? 3 : r;
		}
	}
	return 0;
}

/* The more serious of two ends of a pass: a failure, a broken connection, stop, switch over. */
static int worse(int a, int b)
{
	static const int rank[] = { [0] = 0, [2] = 1, [1] = 2, [3] = 3 };

	if (a < 0 || b < 0)
		return -1;
	return rank[b] > rank[a] ? b : a;
}

/*
 * One pass over todo, on every connection that pushes: the push
 * connections' threads take their share (mig_src_lane_main) while this
 * one sends on the main channel, and it ends when they all have.  Returns
 * as interrupted() does, or -1 on a failure.
 */
int mig_src_pass(struct mig_src *s, enum stream st, uint64_t deadline_ns)
{
	struct mig *m = s->m;
	bool cut = false;
	int r;

	for (unsigned i = 0; i < s->lanes; i++)
		s->lane[i].round_bytes = 0;
	if (s->lanes > 1) {
		mig_sent_map(&s->sent); /* the senders record in it, never map it */
		pthread_mutex_lock(&m->mu);
		s->pass_st = st;
		s->pass_deadline = deadline_ns;
		s->pass_left = s->lanes - 1;
		s->pass_gen++;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
	}
	r = lane_pass(s, &s->lane[0], st, deadline_ns);
	if (s->lanes > 1) {
		pthread_mutex_lock(&m->mu);
		while (s->pass_left) {
			if (!cut && (m->stop || s->broken)) {
				/* a sender waiting for its socket would wait for a peer that is gone */
				mig_src_shutdown(s);
				cut = true;
			}
			pthread_cond_wait(&m->cond, &m->mu);
		}
		for (unsigned i = 1; i < s->lanes; i++)
			r = worse(r, s->lane[i].result);
		pthread_mutex_unlock(&m->mu);
	}
	s->round_bytes = 0;
	for (unsigned i = 0; i < s->lanes; i++)
		s->round_bytes += s->lane[i].round_bytes;
	return r;
}

/* A push connection's thread: its share of each pass the job thread starts. */
void *mig_src_lane_main(void *arg)
{
	struct mig_src_lane *l = arg;
	struct mig_src *s = l->s;
	struct mig *m = s->m;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		enum stream st;
		uint64_t deadline;
		int r;

		while (s->pass_gen == l->seen && !l->quit)
			pthread_cond_wait(&m->cond, &m->mu);
		if (l->quit)
			break;
		l->seen = s->pass_gen;
		st = s->pass_st;
		deadline = s->pass_deadline;
		pthread_mutex_unlock(&m->mu);
		r = lane_pass(s, l, st, deadline);
		pthread_mutex_lock(&m->mu);
		l->result = r;
		s->pass_left--;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}
