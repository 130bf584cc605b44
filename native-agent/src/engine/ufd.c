/*
 * Serving one handed-over uffd; see ufd.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bitmap.h"
#include "install.h"
#include "mono.h"
#include "proto.h"
#include "region.h"
#include "strategy.h"
#include "track.h"
#include "ufd.h"

#define LOG_COMP "fault"
#include "log.h"

struct ufd *ufd_new(struct worker *w, int fd, int pidfd, pid_t pid)
{
	struct ufd *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->w = w;
	u->fd = fd;
	u->own_fd = fd;
	u->hold_fd = -1;
	u->pidfd = pidfd;
	u->pid = pid;
	u->tag = (struct fault_tag){ .kind = TAG_UFD, .u = u };
	u->hold_tag = (struct fault_tag){ .kind = TAG_HOLD, .u = u };
	u->pid_tag = (struct fault_tag){ .kind = TAG_PIDFD, .u = u };
	u->strat_tag = (struct fault_tag){ .kind = TAG_STRATEGY, .u = u };
	return u;
}

/* Closes the agent's copies; the regions are the loop thread's to free. */
void ufd_free(struct ufd *u)
{
	if (u->own_fd >= 0)
		close(u->own_fd);
	if (u->hold_fd >= 0)
		close(u->hold_fd);
	if (u->pidfd >= 0)
		close(u->pidfd);
	free(u->regs);
	free(u->todo);
	free(u->parked);
	free(u);
}

int ufd_add_region(struct ufd *u, struct region *r)
{
	if (u->n_regs == u->cap_regs) {
		unsigned cap = u->cap_regs ? u->cap_regs * 2 : 4;
		struct region **regs = realloc(u->regs, cap * sizeof(*regs));

		if (!regs)
			return -1;
		u->regs = regs;
		u->cap_regs = cap;
	}
	u->regs[u->n_regs++] = r;
	return 0;
}

/*
 * The region that serves addr.  Ranges of a uffd's regions can overlap
 * where one has a hole: the workload unmapped part of a region, the kernel
 * placed another mapping there, and a part of a region was moved into it
 * (mremap), which the agent follows as a region of its own.  The page
 * belongs to the region for which it is not gone.
 */
static struct region *ufd_find(const struct ufd *u, uint64_t addr)
{
	struct region *hole = NULL;

	for (unsigned i = 0; i < u->n_regs; i++) {
		struct region *r = u->regs[i];
		uint64_t start = region_start(r);

		if (addr < start || addr - start >= r->length)
			continue;
		if (!bitmap_test(r->w.gone_map, (addr - start) / r->page_size))
			return r;
		if (!hole)
			hole = r;
	}
	return hole;
}

/* The region's write tracking ends (released, or its range is not whole any more). */
static void untrack(struct region *r)
{
	if (!r->w.wp)
		return;
	track_fini(r->w.wp);
	free(r->w.wp);
	r->w.wp = NULL;
}

static void post_detached(struct ufd *u, struct region *r, const char *reason)
{
	struct fault_done d = { .kind = FAULT_DETACHED, .r = r,
				.populated = r->w.detach_installed };

	snprintf(d.reason, sizeof(d.reason), "%s", reason);
	d.rec = r->w.rec;
	memset(&r->w.rec, 0, sizeof(r->w.rec));
	fault_post(u->w->e, &d);
}

/*
 * The worker lets go of r.  Unregistering makes the range ordinary memory
 * again and wakes every thread still blocked in it; faults already read
 * for it then resolve as orphans (ENOENT, woken).  After this the worker
 * never touches r.
 */
