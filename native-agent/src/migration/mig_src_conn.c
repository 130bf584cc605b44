/*
 * The migration source's pages and connections (PROTOCOL.md §3): reading
 * the workload's pages and sending them (throttled background stream,
 * zero runs for unpopulated pages), the handshake, the reader of the main
 * channel (acks, done), the server of demand requests on the preempt
 * channel, and the switchover frames.  See mig_src.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zstd.h>

#include "agent.h"
#include "bitmap.h"
#include "mig.h"
#include "netaddr.h"
#include "mono.h"
#include "ptls.h"
#include "region.h"
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

/* ---- connections ------------------------------------------------------- */

static int handshake(struct mig_src *s, struct ptls_conn *c, enum pchan_kind kind, uint64_t *last_seq,
		     char *why, size_t why_len)
{
	struct mig *m = s->m;
	struct pchan_hello hello = { .kind = kind };
	uint8_t buf[PCHAN_HELLO_LEN], snonce[PCHAN_NONCE_LEN], mac[PCHAN_MAC_LEN];
	struct pchan_geom g = { 0 };
	struct pchan_hdr h = { .type = PCHAN_T_HELLO, .length = PCHAN_HELLO_LEN };
	int r;

	memcpy(hello.id, m->id, PCHAN_ID_LEN + 1);
	if (pchan_nonce(hello.nonce))
		return snprintf(why, why_len, "no random bytes"), -1;
	pchan_encode_hello(&hello, buf);
	if (pchan_send(c, &h, buf))
		return snprintf(why, why_len, "send hello: %s", strerror(errno)), -1;
	r = pchan_recv(c, &h, buf, sizeof(buf), &g, -1);
	if (!r && h.type == PCHAN_T_CHALLENGE) {
		memcpy(snonce, buf, PCHAN_NONCE_LEN);
		if (pchan_mac(m->secret, false, m->id, kind, hello.nonce, snonce, mac))
			return snprintf(why, why_len, "HMAC failed"), -1;
		h = (struct pchan_hdr){ .type = PCHAN_T_AUTH, .length = PCHAN_MAC_LEN };
		if (pchan_send(c, &h, mac))
			return snprintf(why, why_len, "send auth: %s", strerror(errno)), -1;
		r = pchan_recv(c, &h, buf, sizeof(buf), &g, -1);
	}
	if (r < 0)
		return snprintf(why, why_len, "%s", strerror(errno)), -1;
	if (r > 0)
		return snprintf(why, why_len, "%s", pchan_result_str(r)), -1;
	if (h.type == PCHAN_T_ERROR) {
		snprintf(why, why_len, "refused by the destination: %.*s", (int)h.length, (char *)buf);
		return -1;
	}
	if (h.type != PCHAN_T_AUTH_OK)
		return snprintf(why, why_len, "unexpected %s frame", pchan_type_name(h.type)), -1;
	if (pchan_mac(m->secret, true, m->id, kind, hello.nonce, snonce, mac) ||
	    !pchan_mac_equal(mac, buf)) {
		pr_warn(&m->ag->log, "page channel peer failed authentication, dropped",
			LF_STR("migration", m->id), LF_STR("peer", m->channel));
		return snprintf(why, why_len, "the destination failed authentication"), -1;
	}
	*last_seq = h.seq;
	if (kind == PCHAN_MAIN)
		s->peer_caps = h.count; /* per connection: a resume may name another destination */
	return 0;
}

