/*
 * The migration destination's page channel connections (PROTOCOL.md §3):
 * a new authenticated connection takes over from the previous one of its
 * kind, its frames (pages, zero runs, stale bitmap, switchover, complete)
 * are staged and acknowledged.  These threads never touch the workload's
 * memory: after the switchover they hand what they staged to the region's
 * fault worker (mig_dst_deliver, mig_dst_poke).  See mig_dst.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <zstd.h>

#include "agent.h"
#include "bitmap.h"
#include "conn.h"
#include "hsk.h"
#include "mig.h"
#include "mono.h"
#include "ptls.h"
#include "region.h"

#define LOG_COMP "migration"
#include "log.h"
#include "mig_dst.h"
#include "mig_journal.h"

/* ---- connections ------------------------------------------------------- */

/*
 * A new authenticated connection of kind for m: the previous one of that
 * kind is shut down and its thread finishes first, so that last_seq is
 * final when the source is told.  Returns -1 when the job is stopping.
 */
int mig_dst_conn(struct mig *m, struct ptls_conn *c, enum pchan_kind kind, uint64_t *last_seq)
{
	struct mig_dst *d;
	struct ptls_conn **slot;
	bool *busy;

	pthread_mutex_lock(&m->mu);
	d = m->dst;
	if (!d || m->stop) {
		pthread_mutex_unlock(&m->mu);
		return -1;
	}
	/* counted from here, so that stopping the job waits for this thread too */
	d->threads++;
	slot = kind == PCHAN_MAIN ? &d->main_c : &d->pre_c;
	busy = kind == PCHAN_MAIN ? &d->main_busy : &d->pre_busy;
	if (*slot)
		ptls_shutdown(*slot);
	while (*busy && !m->stop)
		pthread_cond_wait(&m->cond, &m->mu);
	if (m->stop || m->phase == MIG_CANCELLED || m->phase == MIG_FAILED ||
	    m->phase == MIG_COMPLETED || m->want_pause) {
		d->threads--;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
		return -1;
	}
	*busy = true;
	pthread_mutex_lock(&d->send_mu);
	*slot = c;
	pthread_mutex_unlock(&d->send_mu);
	*last_seq = d->last_seq;
	if (kind == PCHAN_MAIN) {
		d->done_sent = false;
		if (m->phase == MIG_PAUSED)
			m->st.reconnects++;
		if (m->phase == MIG_PAUSED || m->phase == MIG_PRECOPY)
			mig_set_phase(m, d->switched ? MIG_POSTCOPY : MIG_PRECOPY);
		m->error[0] = '\0';
	} else {
		d->pre_new = true;
	}
	pthread_mutex_unlock(&m->mu);
	if (kind == PCHAN_PREEMPT)
		mig_dst_poke(d);
	return 0;
}

static void send_ack(struct mig_dst *d, struct ptls_conn *c)
{
	struct pchan_hdr h = { .type = PCHAN_T_ACK };

	pthread_mutex_lock(&d->m->mu);
	h.seq = d->last_seq;
	pthread_mutex_unlock(&d->m->mu);
	pthread_mutex_lock(&d->send_mu);
	if (pchan_send(c, &h, NULL))
		ptls_shutdown(c);
	pthread_mutex_unlock(&d->send_mu);
}

static int on_stale(struct mig_dst *d, const struct pchan_hdr *h, const uint8_t *buf)
{
	for (uint64_t i = 0; i < h->count; i++) {
		if (buf[i / 8] & (1u << (i % 8)))
			abit_clear(d->ready, h->page + i);
	}
	return 0;
}

static void on_switchover(struct mig_dst *d, const uint8_t *buf)
{
	struct mig *m = d->m;
	uint64_t at = 0, held = 0;

	for (int b = 0; b < 8; b++)
		at = at << 8 | buf[b];
	for (uint64_t p = 0; p < m->n_pages; p++)
		held += abit_test(d->ready, p);
	pthread_mutex_lock(&m->mu);
	d->switched = true;
	atomic_store(&d->live, true);
	d->switch_ns = mono_now_ns();
	d->held = held;
	m->st.switchover_at_ms = at;
	m->st.running_at_ms = jx_now_ms();
	m->st.remaining_pages = m->n_pages - held;
	mig_set_phase(m, MIG_POSTCOPY);
	pthread_mutex_unlock(&m->mu);
	mig_journal_write(m);
	pr_info(&m->ag->log, "migration switchover: the destination runs", LF_STR("migration", m->id),
		LF_UINT("stale_pages", m->n_pages - held));
	/* the faults parked until now are resolved again, the background install starts */
	mig_dst_poke(d);
	mig_dst_send_done(d);
}