void ufd_drop_region(struct ufd *u, struct region *r, bool unregister, const char *reason)
{
	struct uffdio_range range = { .start = region_start(r), .len = r->length };

	strategy_abort(u, r, PROTO_E_CONFLICT, reason);
	if (r->w.strat && r->w.strat->dropped)
		r->w.strat->dropped(u, r);
	if (unregister && region_stat(&r->st.gone) < r->n_pages &&
	    ioctl(u->fd, UFFDIO_UNREGISTER, &range) && errno != ESRCH)
		pr_pwarn(u->w->log, "UFFDIO_UNREGISTER failed", LF_STR("region", r->id));
	/* unregistering wakes only missing faults: writers held on the hold uffd too */
	if (unregister && u->hold_fd >= 0)
		ioctl(u->hold_fd, UFFDIO_WAKE, &range);
	untrack(r);
	for (unsigned i = 0; i < u->n_regs; i++) {
		if (u->regs[i] == r) {
			u->regs[i] = u->regs[--u->n_regs];
			break;
		}
	}
	post_detached(u, r, reason);
	if (!u->n_regs)
		u->dead = true;
}

/* The workload is gone (exited, or the mm is): every region ends here. */
void ufd_gone(struct ufd *u, const char *reason)
{
	pr_info(u->w->log, "uffd released", LF_INT("pid", u->pid), LF_STR("reason", reason),
		LF_UINT("regions", u->n_regs));
	while (u->n_regs)
		ufd_drop_region(u, u->regs[0], false, reason);
	u->n_todo = 0;
	u->n_parked = 0;
	u->dead = true;
}

/* ---- events ------------------------------------------------------------ */

/* Pages of r touched by [start, end), rounded outwards; false if none. */
static bool pages_of(const struct region *r, uint64_t start, uint64_t end, uint64_t *first,
		     uint64_t *last)
{
	uint64_t rs = region_start(r), lo, hi;

	lo = start > rs ? start : rs;
	hi = end < rs + r->length ? end : rs + r->length;
	if (lo >= hi)
		return false;
	*first = (lo - rs) / r->page_size;
	*last = (hi - rs + r->page_size - 1) / r->page_size;
	return true;
}

static uint64_t *ensure_map(uint64_t **map, uint64_t n)
{
	if (!*map)
		*map = bitmap_new(n);
	return *map;
}

/*
 * MADV_DONTNEED/REMOVE (a balloon inflating, free() returning memory):
 * the pages are no longer present and must read as zero from now on,
 * never as image bytes.  munmap: the pages are gone for good.
 */
static void on_remove(struct ufd *u, uint64_t start, uint64_t end, bool unmap)
{
	for (unsigned i = 0; i < u->n_regs; i++) {
		struct region *r = u->regs[i];
		uint64_t first, last;
		uint64_t **map = unmap ? &r->w.gone_map : &r->w.removed_map;

		if (!pages_of(r, start, end, &first, &last))
			continue;
		region_stat_add(&r->st.events[unmap ? RE_UNMAP : RE_REMOVE], 1);
		/* pages still to be saved would be lost; their content changed for the next one */
		if (unmap || !strategy_keeps_after_remove(u, r, first, last - first))
			strategy_abort(u, r, PROTO_E_CONFLICT,
				       unmap ? "the workload unmapped memory of the region during the snapshot"
					     : "the workload released memory of the region (MADV_DONTNEED)"
					       " during the snapshot");
		if (r->w.wp && !unmap)
			bitmap_set(r->w.wp->dirty, first, last - first);
		if (r->w.wp && unmap && last - first < r->n_pages) {
			untrack(r); /* the range is not whole any more */
			u->fd = u->own_fd;
		}
		if (!ensure_map(map, r->n_pages)) {
			/* cannot track it: serving wrong bytes is worse than not serving */
			install_fail(u, r, ENOMEM, "tracking removed pages");
			continue;
		}
		atomic_store_explicit(&r->st.present,
				      region_stat(&r->st.present) -
					      bitmap_clear(r->w.present_map, first, last - first),
				      memory_order_relaxed);
		if (!unmap) {
			bitmap_set(r->w.removed_map, first, last - first);
			region_removed_note(r, first, last - first);
			pr_debug(u->w->log, "pages removed", LF_STR("region", r->id), LF_UINT("first", first),
				 LF_UINT("pages", last - first));
			continue;
		}
		region_stat_add(&r->st.gone, bitmap_set(r->w.gone_map, first, last - first));
		if (region_stat(&r->st.gone) == r->n_pages) {
			ufd_drop_region(u, r, false, "unmapped by the workload");
			i--;
		} else {
			install_check_complete(u, r);
		}
	}
}

