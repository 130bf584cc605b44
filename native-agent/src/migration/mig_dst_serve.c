/*
 * Serving a migration destination's region on the fault engine
 * (PROTOCOL.md §3, strategy.h): the region is of kind REGION_STAGED, its
 * bytes come from the staging, and this strategy says which pages are
 * current.  Every hook runs on the region's fault worker, which alone reads
 * the uffd and installs pages; the page-state map of the region (present,
 * removed, gone) is the engine's, and stays the truth for REMOVE, UNMAP,
 * REMAP and FORK events as for any region.
 *
 *   - A missing fault on a staged, current page is installed by the engine
 *     at once; one on a page that is not here yet is asked for on the
 *     preempt channel (with the missing pages after it) and parked; before
 *     the switchover every fault is parked (the source still runs).
 *   - The connection threads stage pages and post them on `arrived`, then
 *     write ev_fd ("pages ready"); the worker installs them into every
 *     region of the workload that shows them, and the engine resolves the
 *     parked faults again.
 *   - After the switchover the pages staged before it that nobody touched
 *     are installed in the background (the strategy's step).
 *   - Regions born in the worker (a part moved by mremap, a forked child's
 *     copy) follow: they show a window of the same staging, from the page
 *     their REGION_STAGED bytes start at.
 *   - When the job ends (mig_dst_stop) the worker lets go: with every page
 *     here the regions are populated and unregistered (the workload owns
 *     plain memory); otherwise they stop being served and their faults stay
 *     blocked rather than read zeros.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent.h"
#include "bitmap.h"
#include "install.h"
#include "mig.h"
#include "mono.h"
#include "proto.h"
#include "ptls.h"
#include "region.h"
#include "strategy.h"
#include "ufd.h"
#include "worker.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_dst.h"
#include "mig_journal.h"

static struct mig_dst *dst_of(const struct region *r)
{
	return r->w.strat_ctx;
}

/* The staging page of r's page 0 (r is the attached region or born from it). */
static uint64_t base_of(const struct mig_dst *d, const struct region *r)
{
	return (uint64_t)(r->w.staged - d->staging) / r->page_size;
}

static struct dst_reg *reg_of(struct mig_dst *d, const struct region *r)
{
	for (size_t i = 0; i < d->n_regs; i++) {
		if (d->regs[i].r == r)
			return &d->regs[i];
	}
	return NULL;
}

/* The uffd serving r, learnt from the hooks that are given it. */
static void learn(struct mig_dst *d, struct ufd *u, struct region *r)
{
	struct dst_reg *e = reg_of(d, r);

	if (e)
		e->u = u;
}

static void watch(struct ufd *u, struct mig_dst *d, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &u->strat_tag };

	if (d->watching == on)
		return;
	if (epoll_ctl(u->w->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, d->ev_fd, on ? &ev : NULL) && on) {
		pr_pwarn(u->w->log, "cannot watch the page channels", LF_STR("migration", d->m->id));
		return;
	}
	d->watching = on;
	d->watch_u = on ? u : NULL;
}

/*
 * r leaves the strategy (dropped, failed, or the worker stops).  The last
 * region to go tells mig_dst_stop, after which d may be gone: callers do
 * not touch d after the last leave().
 */
static void leave(struct ufd *u, struct region *r, struct mig_dst *d)
{
	struct dst_reg *e = reg_of(d, r);

	r->w.strat = NULL;
	r->w.strat_ctx = NULL;
	r->w.staged = NULL; /* the staging goes with the job: nothing is installed from it now */
	if (!e)
		return;
	*e = d->regs[--d->n_regs];
	/* the watch goes with the uffd it was made on; another region makes it again */
	if (d->watching && (d->watch_u == u || !d->n_regs))
		watch(d->watch_u, d, false);
	if (d->n_regs)
		return;
	pthread_mutex_lock(&d->q_mu);
	d->on_worker = false;
	pthread_cond_broadcast(&d->q_cond);
	pthread_mutex_unlock(&d->q_mu);
}