/*
 * Pages of a data frame that were received (or decompressed) aside, into
 * the staging; once the destination runs (live), only those not ready yet:
 * a ready page may be installed by the worker at any moment, so nothing but
 * its final bytes may ever be written into it, and a second copy of it is
 * the same bytes anyway (mig_dst_deliver).
 */
static void stage_aside(struct mig_dst *d, uint64_t first, uint64_t n, const uint8_t *pages, bool live)
{
	uint32_t ps = d->m->page_size;

	for (uint64_t i = 0; i < n; i++) {
		if (!live || !abit_test(d->ready, first + i))
			memcpy(d->staging + (first + i) * ps, pages + i * ps, ps);
	}
}

/* The rest of a connection's life, in the listener's handshake thread. */
void mig_dst_run_conn(struct mig *m, struct ptls_conn *c, enum pchan_kind kind)
{
	struct mig_dst *d = m->dst;
	struct pchan_geom g = { .n_pages = m->n_pages, .page_size = m->page_size };
	size_t cap = PCHAN_MAX_PAYLOAD;
	uint8_t *buf = malloc(cap), *scratch = NULL; /* scratch: a frame's pages received aside */
	unsigned unacked = 0;
	struct pchan_hdr h;
	int r = -1;
	const char *why = NULL;
	ZSTD_DCtx *zd = NULL;

	if (kind == PCHAN_MAIN)
		mig_dst_send_done(d); /* finished before a cut: the source may not know */
	while (buf) {
		bool aside, live;

		r = pchan_recv_hdr(c, &h, &g, -1);
		live = atomic_load(&d->live); /* main: only this thread's switchover frame changes it */
		/*
		 * Once the destination runs (the preempt channel: always), the worker installs
		 * ready pages from the staging while frames arrive, also frames that carry some
		 * of those pages again: their bytes go aside first and only pages not ready yet
		 * are copied in (stage_aside).  Never into a ready page's staging: zstd
		 * decompresses with its output buffer as scratch (literals at its end), and a
		 * page installed meanwhile would get those bytes for good.  Before the
		 * switchover nothing is installed: straight into the staging.
		 */
		aside = !r && (h.type == PCHAN_T_PAGES || h.type == PCHAN_T_PAGES_Z) &&
			(kind == PCHAN_PREEMPT || live);
		if (aside && !scratch && !(scratch = malloc(PCHAN_MAX_PAYLOAD))) {
			r = -1;
			break;
		}
		if (!r && h.type == PCHAN_T_PAGES) {
			/* checked against the region: it fits in the staging */
			uint8_t *at = d->staging + h.page * m->page_size;

			/* one call populates the frame's pages, not one fault each (best effort) */
			if (!aside)
				madvise(at, h.length, MADV_POPULATE_WRITE);
			r = pchan_recv_payload(c, aside ? scratch : at, h.length, -1);
		}
		else if (!r)
			r = h.length > cap ? PCHAN_TOO_LARGE : pchan_recv_payload(c, buf, h.length, -1);
		if (r)
			break;
		if (h.type == PCHAN_T_PAGES_Z) {
			/* checked against the region: count pages fit in the staging and in scratch */
			size_t want = (size_t)h.count * m->page_size, got;
			uint8_t *at = aside ? scratch : d->staging + h.page * m->page_size;

			if (!zd)
				zd = ZSTD_createDCtx();
			if (!zd) {
				r = -1;
				break;
			}
			if (!aside)
				madvise(at, want, MADV_POPULATE_WRITE);
			got = ZSTD_decompressDCtx(zd, at, want, buf, h.length);
			if (ZSTD_isError(got) || got != want) {
				why = "compressed pages that do not decompress to their count of pages";
				break;
			}
			h.type = PCHAN_T_PAGES; /* staged: from here on like any pages */
		}
		if (aside)
			stage_aside(d, h.page, h.count, scratch, live);
		if (kind == PCHAN_PREEMPT) {
			if (h.type != PCHAN_T_PAGES && h.type != PCHAN_T_ZERO) {
				why = "only pages travel on the preempt channel";
				break;
			}
			mig_dst_deliver(d, h.page, h.count, h.type == PCHAN_T_PAGES, true);
			continue;
		}
		switch (h.type) {
		case PCHAN_T_SETUP: {
			uint64_t len = 0;
			uint32_t ps = 0;

			for (int b = 0; b < 8; b++)
				len = len << 8 | buf[b];
			for (int b = 8; b < 12; b++)
				ps = ps << 8 | buf[b];
			if (len != m->length || ps != m->page_size)
				why = "the source's region has another size or page size";
			break;
		}
		case PCHAN_T_PAGES:
		case PCHAN_T_ZERO:
			mig_dst_deliver(d, h.page, h.count, h.type == PCHAN_T_PAGES, false);
			break;
		case PCHAN_T_STALE:
			on_stale(d, &h, buf);
			break;
		case PCHAN_T_CURRENT:
			/*
			 * Stale pages whose staged copy holds the source's final bytes after
			 * all (it was sent them in precopy, "skip_unchanged"): ready as if
			 * they had come again.  Before the switchover nothing is stale.
			 */
			if (!live)
				why = "current before the switchover";
			else
				mig_dst_deliver(d, h.page, h.count, true, false);
			break;
		case PCHAN_T_SWITCHOVER:
			on_switchover(d, buf);
			break;
		case PCHAN_T_ERROR:
			buf[h.length ? h.length - 1 : 0] = '\0';
			mig_fail(m, "%.200s", (const char *)buf);
			why = "";
			break;
		case PCHAN_T_COMPLETE:
			pthread_mutex_lock(&m->mu);
			m->st.completed_ms = jx_now_ms();
			m->st.remaining_pages = 0;
			mig_set_phase(m, MIG_COMPLETED);
			pthread_mutex_unlock(&m->mu);
			mig_journal_write(m);
			pr_info(&m->ag->log, "migration completed", LF_STR("migration", m->id));
			break;
		default:
			why = "unexpected frame on the main channel";
		}
		if (why)
			break;
		if (h.seq) {
			pthread_mutex_lock(&m->mu);
			if (h.seq > d->last_seq)
				d->last_seq = h.seq;
			pthread_mutex_unlock(&m->mu);
			unacked++;
		}
		if (unacked && (unacked >= DST_ACK_EVERY || !ptls_pending(c))) {
			send_ack(d, c);
			unacked = 0;
		}
	}
	if (r < 0 && errno == EBADMSG && !m->stop)
		pr_warn(&m->ag->log, "page channel data failed its integrity check (tampered with or "
			"corrupted on the way), dropped", LF_STR("migration", m->id),
			LF_STR("channel", kind == PCHAN_MAIN ? "main" : "preempt"));
	free(buf);
	free(scratch);
	ZSTD_freeDCtx(zd);
	if ((why && *why) || r > 0) {
		struct pchan_hdr e = { .type = PCHAN_T_ERROR };
		const char *text = why ? why : pchan_result_str(r);

		pr_warn(&m->ag->log, "page channel peer broke the protocol, dropped",
			LF_STR("migration", m->id), LF_STR("error", text));
		e.length = (uint32_t)strlen(text) + 1;
		pthread_mutex_lock(&d->send_mu);
		pchan_send(c, &e, text);
		pthread_mutex_unlock(&d->send_mu);
	}
	pthread_mutex_lock(&m->mu);
	pthread_mutex_lock(&d->send_mu);
	if (kind == PCHAN_MAIN) {
		d->main_c = NULL;
		d->main_busy = false;
	} else {
		d->pre_c = NULL;
		d->pre_busy = false;
	}
	pthread_mutex_unlock(&d->send_mu);
	ptls_close(c);
	if (kind == PCHAN_MAIN && !m->stop &&
	    (m->phase == MIG_PRECOPY || m->phase == MIG_POSTCOPY || m->phase == MIG_SWITCHOVER)) {
		mig_set_phase(m, MIG_PAUSED);
		pr_warn(&m->ag->log, "page channel broken, migration paused", LF_STR("migration", m->id));
	}
	d->threads--;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}
