/*
 * The source side of a migration (PROTOCOL.md §3): precopy rounds with an
 * exact dirty set, switchover, then demand and background pages until the
 * destination holds every page.
 *
 * Why the region sits on the hold uffd for the whole job, not on the track
 * uffd (WP_ASYNC + PAGEMAP_SCAN): moving a range between the two uffds
 * clears every uffd-wp bit (UFFDIO_UNREGISTER, measured in track.h), so
 * a switchover that scans the track uffd and then moves the range to the
 * hold uffd cannot see the writes made between the scan and the new
 * protection - a few milliseconds in which pages change unseen, and the
 * destination would run with them stale.  The range therefore moves to
 * the hold uffd once, before round 1 (which sends every page anyway), and
 * stays there: a first write per `granule` pages after each protection
 * costs one fault, which the fault thread resolves by lifting the granule
 * and marking it dirty.  At switchover the fault thread simply stops
 * lifting: from that instant every writer waits, and the dirty set is
 * exact by construction (tests/test_mig.c compares every byte).
 *
 * Threads: the job's main thread (rounds, switchover, background push,
 * reconnects), the fault thread (lifts, or holds, write faults), and per
 * connection a reader of the main channel (acks, done) and a server of
 * the preempt channel (demand requests, answered at once from the held
 * memory; those two and the sending of pages are in mig_src_conn.c).
 * Bitmaps are shared under m->mu; sent_seq and the main socket belong to
 * the main thread.
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

/* ---- the fault thread -------------------------------------------------- */

static void on_fault(struct mig_src *s, const struct uffd_msg *msg)
{
	struct mig *m = s->m;
	uint64_t addr = msg->arg.pagefault.address, p, first, n;

	if (addr < s->start || addr - s->start >= m->length)
		return;
	p = (addr - s->start) / m->page_size;
	pthread_mutex_lock(&m->mu);
	if (s->holding) {
		/* left unanswered: the writer waits, for good on this host */
		pthread_mutex_unlock(&m->mu);
		return;
	}
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
		if (track_lift(&s->t, p, &first, &n) && errno != ENOENT)
			pr_pwarn(&m->ag->log, "cannot lift a write protection", LF_STR("migration", m->id),
				 LF_UINT("page", p));
	} else {
		struct uffdio_zeropage zp = {
			.range = { .start = s->start + p * m->page_size, .len = m->page_size },
		};

		/* first touch of a missing page: it reads zero, and it is dirty */
		if (ioctl(s->hold_fd, UFFDIO_ZEROPAGE, &zp) && errno != EEXIST) {
			struct uffdio_range r = zp.range;

			ioctl(s->hold_fd, UFFDIO_WAKE, &r);
		}
		bitmap_set(s->t.dirty, p, 1);
	}
	pthread_mutex_unlock(&m->mu);
}

static void on_event(struct mig_src *s, const struct uffd_msg *msg)
{
	struct mig *m = s->m;
	uint64_t lo, hi;

	switch (msg->event) {
	case UFFD_EVENT_REMOVE:
		lo = msg->arg.remove.start > s->start ? msg->arg.remove.start : s->start;
		hi = msg->arg.remove.end < s->start + m->length ? msg->arg.remove.end
								 : s->start + m->length;
		if (lo >= hi)
			return;
		pthread_mutex_lock(&m->mu);
		bitmap_set(s->t.dirty, (lo - s->start) / m->page_size,
			   (hi - lo + m->page_size - 1) / m->page_size);
		pthread_mutex_unlock(&m->mu);
		return;
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMAP:
		mig_fail(m, "the workload %s the region during the migration",
			 msg->event == UFFD_EVENT_UNMAP ? "unmapped" : "moved");
		return;
	case UFFD_EVENT_FORK:
		close((int)msg->arg.fork.ufd);
		return;
	}
}