static void *reader_main(void *arg)
{
	struct mig_src *s = arg;
	struct mig *m = s->m;
	struct pchan_geom g = { .n_pages = m->n_pages, .page_size = m->page_size };
	struct pchan_hdr h;
	uint8_t buf[1024];

	for (;;) {
		int r = pchan_recv(s->main_c, &h, buf, sizeof(buf), &g, -1);

		if (r) {
			pthread_mutex_lock(&m->mu);
			if (!m->stop && !s->broken && m->phase != MIG_COMPLETED)
				pr_warn(&m->ag->log, "page channel broken", LF_STR("migration", m->id),
					LF_STR("channel", "main"),
					LF_STR("error", r < 0 ? strerror(errno) : pchan_result_str(r)));
			s->broken = true;
			/* a sender blocked on a connection whose peer stopped reading goes too */
			mig_src_shutdown(s);
			pthread_cond_broadcast(&m->cond);
			pthread_mutex_unlock(&m->mu);
			return NULL;
		}
		pthread_mutex_lock(&m->mu);
		if (h.type == PCHAN_T_ACK && h.seq > s->acked)
			s->acked = h.seq;
		else if (h.type == PCHAN_T_DONE)
			s->done_seen = true;
		else if (h.type == PCHAN_T_ERROR)
			pr_warn(&m->ag->log, "the destination reports an error", LF_STR("migration", m->id),
				LF_STR("error", (char *)buf));
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
	}
}