static int mark_populated(void *arg, uint64_t first, uint64_t n, uint64_t categories)
{
	(void)categories;
	bitmap_set(arg, first, n);
	return 0;
}

/*
 * The range of r moved between its two uffds (track.h): for a moment it
 * was registered on neither, and a MADV_DONTNEED then raised no REMOVE
 * event.  Pages the map has present that the page table has not are such
 * pages: they read zero from now on, as removed ones do.  (A madvise that
 * found the range unregistered has zapped before the registration on the
 * new uffd could complete, so the scan after it sees every such page.)
 */
int ufd_after_move(struct ufd *u, struct region *r)
{
	uint64_t *pop = bitmap_new(r->n_pages), gone = 0;

	if (!pop || !ensure_map(&r->w.removed_map, r->n_pages) ||
	    track_scan(r->w.wp, 0, r->n_pages, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0,
		       PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, mark_populated, pop)) {
		free(pop);
		return -1;
	}
	for (uint64_t p = 0; p < r->n_pages; p++) {
		if (!bitmap_test(r->w.present_map, p) || bitmap_test(pop, p) ||
		    (r->w.gone_map && bitmap_test(r->w.gone_map, p)))
			continue;
		bitmap_clear(r->w.present_map, p, 1);
		bitmap_set(r->w.removed_map, p, 1);
		gone++;
	}
	free(pop);
	if (gone) {
		region_stat_add(&r->st.present, (uint64_t)-gone);
		pr_info(u->w->log, "pages released while the region moved between its uffds",
			LF_STR("region", r->id), LF_UINT("pages", gone));
	}
	return 0;
}

/* A clone that could not be adopted: it never held a reference to the image. */
static void discard_clone(struct region *c)
{
	if (c)
		c->image = NULL;
	region_put(c);
}

static void adopt(struct ufd *u, struct region *parent, struct region *child)
{
	struct fault_done d = { .kind = FAULT_ADOPT, .r = child, .parent = parent };

	child->w.populate_at_ns = parent->w.populate_at_ns;
	if (parent->w.strat && parent->w.strat->follow)
		parent->w.strat->follow(parent, child);
	fault_post(u->w->e, &d);
}

/* mremap: a whole region moves; a part that moves becomes a region of its own. */
static void on_remap(struct ufd *u, uint64_t from, uint64_t to, uint64_t len)
{
	unsigned n = u->n_regs;

	for (unsigned i = 0; i < n && i < u->n_regs; i++) {
		struct region *r = u->regs[i], *part;
		uint64_t rs = region_start(r), first, last;

		if (from <= rs && rs + r->length <= from + len) {
			region_stat_add(&r->st.events[RE_REMAP], 1);
			strategy_abort(u, r, PROTO_E_CONFLICT, "the workload moved the region during the snapshot");
			atomic_store_explicit(&r->start, rs - from + to, memory_order_relaxed);
			if (r->w.wp)
				r->w.wp->start = rs - from + to;
			continue;
		}
		if (!pages_of(r, from, from + len, &first, &last))
			continue;
		/* a hole of r where another region lives now (see ufd_find): not r's to move */
		if (bitmap_count(r->w.gone_map, first, last - first) == last - first)
			continue;
		region_stat_add(&r->st.events[RE_REMAP], 1);
		strategy_abort(u, r, PROTO_E_CONFLICT, "the workload moved part of the region during the snapshot");
		if (r->w.wp) {
			untrack(r);
			u->fd = u->own_fd;
		}
		part = region_clone(r, first, last - first, to + (rs + first * r->page_size - from));
		if (!part || ufd_add_region(u, part)) {
			pr_err(u->w->log, "cannot follow a partial mremap, moved part not served",
			       LF_STR("region", r->id));
			discard_clone(part);
			part = NULL;
		}
		if (part)
			adopt(u, r, part);
		on_remove(u, rs + first * r->page_size, rs + last * r->page_size, true);
	}
}