/* ---- latency --------------------------------------------------------------- */

/* Staging page sp was installed now: a thread that waited for it is served. */
static void served(struct mig_dst *d, uint64_t sp, uint64_t now)
{
	struct mig *m = d->m;
	uint64_t t = d->fault_ns[sp];

	if (!t)
		return;
	d->fault_ns[sp] = 0;
	pthread_mutex_lock(&m->mu);
	/* a workload that attached early waited for the switchover, not for a page */
	if (t < d->switch_ns)
		t = d->switch_ns;
	if (!m->st.first_fault_ms)
		m->st.first_fault_ms = jx_now_ms();
	mig_latency(m, now > t ? now - t : 0);
	pthread_mutex_unlock(&m->mu);
}

/* ---- installing ------------------------------------------------------------ */

/* Whether local page p of r can be installed now: current in the staging, or removed (zero). */
static bool installable(const struct mig_dst *d, const struct region *r, uint64_t base, uint64_t p)
{
	return bitmap_test(r->w.removed_map, p) || abit_test(d->ready, base + p);
}

/*
 * Installs the installable pages of r in [first, first + n) (local pages)
 * that are missing.  Returns the result of the last install.
 */
static enum install_res install_run(struct ufd *u, struct region *r, uint64_t first, uint64_t n,
				    enum region_path path)
{
	struct mig_dst *d = dst_of(r);
	uint64_t base = base_of(d, r), p = first, end = first + n;
	enum install_res res = INSTALL_OK;

	while (p < end) {
		struct install_out out;
		uint64_t q, now;

		p = bitmap_next_clear2(r->w.present_map, r->w.gone_map, p, end);
		if (p >= end)
			break;
		if (!installable(d, r, base, p)) {
			p++;
			continue;
		}
		q = p + 1;
		while (q < end && installable(d, r, base, q))
			q++;
		res = install_range(u, r, p, q - p, path, INSTALL_NO_DEMAND, INSTALL_WAKE, &out);
		now = mono_now_ns();
		for (uint64_t k = p; k < q; k++) {
			if (bitmap_test(r->w.present_map, k))
				served(d, base + k, now);
		}
		if (res == INSTALL_NOENT)
			res = INSTALL_OK; /* an unmap not read yet: its event fixes the map */
		if (res != INSTALL_OK)
			break;
		p = q;
	}
	if (res == INSTALL_FAILED)
		install_fail(u, r, EIO, "installing migrated pages");
	install_check_complete(u, r);
	return res;
}

/*
 * Once every page is here and every page of every region of the workload
 * is installed (or removed by it, or unmapped), the journal says so and
 * `done` may go: only then may the source let go of its copy, because
 * staged pages die with this agent and installed ones do not.
 */
static void check_installed(struct mig_dst *d)
{
	struct mig *m = d->m;
	bool switched;

	if (atomic_load(&d->all_installed) || !d->n_regs)
		return;
	pthread_mutex_lock(&m->mu);
	switched = d->switched;
	pthread_mutex_unlock(&m->mu);
	/* installed after the switchover only, so from current pages (or zero when removed);
	 * after an agent restart also pages the source sent on demand before it, which it
	 * does not send again: what the workload holds is what counts */
	if (!switched)
		return;
	for (size_t i = 0; i < d->n_regs; i++) {
		struct region *r = d->regs[i].r;

		if (r->w.failed)
			return;
		for (uint64_t p = 0; p < r->n_pages; p++) {
			if (!bitmap_test(r->w.present_map, p) && !bitmap_test(r->w.gone_map, p) &&
			    !bitmap_test(r->w.removed_map, p)) {
				/* an install that met a change of the mappings: the background goes
				 * over it again; a page not here yet comes with its arrival */
				if (installable(d, r, base_of(d, r), p) && r->w.bg_cursor > p)
					r->w.bg_cursor = p;
				return;
			}
		}
	}
	atomic_store(&d->all_installed, true);
	if (mig_journal_write(m)) {
		/* not recorded: a restart would ask the source again, so it must not let go yet */
		atomic_store(&d->all_installed, false);
		return;
	}
	pthread_mutex_lock(&m->mu);
	m->st.remaining_pages = 0;
	pthread_cond_broadcast(&m->cond); /* frames waiting for their turn need not (mig_dst_conn.c) */
	pthread_mutex_unlock(&m->mu);
	mig_dst_send_done(d);
}

