/*
 * The source side of a migration (PROTOCOL.md §3): precopy rounds with an
 * exact dirty set, switchover, then demand and background pages until the
 * destination holds every page.
 *
 * Tracking (mig_src_engine.c runs it on the region's fault worker):
 *   - "async": the region stays on its track uffd (WP_ASYNC) during
 *     precopy; each round takes the pages written since the last one with
 *     one PAGEMAP_SCAN that protects them again in the same walk, so no
 *     write faults.  The switchover has to move the range to the hold uffd
 *     (writers must wait from then on), and that move clears every uffd-wp
 *     bit (UFFDIO_UNREGISTER, measured in track.h): writes between the last
 *     scan and the new protection would go unseen and the destination
 *     would run with those pages stale.  So the worker stops every thread
 *     of the workload first (engine/freeze.h) and only then scans, moves
 *     and protects: nothing can write in between, and the dirty set is
 *     exact (tests/test_mig_core.c compares every byte, and shows that the
 *     comparison catches a switchover made without the stop).
 *   - "hold", where the workload cannot be stopped: the range moves to the
 *     hold uffd once, before round 1 (which sends every page anyway), and
 *     stays there; a first write per `granule` pages after each
 *     protection costs one fault, which the worker resolves by lifting the
 *     granule and marking it dirty.  At switchover the worker simply stops
 *     lifting: from that instant every writer waits.
 * Each round starts by asking the worker for what was written since the
 * last one (SRC_REQ_ROUND: it joins todo, protected again), which also
 * measures the dirty rate the switchover is decided by.
 *
 * Threads: the region's fault worker owns its uffds (the strategy in
 * mig_src_engine.c: write faults, protection at each round and at the
 * hold); the job thread here decides rounds and the switchover, asks the
 * worker for them (mig_src_ask()) and sends pages on the main channel,
 * reading them through /proc/<pid>/mem (track_read(), which never waits
 * for a fault), while each push connection's thread takes its share of
 * the same pass (mig_src_push.c); per connection a reader of the main
 * channel (acks, done) and a server of the preempt channel (demand
 * requests, answered at once from the held memory; both in
 * mig_src_conn.c).  Bitmaps are shared under m->mu; sent_seq and the
 * fingerprints belong to the senders of a pass, each on its own pages,
 * and to the job thread between passes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zstd.h>

#include "agent.h"
#include "bitmap.h"
#include "fault.h"
#include "mig.h"
#include "netaddr.h"
#include "mono.h"
#include "ptls.h"
#include "region.h"
#include "track.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_src.h"

/* ---- the main thread --------------------------------------------------- */