/*
 * fork() of a registered process (only with UFFD_FEATURE_EVENT_FORK): the
 * child's copy of every region arrives on a new uffd.  Closing it would
 * unregister the child's ranges and let its missing pages fill with zeros,
 * so the child is adopted: same ranges, same backing, same page state.
 * Its pid is unknown (the message carries only the descriptor), so its
 * exit is noticed when an install reports ESRCH.
 */
static void on_fork(struct ufd *u, int child_fd)
{
	struct ufd *c = ufd_new(u->w, child_fd, -1, 0);

	if (!c) {
		pr_err(u->w->log, "cannot adopt a forked child's uffd, closing it");
		close(child_fd);
		return;
	}
	for (unsigned i = 0; i < u->n_regs; i++) {
		struct region *r = u->regs[i];
		struct region *copy = region_clone(r, 0, r->n_pages, region_start(r));

		region_stat_add(&r->st.events[RE_FORK], 1);
		if (!copy || ufd_add_region(c, copy)) {
			pr_err(u->w->log, "cannot adopt a forked child's region", LF_STR("region", r->id));
			discard_clone(copy);
			continue;
		}
		copy->pid = 0;
		adopt(u, r, copy);
	}
	worker_add_ufd(u->w, c);
}

#ifdef FAULTLINE_FAULT_INJECTION
/*
 * Test builds only (build/faultline-agent-inject, never installed): with
 * FAULTLINE_INJECT=ignore-remove the engine drops REMOVE events, so that
 * removed pages are served from the image again.  The stress test runs it
 * to prove that it catches such a bug (tests/test_stress.c).
 */
static bool inject_ignore_remove(void)
{
	const char *v = getenv("FAULTLINE_INJECT");

	return v && !strcmp(v, "ignore-remove");
}
#else
static bool inject_ignore_remove(void)
{
	return false;
}
#endif

static void on_event(struct ufd *u, const struct uffd_msg *m)
{
	switch (m->event) {
	case UFFD_EVENT_REMOVE:
		if (inject_ignore_remove())
			break;
		on_remove(u, m->arg.remove.start, m->arg.remove.end, false);
		break;
	case UFFD_EVENT_UNMAP:
		on_remove(u, m->arg.remove.start, m->arg.remove.end, true);
		break;
	case UFFD_EVENT_REMAP:
		on_remap(u, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
		break;
	case UFFD_EVENT_FORK:
		on_fork(u, (int)m->arg.fork.ufd);
		break;
	default:
		pr_warn(u->w->log, "unknown uffd event ignored", LF_UINT("event", m->event));
	}
}

/* ---- faults ------------------------------------------------------------ */

static int grow(struct ufd_fault **q, size_t n, size_t *cap, size_t more)
{
	size_t want = *cap ? *cap : FAULT_BATCH;
	struct ufd_fault *t;

	while (want < n + more)
		want *= 2;
	if (want == *cap)
		return 0;
	t = realloc(*q, want * sizeof(*t));
	if (!t)
		return -1;
	*q = t;
	*cap = want;
	return 0;
}

static int push_fault(struct ufd *u, const struct uffd_msg *m, uint64_t now)
{
	if (grow(&u->todo, u->n_todo, &u->cap_todo, 1))
		return -1;
	u->todo[u->n_todo].msg = *m;
	u->todo[u->n_todo++].read_ns = now;
	return 0;
}

/*
 * Reads one batch from fd (the uffd handed over, or the hold uffd): events
 * are applied at once, faults queued.  A fault read from the uffd the range
 * has left (a move between the two) is only woken: it faults again where
 * the range is now.  Returns the number of messages, 0 when there were
 * none, -1 when the uffd is unusable.
 */
int ufd_read_fd(struct ufd *u, int fd)
{
	struct uffd_msg *msgs = u->w->msgs;
	ssize_t n;
	uint64_t now;

	do
		n = read(fd, msgs, sizeof(u->w->msgs));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return 0;
		pr_perror(u->w->log, "uffd read failed", LF_INT("pid", u->pid));
		ufd_gone(u, "uffd read failed");
		return -1;
	}
	now = mono_now_ns();
	n /= (ssize_t)sizeof(*msgs);
	for (ssize_t i = 0; i < n; i++) {
		if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
			on_event(u, &msgs[i]);
		} else if (fd != u->fd) {
			uint64_t psz = (uint64_t)sysconf(_SC_PAGESIZE);
			struct uffdio_range r = { .start = msgs[i].arg.pagefault.address & ~(psz - 1),
						  .len = psz };

			ioctl(fd, UFFDIO_WAKE, &r);
		} else if (push_fault(u, &msgs[i], now))
			/* the thread stays blocked; a later wake of its page retries it */
			pr_err(u->w->log, "out of memory queueing a fault",
			       LF_HEX("addr", msgs[i].arg.pagefault.address));
	}
	return (int)n;
}

