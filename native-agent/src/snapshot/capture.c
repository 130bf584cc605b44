/*
 * Live snapshots on the fault worker; see capture.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bitmap.h"
#include "capture.h"
#include "hist.h"
#include "mono.h"
#include "proto.h"
#include "region.h"
#include "snapimg.h"
#include "track.h"
#include "ufd.h"
#include "uffd_compat.h"

#define LOG_COMP "snapshot"
#include "log.h"

/* pages per PAGEMAP_SCAN of a save */
#define CAP_SCAN_PAGES 512u
/* bytes the background saves between two looks for a waiting write fault */
#define CAP_BG_CHUNK_BYTES (512u << 10)
/* bytes after a write fault's granule the background saves first */
#define CAP_AHEAD_BYTES (256u << 10)
#define CAP_AHEAD_SLOTS (sizeof(((struct capture *)0)->ahead) / sizeof(uint64_t))

/* ---- bookkeeping ---------------------------------------------------------- */

static void stall(struct capture *c, uint64_t ns)
{
	c->stall_hist[hist_bucket(ns)]++;
	c->res.stall_count++;
	if (ns > c->res.stall_max_ns)
		c->res.stall_max_ns = ns;
}

static void watch(struct ufd *u, struct capture *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &u->strat_tag };
	int fds[2] = { snapw_space_fd(c->w), snapw_done_fd(c->w) };

	for (int i = 0; i < 2; i++) {
		if (epoll_ctl(u->w->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fds[i], on ? &ev : NULL) && on)
			pr_pwarn(u->w->log, "cannot watch the snapshot writer");
	}
}

/* The capture is over: handed back to the loop thread. */
static void end(struct ufd *u, struct region *r, struct capture *c)
{
	struct fault_done d = { .kind = FAULT_CAPTURE_DONE, .r = r, .cap = c };

	watch(u, c, false);
	snapw_publish(c->w);
	if (c->hold_started)
		hold_end(&c->h);
	c->res.buffer_peak_bytes = snapw_peak_bytes(c->w);
	c->res.buffer_resident_bytes = snapw_resident_bytes(c->w);
	c->res.duration_ms = (mono_now_ns() - c->start_ns) / 1000000u;
	c->res.stall_p999_ns = c->res.stall_count ? hist_quantile(c->stall_hist, 0.999, c->res.stall_max_ns) : 0;
	c->res.rounds = c->h.round;
	c->res.round1_pages = c->h.round_pages[0];
	c->res.final_pages = c->h.round ? c->h.round_pages[c->h.round - 1] : 0;
	c->res.final_ns = c->h.final_ns;
	free(c->save);
	free(c->done);
	free(c->prev_dirty);
	free(c->hot);
	c->save = c->done = c->prev_dirty = c->hot = NULL;
	c->phase = CAP_OVER;
	r->w.strat = NULL;
	r->w.strat_ctx = NULL;
	fault_post(u->w->e, &d);
}