/* One staged run into every region that shows it. */
static void install_one(struct mig_dst *d, const struct dst_run *run)
{
	for (size_t i = 0; i < d->n_regs; i++) {
		struct region *r = d->regs[i].r;
		uint64_t base = base_of(d, r), lo, hi;

		if (!d->regs[i].u || r->w.failed)
			continue; /* served from its next hook on */
		lo = run->first > base ? run->first : base;
		hi = run->first + run->n < base + r->n_pages ? run->first + run->n : base + r->n_pages;
		if (lo < hi)
			install_run(d->regs[i].u, r, lo - base, hi - lo,
				    run->demand ? RP_PREFETCH : RP_BACKGROUND);
	}
}

/*
 * Pages staged since the last look.  Demand runs first: a batch may hold
 * many background runs that arrived before a demanded page (the main
 * channel's push), and the faulting thread must not wait for them.
 */
static void install_arrived(struct mig_dst *d, const struct dst_run *runs, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (runs[k].demand)
			install_one(d, &runs[k]);
	}
	for (size_t k = 0; k < n; k++) {
		if (!runs[k].demand)
			install_one(d, &runs[k]);
	}
}

/* ---- demand requests ------------------------------------------------------- */

/*
 * Asks for staging page sp and the missing pages right after it that r
 * shows and has no use for zero (one round trip instead of sixteen).
 */
static void request(struct mig_dst *d, const struct region *r, uint64_t sp)
{
	struct mig *m = d->m;
	struct pchan_hdr h = { .type = PCHAN_T_REQUEST, .page = sp, .count = 1 };
	uint64_t base = base_of(d, r);

	if (abit_set(d->want, sp))
		return; /* asked already; a new channel resends every pending request */
	while (h.count < DST_REQ_AHEAD && sp + h.count < m->n_pages &&
	       sp + h.count - base < r->n_pages && !abit_test(d->ready, sp + h.count) &&
	       !bitmap_test(r->w.removed_map, sp + h.count - base) &&
	       !bitmap_test(r->w.present_map, sp + h.count - base) && !abit_set(d->want, sp + h.count))
		h.count++;
	pthread_mutex_lock(&d->send_mu);
	if (d->pre_c && pchan_send(d->pre_c, &h, NULL))
		ptls_shutdown(d->pre_c);
	pthread_mutex_unlock(&d->send_mu);
	pthread_mutex_lock(&m->mu);
	m->st.postcopy_requests++;
	pthread_mutex_unlock(&m->mu);
}

/* A new preempt channel: requests sent on the old one may be lost. */
static void resend_requests(struct mig_dst *d)
{
	struct mig *m = d->m;
	struct region *r = d->n_regs ? d->regs[0].r : NULL;

	if (!r)
		return;
	for (uint64_t p = 0; p < m->n_pages; p++) {
		if (abit_test(d->want, p) && !abit_test(d->ready, p)) {
			struct pchan_hdr h = { .type = PCHAN_T_REQUEST, .page = p, .count = 1 };

			pthread_mutex_lock(&d->send_mu);
			if (d->pre_c && pchan_send(d->pre_c, &h, NULL))
				ptls_shutdown(d->pre_c);
			pthread_mutex_unlock(&d->send_mu);
		}
	}
}

/* ---- the job ends ------------------------------------------------------------ */