/* Both uffds (the hold uffd only has messages while a range is on it). */
int ufd_read(struct ufd *u)
{
	int n = ufd_read_fd(u, u->own_fd), m;

	if (n < 0 || u->hold_fd < 0 || u->dead)
		return n;
	m = ufd_read_fd(u, u->hold_fd);
	return m < 0 ? m : n + m;
}

/*
 * A fault outside every region: memory the workload grew into its range
 * (mremap in place), with anonymous semantics.  If the range is not
 * registered any more (a dropped region) the zeropage fails with ENOENT and
 * a wake lets the thread fault normally.  Anything else (a huge page range,
 * which has no zeropage) leaves the thread blocked rather than waking it
 * into the same fault again and again.
 */
static enum install_res resolve_orphan(struct ufd *u, uint64_t addr)
{
	uint64_t psz = (uint64_t)sysconf(_SC_PAGESIZE);
	struct uffdio_zeropage zp = { .range = { .start = addr & ~(psz - 1), .len = psz } };

	if (!ioctl(u->fd, UFFDIO_ZEROPAGE, &zp))
		return INSTALL_OK; /* it woke the thread */
	if (errno == EAGAIN)
		return INSTALL_MM_CHANGING;
	if (errno == ESRCH)
		return INSTALL_GONE;
	if (errno == EEXIST || errno == ENOENT)
		return install_wake(u, zp.range.start, psz) == INSTALL_GONE ? INSTALL_GONE : INSTALL_OK;
	pr_perror(u->w->log, "fault outside every region left blocked", LF_INT("pid", u->pid),
		  LF_HEX("addr", addr));
	return INSTALL_OK;
}

static void record(struct region *r, uint64_t now, uint64_t first, uint64_t n)
{
	uint64_t off = r->image_offset + first * r->page_size;

	if (!r->w.record || r->kind != REGION_IMAGE)
		return;
	if (wset_rec_add(&r->w.rec, now, off / WSET_PAGE, (uint32_t)(n * r->page_size / WSET_PAGE)))
		r->w.record = false; /* out of memory: a partial recording is still useful */
}

/*
 * The faulting page first, together with the rest of its fault-around
 * window (around.h) ahead of it, in one install that wakes the thread; then
 * the part of the window behind it.  A run's window starts at the fault, so
 * sequential access costs one install per window.  A write fault's window
 * gets its zeros as private pages (install_range(): INSTALL_ZEROS_PRIVATE).
 */
