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

/* The connection of kind in d, and whether its reader runs (both under mu). */
static void slot_of(struct mig_dst *d, enum pchan_kind kind, struct ptls_conn ***slot, bool **busy)
{
	if (kind == PCHAN_MAIN) {
		*slot = &d->main_c;
		*busy = &d->main_busy;
	} else if (kind == PCHAN_PREEMPT) {
		*slot = &d->pre_c;
		*busy = &d->pre_busy;
	} else {
		*slot = &d->push_c[kind - PCHAN_PUSH];
		*busy = &d->push_busy[kind - PCHAN_PUSH];
	}
}

/* Under mu: a push connection's reader still runs. */
static bool push_busy(const struct mig_dst *d)
{
	for (unsigned i = 0; i < PCHAN_MAX_PUSH; i++) {
		if (d->push_busy[i])
			return true;
	}
	return false;
}

/*
 * A new authenticated connection of kind for m: the previous one of that
 * kind is shut down and its thread finishes first, so that last_seq is
 * final when the source is told; a new main connection also ends the push
 * connections of the one before (a new session: the source connects its
 * push connections again after it).  *session: the session the connection
 * belongs to, for its reader (one that ends with its session, or before it
 * began reading, ends no other).  Returns -1 when the job is stopping, or
 * for a push connection beyond --page-channel-max-push.
 */
int mig_dst_conn(struct mig *m, struct ptls_conn *c, enum pchan_kind kind, uint64_t *last_seq,
		 uint64_t *session)
{
	struct mig_dst *d;
	struct ptls_conn **slot;
	bool *busy;

	if (kind >= PCHAN_PUSH && (unsigned)(kind - PCHAN_PUSH) >= m->ag->opts.page_channel_max_push)
		return -1;
	pthread_mutex_lock(&m->mu);
	d = m->dst;
	if (!d || m->stop) {
		pthread_mutex_unlock(&m->mu);
		return -1;
	}
	/* counted from here, so that stopping the job waits for this thread too */
	d->threads++;
	slot_of(d, kind, &slot, &busy);
	if (*slot)
		ptls_shutdown(*slot);
	if (kind == PCHAN_MAIN) {
		d->gen++; /* the old session's readers that wait for their turn end */
		mig_dst_shutdown(d, false);
		pthread_cond_broadcast(&m->cond);
	}
	while ((*busy || (kind == PCHAN_MAIN && push_busy(d))) && !m->stop)
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
	*session = d->gen;
	if (kind == PCHAN_MAIN) {
		d->done_sent = false;
		d->ordered = false; /* until this session's SETUP says so */
		d->pushers = 1;
		if (m->phase == MIG_PAUSED)
			m->st.reconnects++;
		if (m->phase == MIG_PAUSED || m->phase == MIG_PRECOPY)
			mig_set_phase(m, d->switched ? MIG_POSTCOPY : MIG_PRECOPY);
		m->error[0] = '\0';
	} else if (kind == PCHAN_PREEMPT) {
		d->pre_new = true;
	}
	pthread_mutex_unlock(&m->mu);
	if (kind == PCHAN_PREEMPT)
		mig_dst_poke(d);
	return 0;
}

/* On the main channel, whichever connection's reader processed the frames. */
static void send_ack(struct mig_dst *d)
{
	struct pchan_hdr h = { .type = PCHAN_T_ACK };

	pthread_mutex_lock(&d->m->mu);
	h.seq = d->last_seq;
	pthread_mutex_unlock(&d->m->mu);
	pthread_mutex_lock(&d->send_mu);
	if (d->main_c && pchan_send(d->main_c, &h, NULL))
		ptls_shutdown(d->main_c);
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

	if (!live) /* one call populates the frame's pages, not one fault each (best effort) */
		madvise(d->staging + first * ps, n * ps, MADV_POPULATE_WRITE);
	for (uint64_t i = 0; i < n; i++) {
		if (!live || !abit_test(d->ready, first + i))
			memcpy(d->staging + (first + i) * ps, pages + i * ps, ps);
	}
}