/* Every region of the workload stops being served: its faults stay blocked. */
static void fail_all(struct mig_dst *d, const char *why)
{
	/* d may be gone once the last region left: counted first */
	for (size_t n = d->n_regs; n; n--) {
		struct dst_reg e = d->regs[0];

		pr_warn(&d->m->ag->log, "destination region left registered, its faults wait",
			LF_STR("migration", d->m->id), LF_STR("region", e.r->id), LF_STR("reason", why));
		if (e.u)
			install_fail(e.u, e.r, ECANCELED, why);
		else
			e.r->w.failed = true;
		leave(e.u, e.r, d);
	}
}

static void on_end(struct mig_dst *d, bool all_held)
{
	if (!all_held) {
		fail_all(d, "the migration ended before every page arrived");
		return;
	}
	/* populated, then unregistered by the step */
	for (size_t i = 0; i < d->n_regs; i++) {
		d->regs[i].r->w.detach = true;
		d->regs[i].r->w.bg_cursor = 0;
	}
}

/* ---- hooks ------------------------------------------------------------------- */

static void dst_start(struct ufd *u, struct region *r, void *ctx)
{
	/* never handed over by fault_strategy(): set before the region is attached */
	(void)u;
	(void)r;
	(void)ctx;
}

static void dst_refuse(struct fault_engine *e, struct region *r, void *ctx, int code, const char *why)
{
	(void)e;
	(void)r;
	(void)ctx;
	(void)code;
	(void)why;
}

static bool dst_runnable(const struct region *r)
{
	struct mig_dst *d = dst_of(r);
	const struct dst_reg *e = reg_of(d, r);
	uint64_t p = r->w.bg_cursor;

	if (!d->watching || (e && !e->u) || r->w.failed)
		return true;
	/* staged pages are current only once the source holds */
	if (!atomic_load(&d->live))
		return false;
	/* a detach waits at a page that is not here yet (region_detach before the end) */
	if (r->w.detach)
		return p >= r->n_pages || bitmap_test(r->w.present_map, p) ||
		       bitmap_test(r->w.gone_map, p) || installable(d, r, base_of(d, r), p);
	return p < r->n_pages;
}

/* Releases r to its workload once every page is installed. */
static void finish_detach(struct ufd *u, struct region *r, struct mig_dst *d)
{
	uint64_t p = bitmap_next_clear2(r->w.present_map, r->w.gone_map, 0, r->n_pages);

	if (p < r->n_pages) {
		/* again from there; a page not here yet is waited for (dst_runnable) */
		r->w.bg_cursor = p;
		return;
	}
	pr_info(&d->m->ag->log, "destination region released to its workload",
		LF_STR("migration", d->m->id), LF_STR("region", r->id));
	ufd_drop_region(u, r, true, "detached");
}

/* Background: pages staged before the switchover that nobody touched yet. */
static void dst_step(struct ufd *u, struct region *r)
{
	struct mig_dst *d = dst_of(r);
	uint64_t end;

	learn(d, u, r);
	if (!d->watching) {
		watch(u, d, true);
		return;
	}
	if (r->w.failed) {
		/* not served any more: its faults stay blocked (a detach unregisters, as for any region) */
		leave(u, r, d);
		return;
	}
	if (!atomic_load(&d->live))
		return; /* staged pages may still be stale */
	if (r->w.bg_cursor >= r->n_pages) {
		check_installed(d);
		if (r->w.detach)
			finish_detach(u, r, d);
		return;
	}
	end = r->n_pages - r->w.bg_cursor < DST_BG_CHUNK ? r->n_pages : r->w.bg_cursor + DST_BG_CHUNK;
	switch (install_run(u, r, r->w.bg_cursor, end - r->w.bg_cursor,
			    r->w.detach ? RP_DETACH : RP_BACKGROUND)) {
	case INSTALL_OK:
		r->w.bg_cursor = end;
		if (end >= r->n_pages)
			check_installed(d);
		break;
	case INSTALL_GONE:
		ufd_gone(u, "workload exited");
		break;
	default:
		break; /* mm changing: again after its events; failed: the next step ends it */
	}
}