static enum install_res resolve_missing(struct ufd *u, struct region *r, uint64_t p, uint64_t now,
					bool write)
{
	unsigned how = INSTALL_WAKE | (write ? INSTALL_ZEROS_PRIVATE : 0);
	uint64_t ws, we;
	unsigned floor;
	uint64_t addr = region_start(r) + p * r->page_size;
	struct install_out out, back;
	enum install_res res;

	/*
	 * A missing fault says the page is not there, whatever the map says:
	 * the kernel zaps a removed range only after the agent has read its
	 * REMOVE event, so an install in between (populator, fault-around)
	 * can be undone behind the map's back.  Waking the thread would make
	 * it fault again for ever; the page is installed again instead (a
	 * thread that faulted on a page just installed meets EEXIST: woken).
	 */
	if (bitmap_test(r->w.present_map, p)) {
		bitmap_clear(r->w.present_map, p, 1);
		region_stat_add(&r->st.present, (uint64_t)-1);
		region_stat_add(&r->st.refaults, 1);
	}
	floor = r->w.fault_around;
	if (r->w.clone && floor > 1 && floor < AROUND_CLONE_FLOOR)
		floor = AROUND_CLONE_FLOOR;
	around_window(&r->w.around, floor, p, r->n_pages, &ws, &we);
	res = install_range(u, r, p, we - p, RP_AROUND, p, how, &out);
	if (res == INSTALL_MM_CHANGING && !out.demand_woken)
		return res;
	if (res == INSTALL_GONE || res == INSTALL_FAILED) {
		if (res == INSTALL_FAILED)
			install_fail(u, r, out.err, "demand install");
		return res;
	}
	if (ws < p && install_range(u, r, ws, p - ws, RP_AROUND, INSTALL_NO_DEMAND, how, &back) ==
			      INSTALL_GONE)
		return INSTALL_GONE;
	if (!out.demand_woken)
		res = install_wake(u, addr, r->page_size);
	record(r, now, ws, we - ws);
	return res == INSTALL_NOENT || res == INSTALL_MM_CHANGING ? INSTALL_OK : res;
}

static enum install_res resolve_one(struct ufd *u, const struct ufd_fault *f)
{
	uint64_t addr = f->msg.arg.pagefault.address, flags = f->msg.arg.pagefault.flags;
	struct region *r = ufd_find(u, addr);
	enum region_fault kind = RF_MISSING;
	enum install_res res;
	uint64_t p, page, now;

	if (!r)
		return resolve_orphan(u, addr);
	if (r->w.failed)
		return INSTALL_OK; /* left blocked on purpose, see install_fail() */
	p = (addr - region_start(r)) / r->page_size;
	page = region_start(r) + p * r->page_size;
	now = mono_now_ns();
	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		uint64_t first, n;

		kind = RF_WP;
		if (r->w.strat) {
			res = r->w.strat->write_fault(u, r, p, f->read_ns);
			if (res == INSTALL_WAIT)
				return res;
		} else if (r->w.wp && r->w.wp->where == TRACK_ON_HOLD) {
			/*
			 * between snapshots: the first write to a granule marks it written.
			 * EAGAIN: a removal or a move not read yet; the fault is retried
			 * after it, like an install (failing the region here left the
			 * writer blocked for good).
			 */
			res = !track_lift(r->w.wp, p, &first, &n) ? INSTALL_OK
			      : errno == ESRCH			? INSTALL_GONE
			      : errno == EAGAIN			? INSTALL_MM_CHANGING
								: INSTALL_FAILED;
		} else {
			res = install_unprotect(u, page, r->page_size);
		}
	} else if (flags & UFFD_PAGEFAULT_FLAG_MINOR) {
		kind = RF_MINOR;
		/* a clone's window is continued as a copy's is installed (install.c) */
		res = r->w.clone ? resolve_missing(u, r, p, now, flags & UFFD_PAGEFAULT_FLAG_WRITE)
				 : install_continue(u, page, r->page_size);
	} else if (r->w.strat && r->w.strat->missing_fault &&
		   r->w.strat->missing_fault(u, r, p, f->read_ns) == MISSING_WAIT) {
		return INSTALL_PARK;
	} else {
		res = resolve_missing(u, r, p, now, flags & UFFD_PAGEFAULT_FLAG_WRITE);
	}
	if (res == INSTALL_MM_CHANGING || res == INSTALL_GONE)
		return res;
	if (res == INSTALL_FAILED && kind != RF_MISSING)
		install_fail(u, r, errno, kind == RF_WP ? "write-unprotect" : "continue");
	now = mono_now_ns();
	u->w->last_fault_ns = now;
	region_stat_add(&r->st.faults[kind], 1);
	region_latency(r, now - f->read_ns);
	/* after the counters, so that whoever sees COMPLETE sees them final */
	install_check_complete(u, r);
	return INSTALL_OK;
}