static void fail(struct ufd *u, struct region *r, struct capture *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Fails the capture.  After T the dirty set of the interval that started
 * at T is merged with the one before, so the next incremental capture is
 * still exact against the last capture that completed.
 */
static void fail(struct ufd *u, struct region *r, struct capture *c, int code, const char *fmt, ...)
{
	struct track *t = r->w.wp;
	va_list ap;

	c->res.code = code;
	va_start(ap, fmt);
	vsnprintf(c->res.error, sizeof(c->res.error), fmt, ap);
	va_end(ap);
	if (c->prev_dirty) {
		for (uint64_t i = 0; i < BITMAP_WORDS(t->n_pages); i++)
			t->dirty[i] |= c->prev_dirty[i];
	}
	pr_warn(u->w->log, "snapshot failed", LF_STR("region", r->id),
		LF_STR("snapshot", c->req.snapshot_id), LF_STR("reason", c->res.error));
	end(u, r, c);
}

static struct capture *cap_of(const struct region *r)
{
	return r->w.strat == &cap_strategy ? r->w.strat_ctx : NULL;
}

static void cap_abort(struct ufd *u, struct region *r, int code, const char *why)
{
	if (cap_of(r))
		fail(u, r, cap_of(r), code, "%s", why);
}

/* ---- start --------------------------------------------------------------- */

static void cap_start(struct ufd *u, struct region *r, void *ctx)
{
	struct capture *c = ctx;
	struct track *t = r->w.wp;
	uint64_t *first = NULL;

	c->start_ns = mono_now_ns();
	r->w.strat = &cap_strategy;
	r->w.strat_ctx = c;
	watch(u, c, true);
	if (!t) {
		fail(u, r, c, PROTO_E_CONFLICT, "region %s cannot be tracked (see the agent's log)", r->id);
		return;
	}
	if (r->w.failed) {
		fail(u, r, c, PROTO_E_CONFLICT, "region %s is not served any more (installs failed)", r->id);
		return;
	}
	if (c->req.incremental && (!t->continuous || strcmp(r->w.last_capture, c->req.parent_id))) {
		fail(u, r, c, PROTO_E_CONFLICT,
		     "no exact record of the writes to region %s since snapshot %s (%s); take a full"
		     " snapshot", r->id, c->req.parent_id,
		     !r->w.last_capture[0] ? "this agent has completed no snapshot of the region since"
					     " it was registered"
		     : strcmp(r->w.last_capture, c->req.parent_id) ? "the last completed snapshot of the"
								     " region is another one"
		     : "tracking was interrupted");
		return;
	}
	if (t->where != TRACK_ON_HOLD) {
		if (track_move(t, TRACK_ON_HOLD)) {
			fail(u, r, c, PROTO_E_INTERNAL, "moving region %s to its hold uffd: %s", r->id,
			     strerror(errno));
			return;
		}
		u->fd = track_fd(t);
		pr_info(u->w->log, "region moved to its hold uffd", LF_STR("region", r->id));
		if (ufd_after_move(u, r)) {
			fail(u, r, c, errno == ESRCH ? PROTO_E_CONFLICT : PROTO_E_INTERNAL,
			     "reading the page table of region %s after its move: %s", r->id,
			     strerror(errno));
			return;
		}
	}
	/* round 1: what is writable now (never protected, or lifted since the last T) */
	first = bitmap_new(t->n_pages);
	c->hot = bitmap_new(t->n_pages);
	if (!first || !c->hot) {
		free(first);
		fail(u, r, c, PROTO_E_INTERNAL, "out of memory");
		return;
	}
	memcpy(first, t->dirty, BITMAP_WORDS(t->n_pages) * sizeof(uint64_t));
	if (track_written(t, 0, t->n_pages, first, false)) {
		free(first);
		fail(u, r, c, errno == ESRCH ? PROTO_E_CONFLICT : PROTO_E_INTERNAL,
		     "reading the page table of region %s: %s", r->id, strerror(errno));
		return;
	}
	/* whatever is writable may have been written: it belongs to this capture */
	for (uint64_t i = 0; i < BITMAP_WORDS(t->n_pages); i++)
		t->dirty[i] |= first[i];
	/* faults before T lift a granule each: the final round is that much larger */
	c->req.hold.final_pages *= t->granule;
	if (hold_start(&c->h, t, &c->req.hold, first)) {
		free(first);
		fail(u, r, c, PROTO_E_INTERNAL, "out of memory");
		return;
	}
	free(first);
	c->hold_started = true;
	c->phase = CAP_ROUNDS;
	pr_info(u->w->log, "snapshot started", LF_STR("region", r->id),
		LF_STR("snapshot", c->req.snapshot_id),
		LF_STR("kind", c->req.incremental ? "incremental" : "full"),
		LF_UINT("round1_pages", bitmap_count(c->h.todo, 0, t->n_pages)));
}

/* ---- T ------------------------------------------------------------------- */

static void at_t(struct ufd *u, struct region *r, struct capture *c)
{
	struct track *t = r->w.wp;
	struct fault_done d = { .kind = FAULT_CAPTURE_AT_T, .r = r, .cap = c };
	uint64_t *fresh = bitmap_new(t->n_pages);

	c->save = bitmap_new(t->n_pages);
	c->done = bitmap_new(t->n_pages);
	if (!fresh || !c->save || !c->done) {
		free(fresh);
		fail(u, r, c, PROTO_E_INTERNAL, "out of memory at T");
		return;
	}
	c->res.t_ms = jx_now_ms();
	if (c->req.incremental)
		memcpy(c->save, t->dirty, BITMAP_WORDS(t->n_pages) * sizeof(uint64_t));
	else
		bitmap_set(c->save, 0, t->n_pages);
	/* the next interval starts now, exactly: every page is protected */
	c->prev_dirty = t->dirty;
	t->dirty = fresh;
	t->continuous = true;
	t->since_ns = c->h.t_ns;
	c->phase = CAP_SAVING;
	c->cursor = 0;
	pr_info(u->w->log, "snapshot at T", LF_STR("region", r->id),
		LF_STR("snapshot", c->req.snapshot_id), LF_UINT("rounds", c->h.round),
		LF_UINT("final_round_pages", c->h.round_pages[c->h.round - 1]),
		LF_UINT("final_round_us", c->h.final_ns / 1000),
		LF_UINT("to_save", bitmap_count(c->save, 0, t->n_pages)));
	fault_post(u->w->e, &d);
}

/* ---- copying pages -------------------------------------------------------- */

/* Pages populated with data: present, or swapped out (the shared zero page reads as zero). */
static int mark_present(void *arg, uint64_t first, uint64_t n, uint64_t cat)
{
	uint64_t **present = arg;

	if ((cat & PAGE_IS_PFNZERO) && !(cat & PAGE_IS_SWAPPED))
		return 0;
	bitmap_set(present[0], first - present[1][0], n);
	return 0;
}

/*
 * Which of pages [first, first + n) hold data; n <= 64 * words of present.
 * A uffd-wp marker (what a page removed while protected leaves) is reported
 * as swapped too: track_read() reads it as the zeros it stands for.
 */
static int populated(struct region *r, uint64_t first, uint64_t n, uint64_t *present)
{
	uint64_t base = first, *arg[2] = { present, &base };

	memset(present, 0, BITMAP_WORDS(n) * sizeof(uint64_t));
	return track_scan(r->w.wp, first, n, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0,
			  PAGE_IS_PFNZERO | PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, mark_present, arg);
}

enum save_res { SAVE_OK, SAVE_FULL, SAVE_FAILED };


/*
 * Saves the pages of [first, first + n) that are in the save set and not
 * saved yet.  keep: ring pages to leave free (the background leaves room
 * for write faults).  Pages are marked saved as they go, so a call that
 * stops for room continues where it stopped.  A write fault's copies wake
 * the image writer later (snapw_publish() once the writer is let go).
 */
static enum save_res save_range(struct ufd *u, struct region *r, struct capture *c, uint64_t first,
				uint64_t n, uint64_t keep, bool for_fault)
{
	uint64_t present[BITMAP_WORDS(CAP_SCAN_PAGES)];
	uint64_t p = first, absent;

	if (populated(r, first, n, present)) {
		fail(u, r, c, errno == ESRCH || errno == EAGAIN ? PROTO_E_CONFLICT : PROTO_E_INTERNAL,
		     "reading the page table of region %s: %s", r->id, strerror(errno));
		return SAVE_FAILED;
	}
	while (p < first + n) {
		bool data;
		uint64_t q;
		uint8_t *dst;

		if (!bitmap_test(c->save, p) || bitmap_test(c->done, p)) {
			p++;
			continue;
		}
		data = bitmap_test(present, p - first);
		q = p + 1;
		while (q < first + n && q - p < SNAPIMG_MAX_CHUNK_PAGES && bitmap_test(c->save, q) &&
		       !bitmap_test(c->done, q) && bitmap_test(present, q - first) == data)
			q++;
		if (!data) {
			if (snapw_zero(c->w, p, q - p))
				return SAVE_FULL;
			c->res.zero_unread += q - p;
		} else {
			uint64_t room = snapw_free_pages(c->w);

			room = room > keep ? room - keep : 0;
			if (!room)
				return SAVE_FULL;
			/* a run longer than the room left is saved in parts */
			if (q - p > room)
				q = p + room;
			dst = snapw_reserve(c->w, (uint32_t)(q - p));
			if (!dst)
				return SAVE_FULL;
			if (track_read(r->w.wp, p, q - p, dst, &absent)) {
				fail(u, r, c, errno == ESRCH ? PROTO_E_CONFLICT : PROTO_E_INTERNAL,
				     "reading pages %llu-%llu of region %s: %s", (unsigned long long)p,
				     (unsigned long long)q - 1, r->id, strerror(errno));
				return SAVE_FAILED;
			}
			if (for_fault)
				snapw_commit_later(c->w, p, (uint32_t)(q - p));
			else
				snapw_commit(c->w, p, (uint32_t)(q - p));
			c->res.zero_unread += absent;
		}
		bitmap_set(c->done, p, q - p);
		c->n_saved += q - p;
		p = q;
	}
	return SAVE_OK;
}

/*
 * A write fault.  Before T: the writer goes on at once, the page is
 * protected again in the next round.  After T: the page's granule is saved
 * first where it still has to be, then lifted (and marked written for the
 * next capture).  No room in the ring: the fault waits for the writer.
 */
static enum install_res fault_save(struct ufd *u, struct region *r, struct capture *c,
				   uint64_t page, uint64_t read_ns)
{
	struct track *t = r->w.wp;
	uint64_t first, n, before = c->res.zero_unread, pending = 0;

	if (c->phase == CAP_ROUNDS) {
		/* the granule, as after T: one fault per granule a writer touches, not per page */
		track_lift_range(t, page, &first, &n);
		bitmap_set(t->dirty, first, n);
		bitmap_set(c->hot, first, n);
		c->res.faults_before_t++;
		if (hold_lift_early_range(&c->h, first, n)) {
			if (errno == ESRCH)
				return INSTALL_GONE;
			if (errno == EAGAIN)
				return INSTALL_MM_CHANGING; /* retried after the events are read */
			fail(u, r, c, PROTO_E_INTERNAL, "lifting the protection of a page: %s",
			     strerror(errno));
			return INSTALL_OK;
		}
		stall(c, mono_now_ns() - read_ns);
		return INSTALL_OK;
	}
	track_lift_range(t, page, &first, &n);
	for (uint64_t p = first; c->phase == CAP_SAVING && p < first + n; p++)
		pending += bitmap_test(c->save, p) && !bitmap_test(c->done, p);
	if (pending) {
		switch (save_range(u, r, c, first, n, 0, true)) {
		case SAVE_FULL:
			/* the writer outpaces the disk: the background gives faults more room */
			if (c->req.reserve_pages < snapw_ring_pages(c->w) - snapw_ring_pages(c->w) / 8)
				c->req.reserve_pages = snapw_ring_pages(c->w) - snapw_ring_pages(c->w) / 8;
			return INSTALL_WAIT;
		case SAVE_FAILED:
			return INSTALL_OK; /* the capture ended; the lift below still lets the writer go */
		case SAVE_OK:
			c->res.copied_on_fault += pending - (c->res.zero_unread - before);
			break;
		}
		if (!cap_of(r))
			return INSTALL_OK;
	}
	if (track_lift(t, page, &first, &n)) {
		if (errno == ESRCH)
			return INSTALL_GONE;
		if (errno == EAGAIN)
			return INSTALL_MM_CHANGING; /* retried after the events are read */
		fail(u, r, c, PROTO_E_INTERNAL, "lifting the protection of a page: %s", strerror(errno));
		return INSTALL_OK;
	}
	c->res.faults_after_t++;
	stall(c, mono_now_ns() - read_ns);
	/* the background saves what follows next: a writer moving on finds it saved */
	if (c->phase == CAP_SAVING && first + n < t->n_pages &&
	    (!c->n_ahead || c->ahead[c->n_ahead - 1] != first + n)) {
		if (c->n_ahead == CAP_AHEAD_SLOTS) {
			memmove(c->ahead, c->ahead + 1, (CAP_AHEAD_SLOTS - 1) * sizeof(uint64_t));
			c->n_ahead--;
		}
		c->ahead[c->n_ahead++] = first + n;
	}
	return INSTALL_OK;
}

static enum install_res cap_fault(struct ufd *u, struct region *r, uint64_t page,
				  uint64_t read_ns)
{
	struct capture *c = cap_of(r);
	enum install_res res = fault_save(u, r, c, page, read_ns);

	/* the writer is on its way (or waits for room): now the image writer may be woken */
	if (cap_of(r) == c)
		snapw_publish(c->w);
	return res;
}

/* ---- background ------------------------------------------------------------ */

static bool cap_runnable(const struct region *r)
{
	const struct capture *c = cap_of(r);

	if (!c)
		return false;
	switch (c->phase) {
	case CAP_ROUNDS:
	case CAP_FINISHING:
		return true;
	case CAP_SAVING:
		/* room beyond what write faults keep for themselves */
		return snapw_free_pages(c->w) > c->req.reserve_pages;
	case CAP_WRITING:
	case CAP_OVER:
		break;
	}
	return false;
}

static void finished(struct ufd *u, struct region *r, struct capture *c)
{
	char why[512];
	int err = snapw_err(c->w);

	if (snapw_result(c->w, &c->res.img, why, sizeof(why))) {
		fail(u, r, c, err == ENOSPC ? PROTO_E_NO_SPACE : PROTO_E_INTERNAL, "%s", why);
		return;
	}
	snprintf(r->w.last_capture, sizeof(r->w.last_capture), "%s", c->req.snapshot_id);
	pr_info(u->w->log, "snapshot complete", LF_STR("region", r->id),
		LF_STR("snapshot", c->req.snapshot_id), LF_UINT("bytes", c->res.img.size_bytes),
		LF_UINT("present", c->res.img.pages_present), LF_UINT("zero", c->res.img.pages_zero),
		LF_UINT("absent", c->res.img.pages_absent),
		LF_UINT("stall_max_us", c->res.stall_max_ns / 1000),
		LF_UINT("copied_on_fault", c->res.copied_on_fault));
	end(u, r, c);
}

/* The first page from `from` still to be saved (and in `only`, if given), or n_pages. */
static uint64_t next_todo(const struct capture *c, const uint64_t *only, uint64_t from,
			  uint64_t n_pages)
{
	for (uint64_t wi = from / 64; wi < BITMAP_WORDS(n_pages); wi++) {
		uint64_t m = c->save[wi] & ~c->done[wi] & (only ? only[wi] : ~UINT64_C(0));

		if (wi == from / 64)
			m &= ~UINT64_C(0) << (from % 64);
		if (m) {
			uint64_t p = wi * 64 + (uint64_t)__builtin_ctzll(m);

			return p < n_pages ? p : n_pages;
		}
	}
	return n_pages;
}

/* Whether a write fault is waiting to be read: the background then stops for it. */
static bool fault_waiting(const struct ufd *u)
{
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static void cap_step(struct ufd *u, struct region *r)
{
	struct capture *c = cap_of(r);
	uint64_t n_pages = r->n_pages, budget;

	switch (c->phase) {
	case CAP_ROUNDS:
		switch (hold_step(&c->h)) {
		case HOLD_MORE:
			break;
		case HOLD_REACHED_T:
			at_t(u, r, c);
			break;
		case HOLD_FAILED:
			/* EAGAIN: a change of the workload's mappings is pending (a fork, a
			 * removal): the snapshot gives way, as it does to the change itself */
			fail(u, r, c, errno == ESRCH || errno == EAGAIN ? PROTO_E_CONFLICT : PROTO_E_INTERNAL,
			     "write-protecting region %s: %s", r->id,
			     errno == EAGAIN ? "the workload changed its mappings" : strerror(errno));
			break;
		}
		return;
	case CAP_SAVING:
		snapw_grow(c->w);
		for (budget = c->req.step_pages; budget && c->cursor < n_pages;) {
			uint64_t *at, p, n, before = c->n_saved;
			bool ahead = c->n_ahead > 0;

			/* ahead of the writer first, then what it wrote before T, then in order */
			if (ahead) {
				p = c->ahead[--c->n_ahead];
				at = NULL;
			} else if (c->hot_cursor < n_pages) {
				p = next_todo(c, c->hot, c->hot_cursor, n_pages);
				at = &c->hot_cursor;
			} else {
				p = next_todo(c, NULL, c->cursor, n_pages);
				at = &c->cursor;
			}
			if (p >= n_pages) {
				if (at)
					*at = n_pages;
				continue;
			}
			/* in bytes: a 2 MiB page region looks for faults after every page */
			n = (ahead ? CAP_AHEAD_BYTES : CAP_BG_CHUNK_BYTES) / r->page_size;
			n = n ? n : 1;
			n = n_pages - p < n ? n_pages - p : n;
			switch (save_range(u, r, c, p, n, c->req.reserve_pages, false)) {
			case SAVE_FULL:
				if (at)
					*at = p;
				else
					c->ahead[c->n_ahead++] = p; /* where it stopped: first next time */
				return;
			case SAVE_FAILED:
				return;
			case SAVE_OK:
				break;
			}
			if (at)
				*at = p + n;
			if (at != &c->cursor)
				c->res.saved_ahead += c->n_saved - before;
			budget = budget > n ? budget - n : 0;
			/* a write fault waits: it goes first */
			if (fault_waiting(u))
				return;
		}
		if (c->cursor >= n_pages)
			c->phase = CAP_FINISHING;
		return;
	case CAP_FINISHING:
		if (!snapw_finish(c->w, c->req.quiesced, c->res.t_ms))
			c->phase = CAP_WRITING;
		return;
	case CAP_WRITING:
	case CAP_OVER:
		return;
	}
}

/* The writer freed ring space or finished. */
static void cap_wake(struct ufd *u, struct region *r)
{
	struct capture *c = cap_of(r);
	uint64_t v;

	if (!c)
		return;
	while (read(snapw_space_fd(c->w), &v, sizeof(v)) > 0)
		;
	while (read(snapw_done_fd(c->w), &v, sizeof(v)) > 0)
		;
	if (snapw_done(c->w)) {
		if (c->phase == CAP_WRITING)
			finished(u, r, c);
		else
			fail(u, r, c, snapw_err(c->w) == ENOSPC ? PROTO_E_NO_SPACE : PROTO_E_INTERNAL,
			     "the image writer stopped: %s",
			     snapw_result(c->w, &c->res.img, c->res.error, sizeof(c->res.error)) ? c->res.error
												 : "?");
	}
}

/* Handed back unstarted: the region is not served, or something else drives it. */
static void cap_refuse(struct fault_engine *e, struct region *r, void *ctx, int code,
		       const char *why)
{
	struct capture *c = ctx;
	struct fault_done d = { .kind = FAULT_CAPTURE_DONE, .r = r, .cap = c };

	c->res.code = code;
	if (code == PROTO_E_CONFLICT)
		snprintf(c->res.error, sizeof(c->res.error), "the region is busy with a %s", why);
	else
		snprintf(c->res.error, sizeof(c->res.error), "%s", why);
	fault_post(e, &d);
}

/* During the rounds every page installed is protected: it may have been passed already. */
static bool cap_protects_all(const struct region *r)
{
	return cap_of(r)->phase == CAP_ROUNDS;
}

const struct region_strategy cap_strategy = {
	.name = "snapshot",
	.start = cap_start,
	.refuse = cap_refuse,
	.runnable = cap_runnable,
	.step = cap_step,
	.write_fault = cap_fault,
	.wake = cap_wake,
	.abort = cap_abort,
	.protects_all = cap_protects_all,
};