/* Demand requests: answered from the held memory, ahead of everything else. */
static void *preempt_main(void *arg)
{
	struct mig_src *s = arg;
	struct mig *m = s->m;
	struct pchan_geom g = { .n_pages = m->n_pages, .page_size = m->page_size };
	struct pchan_hdr h;
	uint8_t small[64];
	int r = -1;

	for (;;) {
		r = pchan_recv(s->pre_c, &h, small, sizeof(small), &g, -1);
		if (r)
			break;
		if (h.type != PCHAN_T_REQUEST) {
			r = PCHAN_BAD_TYPE;
			break;
		}
		/* every page is protected since the hold: what is read is final */
		pthread_mutex_lock(&m->mu);
		m->st.postcopy_requests++;
		bitmap_clear(s->todo, h.page, h.count);
		pthread_mutex_unlock(&m->mu);
		/* the background push goes on where the workload is (locality) */
		atomic_store(&s->hint, h.page + h.count + 1);
		r = mig_src_send_range(s, &s->pre, h.page, h.count, ST_DEMAND);
		if (r == -2) {
			mig_fail(m, "cannot read the region's pages: %s", strerror(errno));
			break;
		}
		if (r)
			break;
	}
	pthread_mutex_lock(&m->mu);
	if (!m->stop && !s->broken)
		pr_warn(&m->ag->log, "page channel broken", LF_STR("migration", m->id),
			LF_STR("channel", "preempt"),
			LF_STR("error", r < 0 ? strerror(errno) : pchan_result_str(r)));
	s->broken = true;
	mig_src_shutdown(s);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* Under mu: every connection of the job ends (their threads see it). */
void mig_src_shutdown(struct mig_src *s)
{
	if (s->main_c)
		ptls_shutdown(s->main_c);
	if (s->pre_c)
		ptls_shutdown(s->pre_c);
	for (unsigned i = 1; i < s->lanes; i++) {
		if (s->lane[i].c)
			ptls_shutdown(s->lane[i].c);
	}
}

void mig_src_disconnect(struct mig_src *s)
{
	struct mig *m = s->m;

	pthread_mutex_lock(&m->mu);
	mig_src_shutdown(s);
	for (unsigned i = 1; i < s->lanes; i++)
		s->lane[i].quit = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	if (s->rd_started)
		pthread_join(s->rd_th, NULL);
	if (s->pre_started)
		pthread_join(s->pre_th, NULL);
	s->rd_started = s->pre_started = false;
	for (unsigned i = 1; i < s->lanes; i++) {
		if (s->lane[i].started)
			pthread_join(s->lane[i].th, NULL);
		s->lane[i].started = false;
	}
	pthread_mutex_lock(&m->mu);
	ptls_close(s->main_c);
	ptls_close(s->pre_c);
	s->main_c = s->pre_c = s->lane[0].c = s->pre.c = NULL;
	for (unsigned i = 1; i < s->lanes; i++) {
		ptls_close(s->lane[i].c);
		s->lane[i].c = NULL;
	}
	s->lanes = 1;
	pthread_mutex_unlock(&m->mu);
}

int mig_src_send_switch(struct mig_src *s, struct ptls_conn *c)
{
	struct mig *m = s->m;
	uint64_t words = BITMAP_WORDS(m->n_pages);

	for (uint64_t w = 0; w < words; w += SRC_STALE_WORDS) {
		uint64_t nw = words - w < SRC_STALE_WORDS ? words - w : SRC_STALE_WORDS;
		uint64_t pages = m->n_pages - w * 64 < nw * 64 ? m->n_pages - w * 64 : nw * 64;
		uint8_t *le = malloc(nw * 8);
		struct pchan_hdr h = { .type = PCHAN_T_STALE, .seq = ++s->seq, .page = w * 64,
				       .count = (uint32_t)pages, .length = (uint32_t)(nw * 8) };
		int r;

		if (!le)
			return -1;
		pthread_mutex_lock(&m->mu);
		for (uint64_t i = 0; i < nw; i++) {
			for (int b = 0; b < 8; b++)
				le[i * 8 + (uint64_t)b] = (uint8_t)(s->todo[w + i] >> (8 * b));
		}
		pthread_mutex_unlock(&m->mu);
		r = pchan_send(c, &h, le);
		free(le);
		if (r)
			return -1;
	}
	{
		uint8_t ms[8];
		uint64_t at = m->st.switchover_at_ms;
		struct pchan_hdr h = { .type = PCHAN_T_SWITCHOVER, .seq = ++s->seq, .length = 8 };

		for (int b = 0; b < 8; b++)
			ms[b] = (uint8_t)(at >> (56 - 8 * b));
		if (pchan_send(c, &h, ms))
			return -1;
		s->switch_seq = h.seq;
	}
	return 0;
}

/* One connection of kind, TLS and the proof of the secret within one deadline. */
static struct ptls_conn *connect_one(struct mig_src *s, const char *addr, enum pchan_kind kind,
				     uint64_t *last, char *why, size_t why_len)
{
	struct mig *m = s->m;
	uint64_t deadline = mono_now_ns() + (uint64_t)m->ag->opts.page_channel_handshake_ms * 1000000u;
	struct ptls_conn *c;
	char host[256], e[256];
	uint16_t port;
	int fd;

	if (netaddr_parse(addr, host, sizeof(host), &port))
		return snprintf(why, why_len, "bad destination %s", addr), NULL;
	fd = pchan_connect(addr, (int)m->ag->opts.page_channel_handshake_ms);
	if (fd < 0)
		return snprintf(why, why_len, "connect %s: %s", addr, strerror(errno)), NULL;
	/*
	 * The kernel sizes the buffers (autotuning): a fixed small one stalls the
	 * stream whenever either side waits for a CPU.  The switchover does not
	 * queue behind them: it waits for the backlog's ack first (mig_src.c).
	 */
	c = ptls_connect(mig_tls(m->ag), fd, host, m->id, m->secret, deadline, e, sizeof(e));
	if (!c) {
		close(fd);
		return snprintf(why, why_len, "%.40s: %.200s", addr, e), NULL;
	}
	if (handshake(s, c, kind, last, why, why_len)) {
		ptls_close(c);
		return NULL;
	}
	ptls_set_deadline(c, 0);
	return c;
}

static bool lanes_started(const struct mig_src *s)
{
	for (unsigned i = 1; i < s->lanes; i++) {
		if (!s->lane[i].started)
			return false;
	}
	return true;
}

/*
 * How many connections push (the main one included): the job's
 * push_connections, as many as the destination takes (auth_ok's count;
 * agents from before push connections take none).
 */
static unsigned pushers(struct mig_src *s)
{
	struct mig *m = s->m;
	unsigned offered = s->peer_caps & PCHAN_CAP_PUSH
				   ? (s->peer_caps >> PCHAN_CAP_PUSH_SHIFT) & PCHAN_CAP_PUSH_MASK : 0;
	unsigned n = m->push_conns - 1 < offered ? m->push_conns - 1 : offered;

	if (n + 1 < m->push_conns)
		pr_warn(&m->ag->log, "the destination takes fewer push connections than asked, "
			"pushing on fewer", LF_STR("migration", m->id),
			LF_UINT("push_connections", m->push_conns), LF_UINT("used", n + 1));
	return n + 1;
}

/*
 * The job's connections, in this order: the main channel (its auth_ok says
 * what the destination processed and takes), the preempt channel, the push
 * connections; then SETUP, and what the destination lost is sent again.
 */
int mig_src_connect_all(struct mig_src *s, char *why, size_t why_len)
{
	struct mig *m = s->m;
	char addr[sizeof(m->channel)];
	uint64_t last = 0, ignored;
	uint8_t setup[PCHAN_SETUP_LEN];
	struct pchan_hdr h = { .type = PCHAN_T_SETUP };
	struct ptls_conn *mc, *pc, *push[1 + PCHAN_MAX_PUSH] = { NULL };
	unsigned n;

	pthread_mutex_lock(&m->mu);
	memcpy(addr, m->channel, sizeof(addr));
	pthread_mutex_unlock(&m->mu);
	mc = connect_one(s, addr, PCHAN_MAIN, &last, why, why_len);
	if (!mc)
		return -1;
	pc = connect_one(s, addr, PCHAN_PREEMPT, &ignored, why, why_len);
	if (!pc) {
		ptls_close(mc);
		return -1;
	}
	n = pushers(s);
	for (unsigned i = 1; i < n; i++) {
		push[i] = connect_one(s, addr, (enum pchan_kind)(PCHAN_PUSH + i - 1), &ignored, why, why_len);
		if (!push[i])
			goto fail;
	}
	for (int b = 0; b < 8; b++)
		setup[b] = (uint8_t)(m->length >> (56 - 8 * b));
	for (int b = 0; b < 4; b++)
		setup[8 + b] = (uint8_t)(m->page_size >> (24 - 8 * b));
	for (int b = 0; b < 4; b++)
		setup[12 + b] = (uint8_t)(n >> (24 - 8 * b));
	/* to a destination from before push connections, the SETUP it knows */
	h.length = s->peer_caps & PCHAN_CAP_PUSH ? PCHAN_SETUP_LEN : PCHAN_SETUP_LEN_V1;
	if (pchan_send(mc, &h, setup)) {
		snprintf(why, why_len, "send setup: %s", strerror(errno));
		goto fail;
	}
	/* whatever was sent after the destination's last processed frame may be lost */
	pthread_mutex_lock(&m->mu);
	for (uint64_t p = 0; p < m->n_pages; p++) {
		if (s->sent_seq[p] > last) {
			bitmap_set(s->todo, p, 1);
			/* not staged there: the fingerprint says nothing of what the destination has */
			mig_sent_forget(&s->sent, p);
		}
	}
	if (!last)
		mig_sent_forget_all(&s->sent); /* a destination started again has nothing staged */
	s->acked = last;
	/*
	 * Numbered on from what the destination processed, with no gap: it
	 * processes the frames of several connections in seq order; a source
	 * started again numbers on after what the destination saw.
	 */
	s->seq = last;
	s->main_c = s->lane[0].c = mc;
	s->pre_c = s->pre.c = pc;
	for (unsigned i = 1; i < n; i++) {
		s->lane[i].c = push[i];
		s->lane[i].quit = false;
		s->lane[i].seen = s->pass_gen; /* passes from now on */
	}
	s->lanes = n;
	m->st.push_connections = n;
	s->broken = false;
	s->done_seen = false;
	pthread_mutex_unlock(&m->mu);
	if (s->switch_seq > last && mig_src_send_switch(s, mc)) {
		snprintf(why, why_len, "send switchover: %s", strerror(errno));
		mig_src_disconnect(s);
		return -1;
	}
	if (!pthread_create(&s->rd_th, NULL, reader_main, s))
		s->rd_started = true;
	if (!pthread_create(&s->pre_th, NULL, preempt_main, s))
		s->pre_started = true;
	for (unsigned i = 1; i < n; i++) {
		if (!pthread_create(&s->lane[i].th, NULL, mig_src_lane_main, &s->lane[i]))
			s->lane[i].started = true;
	}
	if (!s->rd_started || !s->pre_started || !lanes_started(s)) {
		snprintf(why, why_len, "cannot start threads");
		mig_src_disconnect(s);
		return -1;
	}
	return 0;
fail:
	for (unsigned i = 1; i < n; i++)
		ptls_close(push[i]);
	ptls_close(pc);
	ptls_close(mc);
	return -1;
}