/*
 * Resolves queued faults in order.  Returns 1 when it stopped because the
 * mm is changing (the rest waits for events), -1 when the workload is
 * gone, 0 when the queue is empty.
 */
int ufd_resolve(struct ufd *u)
{
	size_t i;

	u->mm_changing = false;
	u->waits_space = false;
	for (i = 0; i < u->n_todo; i++) {
		enum install_res res = resolve_one(u, &u->todo[i]);

		if (res == INSTALL_PARK) {
			/* its thread stays blocked; out of memory: it stays queued instead */
			if (grow(&u->parked, u->n_parked, &u->cap_parked, 1)) {
				u->waits_space = true;
				break;
			}
			u->parked[u->n_parked++] = u->todo[i];
			continue;
		}
		if (res == INSTALL_MM_CHANGING) {
			u->mm_changing = true;
			break;
		}
		if (res == INSTALL_WAIT) {
			/* in order: later faults wait too (TAG_CAP wakes the worker) */
			u->waits_space = true;
			break;
		}
		if (res == INSTALL_GONE) {
			ufd_gone(u, "workload exited");
			return -1;
		}
	}
	memmove(u->todo, u->todo + i, (u->n_todo - i) * sizeof(*u->todo));
	u->n_todo -= i;
	return u->mm_changing;
}

/*
 * The strategy of one of u's regions has pages it did not have (strategy.h).
 * A parked fault whose page the map has present now is done: the install
 * that made it present woke its thread (strategies install with wake, and
 * a page zapped after that faults anew).  The others go back to the front
 * of the queue, older first, and are resolved again (a page removed
 * meanwhile reads zero).  Returns as ufd_resolve().
 */
int ufd_unpark(struct ufd *u)
{
	uint64_t now = mono_now_ns();
	size_t keep = 0;

	if (!u->n_parked || u->dead)
		return 0;
	for (size_t i = 0; i < u->n_parked; i++) {
		uint64_t addr = u->parked[i].msg.arg.pagefault.address;
		struct region *r = ufd_find(u, addr);

		if (r && bitmap_test(r->w.present_map, (addr - region_start(r)) / r->page_size)) {
			region_stat_add(&r->st.faults[RF_MISSING], 1);
			region_latency(r, now - u->parked[i].read_ns);
			u->w->last_fault_ns = now;
			continue;
		}
		u->parked[keep++] = u->parked[i];
	}
	u->n_parked = keep;
	if (grow(&u->todo, u->n_todo, &u->cap_todo, u->n_parked))
		return 0; /* out of memory: they stay parked until the next time */
	memmove(u->todo + u->n_parked, u->todo, u->n_todo * sizeof(*u->todo));
	memcpy(u->todo, u->parked, u->n_parked * sizeof(*u->todo));
	u->n_todo += u->n_parked;
	u->n_parked = 0;
	return ufd_resolve(u);
}