/*
 * In an ordered session (a SETUP of PCHAN_SETUP_LEN bytes), the main
 * channel's frames and the push connections' are processed in seq order,
 * whichever connection brought them: a frame waits until the one before it
 * has been.  Once every page is installed in the workload no frame can
 * change anything (the source pushes until it sees `done`): they are
 * processed as they come.  0: its turn; 1: the session ended (a new main
 * connection, a reader that failed) or the job stops; -1: a seq already
 * processed.
 */
static int wait_turn(struct mig_dst *d, uint64_t gen, uint64_t seq)
{
	struct mig *m = d->m;
	int r;

	pthread_mutex_lock(&m->mu);
	while (!m->stop && d->gen == gen && !atomic_load(&d->all_installed) &&
	       (!d->ordered || d->last_seq + 1 < seq))
		pthread_cond_wait(&m->cond, &m->mu);
	r = m->stop || d->gen != gen        ? 1
	    : atomic_load(&d->all_installed) ? 0
	    : d->last_seq + 1 != seq         ? -1
					      : 0;
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* SETUP: the region must be the job's; the longer one orders the session and counts its pushers. */
static const char *on_setup(struct mig_dst *d, const struct pchan_hdr *h, const uint8_t *buf)
{
	struct mig *m = d->m;
	uint64_t len = 0;
	uint32_t ps = 0, pushers = 1;

	for (int b = 0; b < 8; b++)
		len = len << 8 | buf[b];
	for (int b = 8; b < 12; b++)
		ps = ps << 8 | buf[b];
	if (len != m->length || ps != m->page_size)
		return "the source's region has another size or page size";
	if (h->length == PCHAN_SETUP_LEN) {
		pushers = 0;
		for (int b = 12; b < 16; b++)
			pushers = pushers << 8 | buf[b];
		if (!pushers || pushers > 1 + m->ag->opts.page_channel_max_push)
			return "more push connections than this destination takes";
	}
	pthread_mutex_lock(&m->mu);
	d->ordered = h->length == PCHAN_SETUP_LEN;
	d->pushers = pushers;
	m->st.push_connections = pushers;
	pthread_cond_broadcast(&m->cond); /* push connections' frames wait for this */
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* The rest of a connection's life, in the listener's handshake thread. */
void mig_dst_run_conn(struct mig *m, struct ptls_conn *c, enum pchan_kind kind, uint64_t gen)
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
	struct ptls_conn **slot;
	bool *busy;
	bool push = kind >= PCHAN_PUSH, session = kind != PCHAN_PREEMPT, ended = false;

	if (kind == PCHAN_MAIN)
		mig_dst_send_done(d); /* finished before a cut: the source may not know */
	while (buf) {
		bool aside, live, ordered, shared;

		r = pchan_recv_hdr(c, &h, &g, -1);
		if (r)
			break;
		pthread_mutex_lock(&m->mu);
		ordered = push || d->ordered; /* main: only this thread's SETUP changes it */
		shared = ordered && d->pushers > 1;
		pthread_mutex_unlock(&m->mu);
		if (push && ((h.type != PCHAN_T_PAGES && h.type != PCHAN_T_PAGES_Z && h.type != PCHAN_T_ZERO &&
			      h.type != PCHAN_T_CURRENT) || !h.seq)) {
			why = "only numbered pages travel on a push connection";
			break;
		}
		/* main, not ordered: only this thread's switchover frame changes it */
		live = atomic_load(&d->live);
		/*
		 * Once the destination runs (the preempt channel: always), the worker installs
		 * ready pages from the staging while frames arrive, also frames that carry some
		 * of those pages again: their bytes go aside first and only pages not ready yet
		 * are copied in (stage_aside).  Never into a ready page's staging: zstd
		 * decompresses with its output buffer as scratch (literals at its end), and a
		 * page installed meanwhile would get those bytes for good.  Frames of a session
		 * that pushes on several connections go aside too: a later copy of a page may
		 * arrive on another connection before this one has its turn.  Else, before the
		 * switchover nothing is installed: straight into the staging.
		 */
		aside = (h.type == PCHAN_T_PAGES || h.type == PCHAN_T_PAGES_Z) &&
			(kind == PCHAN_PREEMPT || live || shared);
		if (aside && !scratch && !(scratch = malloc(PCHAN_MAX_PAYLOAD))) {
			r = -1;
			break;
		}
		if (h.type == PCHAN_T_PAGES) {
			/* checked against the region: it fits in the staging */
			uint8_t *at = d->staging + h.page * m->page_size;

			/* one call populates the frame's pages, not one fault each (best effort) */
			if (!aside)
				madvise(at, h.length, MADV_POPULATE_WRITE);
			r = pchan_recv_payload(c, aside ? scratch : at, h.length, -1);
		} else {
			r = h.length > cap ? PCHAN_TOO_LARGE : pchan_recv_payload(c, buf, h.length, -1);
		}
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
		if (ordered && h.seq) {
			/* received and decrypted beside the other connections; processed in turn */
			int t = wait_turn(d, gen, h.seq);

			if (t > 0) {
				ended = true;
				break;
			}
			if (t < 0) {
				why = "a frame numbered out of order";
				break;
			}
			live = atomic_load(&d->live); /* the switchover may have been processed meanwhile */
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
		case PCHAN_T_SETUP:
			why = on_setup(d, &h, buf);
			break;
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
			if (ordered)
				pthread_cond_broadcast(&m->cond); /* the next frame's turn */
			pthread_mutex_unlock(&m->mu);
			unacked++;
		}
		if (unacked && (unacked >= DST_ACK_EVERY || !ptls_pending(c))) {
			send_ack(d);
			unacked = 0;
		}
	}
	if (r < 0 && errno == EBADMSG && !m->stop)
		pr_warn(&m->ag->log, "page channel data failed its integrity check (tampered with or "
			"corrupted on the way), dropped", LF_STR("migration", m->id),
			LF_STR("channel", pchan_kind_name(kind)));
	free(buf);
	free(scratch);
	ZSTD_freeDCtx(zd);
	if ((why && *why) || r > 0) {
		struct pchan_hdr e = { .type = PCHAN_T_ERROR };
		const char *text = why ? why : pchan_result_str(r);

		pr_warn(&m->ag->log, "page channel peer broke the protocol, dropped",
			LF_STR("migration", m->id), LF_STR("channel", pchan_kind_name(kind)),
			LF_STR("error", text));
		e.length = (uint32_t)strlen(text) + 1;
		pthread_mutex_lock(&d->send_mu);
		pchan_send(c, &e, text);
		pthread_mutex_unlock(&d->send_mu);
	}
	pthread_mutex_lock(&m->mu);
	pthread_mutex_lock(&d->send_mu);
	slot_of(d, kind, &slot, &busy);
	*slot = NULL;
	*busy = false;
	pthread_mutex_unlock(&d->send_mu);
	ptls_close(c);
	/*
	 * A frame this connection did not process may be the one the others wait
	 * for: the session ends with it (its other connections are cut, the main
	 * one's reader pauses the job, the source connects them all again).  Not
	 * once every page is installed: then nothing waits, and the source,
	 * having seen `done`, closes its connections in no particular order
	 * while `complete` may still be on its way on the main one.
	 */
	if (session && !ended && d->gen == gen && !atomic_load(&d->all_installed)) {
		d->gen++;
		mig_dst_shutdown(d, false);
	}
	if (kind == PCHAN_MAIN && !m->stop &&
	    (m->phase == MIG_PRECOPY || m->phase == MIG_POSTCOPY || m->phase == MIG_SWITCHOVER)) {
		mig_set_phase(m, MIG_PAUSED);
		pr_warn(&m->ag->log, "page channel broken, migration paused", LF_STR("migration", m->id));
	}
	d->threads--;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}