static enum install_res dst_write_fault(struct ufd *u, struct region *r, uint64_t page,
					uint64_t read_ns)
{
	/* registered for missing faults only */
	(void)read_ns;
	return install_unprotect(u, region_start(r) + page * r->page_size, r->page_size);
}

/* Pages ready, a new preempt channel, or the end of the job. */
static void dst_wake(struct ufd *u, struct region *r)
{
	struct mig_dst *d = dst_of(r);
	struct dst_run *runs;
	size_t n;
	uint64_t cnt;
	bool end, all_held;

	learn(d, u, r);
	if (read(d->ev_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		pr_pwarn(u->w->log, "reading the page channels' eventfd failed");
	pthread_mutex_lock(&d->q_mu);
	runs = d->arrived;
	n = d->n_arrived;
	d->arrived = NULL;
	d->n_arrived = d->cap_arrived = 0;
	end = d->end;
	all_held = d->all_held;
	d->end = false;
	pthread_mutex_unlock(&d->q_mu);
	install_arrived(d, runs, n);
	free(runs);
	check_installed(d);
	if (atomic_exchange(&d->pre_new, false) && atomic_load(&d->live))
		resend_requests(d);
	if (end)
		on_end(d, all_held);
}

/* The map already says what changed (removed pages read zero); nothing to undo. */
static void dst_abort(struct ufd *u, struct region *r, int code, const char *why)
{
	(void)why;
	if (code == PROTO_E_INTERNAL) /* the worker stops */
		leave(u, r, dst_of(r));
}

static bool dst_protects_all(const struct region *r)
{
	(void)r;
	return false;
}

static enum missing_answer dst_missing(struct ufd *u, struct region *r, uint64_t page,
				       uint64_t read_ns)
{
	struct mig_dst *d = dst_of(r);
	uint64_t sp = base_of(d, r) + page;

	learn(d, u, r);
	if (bitmap_test(r->w.removed_map, page))
		return MISSING_INSTALL; /* dropped by the workload: zero, never the migrated bytes */
	if (!d->fault_ns[sp])
		d->fault_ns[sp] = read_ns ? read_ns : 1;
	if (!atomic_load(&d->live))
		return MISSING_WAIT; /* the source still runs: the switchover wakes it */
	if (abit_test(d->ready, sp)) {
		served(d, sp, mono_now_ns());
		return MISSING_INSTALL;
	}
	request(d, r, sp);
	return MISSING_WAIT;
}

static void dst_dropped(struct ufd *u, struct region *r)
{
	leave(u, r, dst_of(r));
}

/* A region born in the worker from one of ours shows the same staging. */
static void dst_follow(struct region *parent, struct region *child)
{
	struct mig_dst *d = dst_of(parent);
	struct dst_reg *regs;

	if (d->n_regs == d->cap_regs) {
		size_t cap = d->cap_regs ? d->cap_regs * 2 : 4;

		regs = realloc(d->regs, cap * sizeof(*regs));
		if (!regs) {
			/* not served at all rather than served wrong bytes */
			child->w.failed = true;
			return;
		}
		d->regs = regs;
		d->cap_regs = cap;
	}
	d->regs[d->n_regs++] = (struct dst_reg){ .r = child };
	child->w.strat = parent->w.strat;
	child->w.strat_ctx = d;
	child->w.bg_cursor = 0;
}

const struct region_strategy mig_dst_strategy = {
	.name = "migration",
	.start = dst_start,
	.refuse = dst_refuse,
	.runnable = dst_runnable,
	.step = dst_step,
	.write_fault = dst_write_fault,
	.wake = dst_wake,
	.abort = dst_abort,
	.protects_all = dst_protects_all,
	.missing_fault = dst_missing,
	.dropped = dst_dropped,
	.follow = dst_follow,
};