static void *fault_main(void *arg)
{
	struct mig_src *s = arg;
	struct uffd_msg msgs[64];

	for (;;) {
		struct pollfd p[2] = { { .fd = s->hold_fd, .events = POLLIN },
				       { .fd = s->stop_fd, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(s->hold_fd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				on_fault(s, &msgs[i]);
			else
				on_event(s, &msgs[i]);
		}
	}
	return NULL;
}

/* ---- the main thread --------------------------------------------------- */

/*
 * Takes the fault thread's dirty set into todo.  hold: the fault thread
 * lifts nothing from now on, so every writer that faults waits: the
 * source holds.
 */
static void take_dirty(struct mig_src *s, bool hold)
{
	struct mig *m = s->m;
	uint64_t words = BITMAP_WORDS(m->n_pages);

	pthread_mutex_lock(&m->mu);
	if (hold) {
		s->holding = true;
		m->st.switchover_at_ms = jx_now_ms();
	}
	for (uint64_t i = 0; i < words; i++) {
		s->todo[i] |= s->t.dirty[i];
		s->t.dirty[i] = 0;
	}
	pthread_mutex_unlock(&m->mu);
}

/* Next run of todo from *cursor (at most SRC_WINDOW pages), taken out of todo. */
static bool next_todo(struct mig_src *s, uint64_t *cursor, uint64_t *first, uint64_t *n)
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
	while (q < m->n_pages && q - p < SRC_WINDOW && bitmap_test(s->todo, q))
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

/* 1: stop, 2: switch over, 3: connection broken, 0: go on */
static int interrupted(struct mig_src *s, uint64_t deadline_ns)
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

/*
 * The hold: the fault thread stops lifting, the final dirty set joins
 * todo, and the destination is told at once which of its pages are stale
 * (it runs from then on).  Pages that are not protected (lifted before
 * the hold, or not reached by the last pass) are protected after the
 * switchover frame is out (settle()): until then a demand request
 * protects its own pages before reading them, so every page the
 * destination gets is final, and the walk is not part of the downtime.
 */
static int switchover(struct mig_src *s)
{
	struct mig *m = s->m;

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
	take_dirty(s, true);
	pthread_mutex_lock(&m->mu);
	m->st.remaining_pages = bitmap_count(s->todo, 0, m->n_pages);
	mig_set_phase(m, MIG_SWITCHOVER);
	pthread_mutex_unlock(&m->mu);
	pr_info(&m->ag->log, "migration switchover: the source holds its writers",
		LF_STR("migration", m->id), LF_UINT("stale_pages", m->st.remaining_pages));
	return mig_src_send_switch(s, s->main_c) ? 3 : 0;
}

/* After the switchover frame: every page protected, so no writer runs here any more. */
static int settle(struct mig_src *s)
{
	struct mig *m = s->m;

	/* pages lifted before the hold and pages the last pass had not reached: all of them */
	if (track_protect(&s->t, 0, m->n_pages)) {
		mig_fail(m, "cannot write-protect the region: %s", strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&m->mu);
	s->settled = true;
	mig_set_phase(m, MIG_POSTCOPY);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/*
 * Protection just in time: the pages of a window are protected right
 * before they are read, so a write before that is in what is read and a
 * write after it faults and marks the page for the next round.  Pages not
 * reached yet take writes without a fault (most of round 1 does), and a
 * page lifted before its window came is read now instead of again in the
 * next round.
 */
static int protect_window(struct mig_src *s, uint64_t first, uint64_t n)
{
	pthread_mutex_lock(&s->m->mu);
	bitmap_clear(s->t.dirty, first, n);
	pthread_mutex_unlock(&s->m->mu);
	return track_protect(&s->t, first, n) ? -2 : 0;
}

/* One pass over todo; returns as interrupted() does, or -1 on a failure. */
static int pass(struct mig_src *s, enum stream st, uint64_t deadline_ns, struct runs *runs)
{
	uint64_t cursor = 0, first, n, hint;

	while (next_todo(s, &cursor, &first, &n)) {
		int r = interrupted(s, deadline_ns);

		if (st == ST_POSTCOPY && (hint = atomic_exchange(&s->hint, 0)) &&
		    hint - 1 < s->m->n_pages && (hint - 1 > first + n || hint - 1 < first)) {
			/* a demand request elsewhere: carry on from there, this run later */
			give_back(s, first, n);
			cursor = hint - 1;
			continue;
		}

		if (!r && st == ST_PRECOPY)
			r = protect_window(s, first, n);
		if (!r)
			r = mig_src_send_range(s, s->main_c, first, n, st, s->buf, runs);
		if (r == -2) {
			mig_fail(s->m, "cannot read the region's pages: %s", strerror(errno));
			return -1;
		}
		if (r) {
			give_back(s, first, n);
			return r == -1 ? 3 : r;
		}
	}
	return 0;
}

static int precopy(struct mig_src *s, struct runs *runs)
{
	struct mig *m = s->m;
	uint64_t deadline = m->postcopy_auto && m->postcopy_after_ms >= 0
				    ? mono_now_ns() + (uint64_t)m->postcopy_after_ms * 1000000u
				    : 0;

	for (;;) {
		uint64_t t0 = mono_now_ns(), dirty, el;
		int r;

		s->round_bytes = 0;
		take_dirty(s, false); /* protected window by window as the pass reads them */
		r = pass(s, ST_PRECOPY, deadline, runs);
		if (r)
			return r;
		el = mono_now_ns() - t0;
		pthread_mutex_lock(&m->mu);
		dirty = bitmap_count(s->t.dirty, 0, m->n_pages) * m->page_size;
		m->st.rounds++;
		m->st.dirty_rate = el ? (uint64_t)((double)dirty * 1e9 / (double)el) : 0;
		m->st.remaining_pages = dirty / m->page_size;
		if (m->postcopy_auto && s->round_bytes &&
		    ((double)dirty * (double)el / (double)s->round_bytes / 1e6 <=
			     (double)m->max_downtime_ms ||
		     m->st.rounds >= m->max_rounds))
			m->want_switchover = true;
		if (!s->round_bytes && !m->want_switchover && !m->stop)
			mig_wait_ms(m, SRC_IDLE_WAIT_MS); /* nothing written: do not spin */
		pthread_mutex_unlock(&m->mu);
		r = interrupted(s, deadline);
		if (r)
			return r;
	}
}

static int postcopy(struct mig_src *s, struct runs *runs)
{
	struct mig *m = s->m;

	for (;;) {
		int r = pass(s, ST_POSTCOPY, 0, runs);
		struct pchan_hdr h = { .type = PCHAN_T_COMPLETE };

		if (r)
			return r;
		pthread_mutex_lock(&m->mu);
		while (!m->stop && !m->want_pause && !s->broken && !s->done_seen &&
		       bitmap_next_set(s->todo, 0, m->n_pages) == m->n_pages)
			pthread_cond_wait(&m->cond, &m->mu);
		if (!s->done_seen || m->stop || m->want_pause || s->broken) {
			pthread_mutex_unlock(&m->mu);
			r = interrupted(s, 0);
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
		return 1;
	}
}

static void *main_thread(void *arg)
{
	struct mig_src *s = arg;
	struct mig *m = s->m;
	struct runs *runs = malloc(sizeof(*runs));
	uint64_t backoff = SRC_BACKOFF_MIN_MS;
	char why[256];

	while (runs) {
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
			mig_set_phase(m, !s->holding ? MIG_PRECOPY : s->settled ? MIG_POSTCOPY
										  : MIG_SWITCHOVER);
			pthread_mutex_unlock(&m->mu);
			pr_info(&m->ag->log, "page channel connected", LF_STR("migration", m->id),
				LF_UINT("acked_seq", s->acked));
		}
		if (!s->holding) {
			r = precopy(s, runs);
			if (r == 2)
				r = switchover(s);
		} else if (!s->switch_seq) {
			r = mig_src_send_switch(s, s->main_c) ? 3 : 0; /* a cut came before it was out */
		} else {
			r = 0;
		}
		/* protecting needs no connection: a cut must not leave writers running */
		if (s->holding && !s->settled && r >= 0) {
			int r2 = settle(s);

			r = r2 ? r2 : r;
		}
		if (!r && s->switch_seq)
			r = postcopy(s, runs);
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
	free(runs);
	mig_src_disconnect(s);
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

int mig_src_start(struct mig *m, pid_t pid, uint64_t start, int track_fd, int hold_fd,
		  unsigned modes, char *why, size_t why_len)
{
	struct mig_src *s = calloc(1, sizeof(*s));
	uint64_t reg = UFFDIO_REGISTER_MODE_WP;

	if (!s)
		return snprintf(why, why_len, "out of memory"), -1;
	m->src = s;
	s->m = m;
	s->pid = pid;
	s->start = start;
	s->track_fd = dup(track_fd);
	s->hold_fd = dup(hold_fd);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->todo = bitmap_new(m->n_pages);
	s->sent_seq = calloc(m->n_pages, sizeof(uint64_t));
	s->buf = malloc(SRC_FRAME_PAGES * (size_t)m->page_size);
	s->pre_buf = malloc(SRC_FRAME_PAGES * (size_t)m->page_size);
	s->tok_ns = mono_now_ns();
	if (modes & REGION_MODE_MISSING)
		reg |= UFFDIO_REGISTER_MODE_MISSING;
	if (s->track_fd < 0 || s->hold_fd < 0 || s->stop_fd < 0 || !s->todo ||
	    !s->sent_seq || !s->buf || !s->pre_buf) {
		snprintf(why, why_len, "out of resources: %s", strerror(errno));
		goto fail;
	}
	if (track_init(&s->t, pid, s->track_fd, s->hold_fd, start, m->n_pages, m->page_size, reg,
		       m->granule)) {
		snprintf(why, why_len, "cannot open the workload's pagemap: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&s->fault_th, NULL, fault_main, s)) {
		snprintf(why, why_len, "cannot start the fault thread");
		goto fail;
	}
	s->fault_started = true;
	/* on the hold uffd for good: from each page's protection on, its writes are seen */
	if (track_move(&s->t, TRACK_ON_HOLD)) {
		snprintf(why, why_len, "cannot move the region to its hold uffd: %s", strerror(errno));
		goto fail;
	}
	s->moved = true;
	/* nothing protected yet: round 1 protects each window just before reading it */
	bitmap_set(s->todo, 0, m->n_pages);
	m->st.remaining_pages = m->n_pages;
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
 * Ends the job's threads.  cancel (or a job that never switched over):
 * the region goes back to its track uffd with no protection left and
 * every waiting writer woken, as if the migration had never started.
 * After a switchover the writers stay held: the destination runs.
 */
void mig_src_stop(struct mig *m, bool cancel)
{
	struct mig_src *s = m->src;
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	if (s->main_c)
		ptls_shutdown(s->main_c);
	if (s->pre_c)
		ptls_shutdown(s->pre_c);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	if (s->main_started)
		pthread_join(s->main_th, NULL);
	mig_src_disconnect(s);
	if (s->moved && (cancel || !s->switch_seq)) {
		pthread_mutex_lock(&m->mu);
		s->holding = true; /* the fault thread lifts nothing more */
		pthread_mutex_unlock(&m->mu);
		mig_unmark_held(m);
		if (track_move(&s->t, TRACK_ON_TRACK))
			pr_perror(&m->ag->log, "cannot give the region back to its track uffd",
				  LF_STR("migration", m->id));
		else if (track_unprotect(&s->t, 0, m->n_pages))
			pr_pwarn(&m->ag->log, "cannot lift the write protection", LF_STR("migration", m->id));
		s->moved = false;
	}
	if (s->fault_started) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			pr_pwarn(&m->ag->log, "cannot stop the fault thread");
		pthread_join(s->fault_th, NULL);
	}
	track_fini(&s->t);
	if (s->track_fd >= 0)
		close(s->track_fd);
	if (s->hold_fd >= 0)
		close(s->hold_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->todo);
	free(s->sent_seq);
	free(s->buf);
	free(s->pre_buf);
	free(s);
	m->src = NULL;
}

void mig_src_kick(struct mig *m)
{
	struct mig_src *s = m->src;

	if (s && s->main_c && m->want_pause) {
		ptls_shutdown(s->main_c);
		if (s->pre_c)
			ptls_shutdown(s->pre_c);
	}
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
	       (s->holding ? 0 : bitmap_count(s->t.dirty, 0, m->n_pages));
}