/* 1: stop, 2: switch over, 3: connection broken, 0: go on */
int mig_src_interrupted(struct mig_src *s, uint64_t deadline_ns)
{
	struct mig *m = s->m;
	int r = 0;

	pthread_mutex_lock(&m->mu);
	if (m->stop || m->want_pause || m->phase == MIG_FAILED)
		r = 1;
	else if (s->broken)
		r = 3;
	else if (!s->holding && (m->want_switchover || (deadline_ns && mono_now_ns() >= deadline_ns)))
		r = 2;
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* The worker let go of the region: the job cannot go on (the cause is in engine_why). */
static void engine_lost(struct mig_src *s)
{
	char why[sizeof(s->engine_why)];

	pthread_mutex_lock(&s->m->mu);
	memcpy(why, s->engine_why, sizeof(why));
	pthread_mutex_unlock(&s->m->mu);
	mig_fail(s->m, "the region's fault worker let go of it: %s", why);
}

/*
 * The hold: the worker stops lifting and protects what was written since
 * the last round, which joins todo, so that from that instant every page
 * is protected and every writer waits; the destination is then told at
 * once which of its pages are stale (it runs from then on).  A protection
 * that met a change of the workload's mappings (EAGAIN) is asked again
 * after the worker has read it.
 */
/*
 * Before the workload stops: waits until the destination has staged every
 * frame sent so far (its ACK), so that the stale bitmap and the
 * SWITCHOVER frame find empty socket buffers and the downtime does not
 * include draining the precopy backlog (at most SRC_DRAIN_MAX_MS; the
 * workload still runs meanwhile).  1: stop or a broken connection.
 */
static int drain(struct mig_src *s)
{
	struct mig *m = s->m;
	uint64_t deadline = mono_now_ns() + (uint64_t)SRC_DRAIN_MAX_MS * 1000000u;
	int r = 0;

	pthread_mutex_lock(&m->mu);
	while (s->acked < s->seq && !m->stop && !s->broken && !m->want_pause) {
		uint64_t now = mono_now_ns();

		if (now >= deadline)
			break;
		mig_wait_ms(m, (deadline - now) / 1000000u + 1);
	}
	if (m->stop || s->broken || m->want_pause)
		r = 1;
	pthread_mutex_unlock(&m->mu);
	return r;
}

static int switchover(struct mig_src *s)
{
	struct mig *m = s->m;
	int r, tries = 0;

	if (drain(s))
		return mig_src_interrupted(s, 0) == 3 ? 3 : 1;

	/*
	 * Before the hold: a restart must never give back writers whose region
	 * runs elsewhere.  Without the record there is no switchover: the job
	 * fails while the region's only current copy is still here, running.
	 */
	if (mig_mark_held(m)) {
		mig_fail(m, "cannot record the switchover in the state directory (%s): no switchover, "
			 "the region stays on this host", strerror(errno));
		return -1;
	}
	while ((r = mig_src_ask(s, SRC_REQ_SWITCH)) && errno == EAGAIN && ++tries < SRC_ASK_TRIES) {
		pthread_mutex_lock(&m->mu);
		mig_wait_ms(m, 1);
		pthread_mutex_unlock(&m->mu);
	}
	if (r) {
		if (errno == ENODEV)
			engine_lost(s);
		else
			mig_fail(m, "cannot write-protect the region at the switchover: %s", strerror(errno));
		return -1;
	}
	/* the final dirty set without the pages the destination has already (skip_unchanged) */
	mig_src_drop_unchanged(s);
	pthread_mutex_lock(&m->mu);
	m->st.remaining_pages = bitmap_count(s->todo, 0, m->n_pages);
	mig_set_phase(m, MIG_SWITCHOVER);
	pthread_mutex_unlock(&m->mu);
	pr_info(&m->ag->log, "migration switchover: the source holds its writers",
		LF_STR("migration", m->id), LF_UINT("stale_pages", m->st.remaining_pages));
	return mig_src_send_switch(s, s->main_c) ? 3 : 0;
}

/*
 * Asks the worker for a round: what was written since the last one joins
 * todo, protected again (EAGAIN: a change of the mappings met the
 * protection; the pages stay dirty for the next one).
 */
static int next_round(struct mig_src *s)
{
	if (!mig_src_ask(s, SRC_REQ_ROUND) || errno == EAGAIN)
		return 0;
	if (errno == ENODEV)
		engine_lost(s);
	else
		mig_fail(s->m, "cannot track the region's writes: %s", strerror(errno));
	return -1;
}

/*
 * auto_converge: a round that did not converge throttles the workload
 * harder (SRC_THROTTLE_INITIAL %, then SRC_THROTTLE_STEP more per such
 * round, at most SRC_THROTTLE_MAX %) so that the next rounds catch up with
 * its writes.  false when it cannot be throttled more: the switchover is
 * then decided as without the option.
 */
static bool converge_harder(struct mig_src *s)
{
	unsigned pct = s->thr_pct ? s->thr_pct + SRC_THROTTLE_STEP : SRC_THROTTLE_INITIAL;

	if (!s->m->auto_converge || s->thr_pct >= SRC_THROTTLE_MAX)
		return false;
	pct = pct > SRC_THROTTLE_MAX ? SRC_THROTTLE_MAX : pct;
	if (mig_src_throttle(s, pct))
		return false; /* not allowed to stop it (the stats say "unavailable") */
	s->thr_pct = pct;
	return true;
}

/*
 * After a round of postcopy "auto": switch over when what is still dirty
 * could be sent within max_downtime_ms at this round's bandwidth, after
 * max_rounds, or when the rounds stopped converging: written during the
 * round at least half of what it sent (dirty rate >= bandwidth / 2), so
 * another round would resend about as much again and postcopy sends each
 * remaining page once.  With auto_converge, rounds that stop converging
 * throttle the writer instead, up to SRC_THROTTLE_MAX.
 */
static void decide(struct mig_src *s, uint64_t dirty, uint64_t el)
{
	struct mig *m = s->m;
	bool fits, last, stuck;

	if (!m->postcopy_auto || !s->round_bytes)
		return;
	fits = (double)dirty * (double)el / (double)s->round_bytes / 1e6 <= (double)m->max_downtime_ms;
	last = m->st.rounds >= m->max_rounds; /* written by this thread only */
	stuck = dirty * SRC_CONVERGE_DIV >= s->round_bytes;
	if (stuck && !fits && !last && converge_harder(s))
		stuck = false;
	if (fits || last || stuck) {
		pthread_mutex_lock(&m->mu);
		m->want_switchover = true;
		pthread_mutex_unlock(&m->mu);
	}
}

/* The job pauses (or lost its connection) before the switchover: the workload runs freely. */
static void converge_off(struct mig_src *s)
{
	if (!s->thr_pct)
		return;
	s->thr_pct = 0;
	if (mig_src_throttle(s, 0) && errno != ENODEV)
		pr_pwarn(&s->m->ag->log, "cannot end the throttle of the workload",
			 LF_STR("migration", s->m->id));
}

/*
 * Rounds until the switchover: each sends todo, then takes what was
 * written meanwhile, which measures the dirty rate the switchover is
 * decided by.
 */
static int precopy(struct mig_src *s)
{
	struct mig *m = s->m;
	uint64_t deadline = m->postcopy_auto && m->postcopy_after_ms >= 0
				    ? mono_now_ns() + (uint64_t)m->postcopy_after_ms * 1000000u
				    : 0;

	if (next_round(s))
		return -1;
	for (;;) {
		uint64_t t0 = mono_now_ns(), dirty, el;
		int r;

		r = mig_src_pass(s, ST_PRECOPY, deadline);
		if (r)
			return r;
		el = mono_now_ns() - t0;
		if (next_round(s))
			return -1;
		pthread_mutex_lock(&m->mu);
		dirty = s->round_taken * m->page_size;
		m->st.rounds++;
		m->st.dirty_rate = el ? (uint64_t)((double)dirty * 1e9 / (double)el) : 0;
		m->st.remaining_pages = bitmap_count(s->todo, 0, m->n_pages);
		pthread_mutex_unlock(&m->mu);
		decide(s, dirty, el);
		pthread_mutex_lock(&m->mu);
		if (!s->round_bytes && !m->want_switchover && !m->stop)
			mig_wait_ms(m, SRC_IDLE_WAIT_MS); /* nothing written: do not spin */
		pthread_mutex_unlock(&m->mu);
		r = mig_src_interrupted(s, deadline);
		if (r)
			return r;
	}
}

/*
 * After `complete`: the main channel ends gracefully, the destination
 * closing it after it read `complete` (the main reader sees it end), at
 * most SRC_FINISH_MS.  Closed at once, with an `ack` still unread, it
 * would be reset, and `complete` could be dropped on its way: the
 * destination would wait for the source for ever, paused.
 */
static void finish(struct mig_src *s)
{
	struct mig *m = s->m;
	uint64_t deadline = mono_now_ns() + (uint64_t)SRC_FINISH_MS * 1000000u;

	ptls_finish(s->main_c);
	pthread_mutex_lock(&m->mu);
	while (!s->broken && !m->stop) {
		uint64_t now = mono_now_ns();

		if (now >= deadline)
			break;
		mig_wait_ms(m, (deadline - now) / 1000000u + 1);
	}
	pthread_mutex_unlock(&m->mu);
}

static int postcopy(struct mig_src *s)
{
	struct mig *m = s->m;

	for (;;) {
		int r = mig_src_pass(s, ST_POSTCOPY, 0);
		struct pchan_hdr h = { .type = PCHAN_T_COMPLETE };

		if (r)
			return r;
		pthread_mutex_lock(&m->mu);
		while (!m->stop && !m->want_pause && !s->broken && !s->done_seen &&
		       bitmap_next_set(s->todo, 0, m->n_pages) == m->n_pages)
			pthread_cond_wait(&m->cond, &m->mu);
		if (!s->done_seen || m->stop || m->want_pause || s->broken) {
			pthread_mutex_unlock(&m->mu);
			r = mig_src_interrupted(s, 0);
			if (r)
				return r;
			continue;
		}
		pthread_mutex_unlock(&m->mu);
		if (pchan_send(s->main_c, &h, NULL))
			pr_pwarn(&m->ag->log, "cannot confirm completion to the destination",
				 LF_STR("migration", m->id));
		pthread_mutex_lock(&m->mu);
		m->st.completed_ms = jx_now_ms();
		m->st.remaining_pages = 0;
		mig_set_phase(m, MIG_COMPLETED);
		pthread_mutex_unlock(&m->mu);
		pr_info(&m->ag->log, "migration completed", LF_STR("migration", m->id));
		mig_notify(m->ag);
		finish(s);
		return 1;
	}
}

static void *main_thread(void *arg)
{
	struct mig_src *s = arg;
	struct mig *m = s->m;
	uint64_t backoff = SRC_BACKOFF_MIN_MS;
	char why[256];
	bool lost;

	/* the region's worker takes the job over first (mig_src_engine.c) */
	pthread_mutex_lock(&m->mu);
	while (!s->engine_on && !s->engine_gone && !m->stop)
		pthread_cond_wait(&m->cond, &m->mu);
	lost = !s->engine_on && !m->stop;
	pthread_mutex_unlock(&m->mu);
	if (lost) {
		engine_lost(s);
		return NULL;
	}
	for (;;) {
		int r;

		pthread_mutex_lock(&m->mu);
		if (m->stop || m->phase == MIG_FAILED || m->phase == MIG_COMPLETED) {
			pthread_mutex_unlock(&m->mu);
			break;
		}
		if (m->want_pause) {
			mig_set_phase(m, MIG_PAUSED);
			pthread_mutex_unlock(&m->mu);
			pr_info(&m->ag->log, "migration paused on request, nothing is sent until resumed",
				LF_STR("migration", m->id));
			pthread_mutex_lock(&m->mu);
			while (m->want_pause && !m->stop)
				pthread_cond_wait(&m->cond, &m->mu);
			pthread_mutex_unlock(&m->mu);
			continue;
		}
		pthread_mutex_unlock(&m->mu);
		if (!s->main_c) {
			if (mig_src_connect_all(s, why, sizeof(why))) {
				pthread_mutex_lock(&m->mu);
				mig_set_phase(m, MIG_PAUSED);
				snprintf(m->error, sizeof(m->error), "%s", why);
				if (!m->want_resume)
					mig_wait_ms(m, backoff);
				m->want_resume = false;
				pthread_mutex_unlock(&m->mu);
				pr_warn(&m->ag->log, "page channel connect failed, retrying",
					LF_STR("migration", m->id), LF_STR("error", why),
					LF_UINT("backoff_ms", backoff));
				backoff = backoff * 2 > SRC_BACKOFF_MAX_MS ? SRC_BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = SRC_BACKOFF_MIN_MS;
			pthread_mutex_lock(&m->mu);
			m->error[0] = '\0';
			m->want_resume = false;
			if (m->phase == MIG_PAUSED)
				m->st.reconnects++;
			mig_set_phase(m, !s->holding ? MIG_PRECOPY : s->switch_seq ? MIG_POSTCOPY
										    : MIG_SWITCHOVER);
			pthread_mutex_unlock(&m->mu);
			pr_info(&m->ag->log, "page channel connected", LF_STR("migration", m->id),
				LF_UINT("acked_seq", s->acked));
		}
		if (!s->holding) {
			r = precopy(s);
			if (r == 2)
				r = switchover(s);
			if (r)
				converge_off(s); /* after a switchover the worker ended it */
		} else if (!s->switch_seq) {
			r = mig_src_send_switch(s, s->main_c) ? 3 : 0; /* a cut came before it was out */
		} else {
			r = 0;
		}
		if (!r && s->switch_seq) {
			pthread_mutex_lock(&m->mu);
			if (m->phase == MIG_SWITCHOVER)
				mig_set_phase(m, MIG_POSTCOPY);
			pthread_mutex_unlock(&m->mu);
		}
		if (!r && s->switch_seq)
			r = postcopy(s);
		pthread_mutex_lock(&m->mu);
		if (m->phase == MIG_FAILED && r > 0)
			r = -1; /* failed on another thread (a demand read): said here all the same */
		pthread_mutex_unlock(&m->mu);
		if (r < 0 && s->main_c) {
			/* the destination cannot finish without us: it should fail loudly too */
			struct pchan_hdr e = { .type = PCHAN_T_ERROR };
			char text[300];

			pthread_mutex_lock(&m->mu);
			snprintf(text, sizeof(text), "the source failed: %s", m->error);
			pthread_mutex_unlock(&m->mu);
			e.length = (uint32_t)strlen(text) + 1;
			pchan_send(s->main_c, &e, text);
		}
		if (r == 3 || r == 1 || r < 0) {
			bool completed;

			mig_src_disconnect(s);
			pthread_mutex_lock(&m->mu);
			completed = m->phase == MIG_COMPLETED || m->phase == MIG_FAILED;
			if (!completed && !m->stop)
				mig_set_phase(m, MIG_PAUSED);
			pthread_mutex_unlock(&m->mu);
		}
	}
	mig_src_disconnect(s);
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

/*
 * The senders' page buffers: the preempt channel's and the main channel's,
 * and the push connections' the job asks for (allocated once: a job keeps
 * them across reconnects).
 */
static int lanes_alloc(struct mig_src *s)
{
	size_t len = SRC_FRAME_PAGES * (size_t)s->m->page_size;

	if (!(s->pre.buf = malloc(len)))
		return -1;
	for (unsigned i = 0; i < s->m->push_conns; i++) {
		if (!(s->lane[i].buf = malloc(len)))
			return -1;
	}
	return 0;
}

/*
 * Loop thread.  The region's worker takes the job over (fault_strategy());
 * the job thread starts at once and waits for it.
 */
int mig_src_start(struct mig *m, struct region *r, char *why, size_t why_len)
{
	struct mig_src *s = calloc(1, sizeof(*s));

	if (!s)
		return snprintf(why, why_len, "out of memory"), -1;
	m->src = s;
	s->m = m;
	s->pid = r->pid;
	s->start = region_start(r);
	s->r = r;
	s->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->todo = bitmap_new(m->n_pages);
	s->dirty = bitmap_new(m->n_pages);
	s->sent_seq = calloc(m->n_pages, sizeof(uint64_t));
	for (unsigned i = 0; i < 1 + PCHAN_MAX_PUSH; i++) {
		s->lane[i].s = s;
		s->lane[i].i = i;
	}
	s->lanes = 1;
	s->pre.s = s;
	s->tok_ns = mono_now_ns();
	s->t.pagemap_fd = s->t.mem_fd = -1;
	if (mig_sent_init(&s->sent, m->skip_unchanged, m->n_pages, m->page_size)) {
		snprintf(why, why_len, "no random bytes for the page fingerprints: %s", strerror(errno));
		goto fail;
	}
	if (s->req_fd < 0 || !s->todo || !s->dirty || !s->sent_seq || lanes_alloc(s)) {
		snprintf(why, why_len, "out of resources: %s", strerror(errno));
		goto fail;
	}
	/* the job's own view of the memory: reads only, never a uffd */
	if (track_init(&s->t, s->pid, -1, -1, s->start, m->n_pages, m->page_size, 0, 1)) {
		snprintf(why, why_len, "cannot open the workload's memory: %s", strerror(errno));
		goto fail;
	}
	/* nothing protected yet: round 1 protects and sends every page */
	bitmap_set(s->dirty, 0, m->n_pages);
	m->st.remaining_pages = m->n_pages;
	m->st.throttle = m->auto_converge ? "ready" : NULL;
	if (r->mig_held) {
		/* an agent restart after the switchover: the region is held already, and
		 * what the destination got is not known here: everything goes again */
		s->resumed_held = true;
		bitmap_clear(s->dirty, 0, m->n_pages);
		bitmap_set(s->todo, 0, m->n_pages);
		s->switch_seq = UINT64_MAX; /* sent again on the first connection */
	}
	if (fault_strategy(m->ag->engine, r, &mig_src_strategy, s)) {
		snprintf(why, why_len, "cannot hand the region's tracking to its fault worker");
		goto fail;
	}
	s->handed = true;
	if (pthread_create(&s->main_th, NULL, main_thread, s)) {
		snprintf(why, why_len, "cannot start the migration thread");
		goto fail;
	}
	s->main_started = true;
	return 0;
fail:
	mig_src_stop(m, true);
	return -1;
}

/*
 * Ends the job's threads and its strategy.  cancel (or a job that never
 * switched over): the worker gives the region back to its track uffd with
 * no protection left and every waiting writer woken, as if the migration
 * had never started.  After a switchover the writers stay held (the
 * destination runs): the worker keeps them so after the job.
 */
void mig_src_stop(struct mig *m, bool cancel)
{
	struct mig_src *s = m->src;

	if (!s)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	mig_src_shutdown(s);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	if (s->main_started)
		pthread_join(s->main_th, NULL);
	mig_src_disconnect(s);
	if (s->handed) {
		bool give_back = cancel || !s->switch_seq;

		/* the worker has the job until it started it or refused it */
		pthread_mutex_lock(&m->mu);
		while (!s->engine_on && !s->engine_gone)
			pthread_cond_wait(&m->cond, &m->mu);
		s->give_back = give_back;
		pthread_mutex_unlock(&m->mu);
		if (give_back)
			mig_unmark_held(m);
		if (mig_src_ask(s, SRC_REQ_END) && errno != ENODEV)
			pr_pwarn(&m->ag->log, "cannot end the migration on the region's worker",
				 LF_STR("migration", m->id));
	}
	track_fini(&s->t);
	if (s->req_fd >= 0)
		close(s->req_fd);
	free(s->todo);
	free(s->dirty);
	free(s->sent_seq);
	mig_sent_fini(&s->sent);
	for (unsigned i = 0; i < 2 + PCHAN_MAX_PUSH; i++) {
		struct mig_src_lane *l = i ? &s->lane[i - 1] : &s->pre;

		free(l->buf);
		ZSTD_freeCCtx(l->zc);
		free(l->zbuf);
	}
	free(s);
	m->src = NULL;
}

void mig_src_kick(struct mig *m)
{
	struct mig_src *s = m->src;

	if (s && s->main_c && m->want_pause)
		mig_src_shutdown(s);
	pthread_cond_broadcast(&m->cond);
}

/* Under m->mu: pages the destination still needs, counted when asked for. */
uint64_t mig_src_remaining(struct mig *m)
{
	struct mig_src *s = m->src;

	if (!s || m->phase == MIG_COMPLETED)
		return m->phase == MIG_COMPLETED ? 0 : m->st.remaining_pages;
	/* during precopy also what was written since it was sent */
	return bitmap_count(s->todo, 0, m->n_pages) +
	       (s->holding ? 0 : bitmap_count(s->dirty, 0, m->n_pages));
}
