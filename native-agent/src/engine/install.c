/*
 * Page installation and background installs; see install.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bitmap.h"
#include "crew.h"
#include "image.h"
#include "install.h"
#include "readahead.h"
#include "strategy.h"
#include "track.h"
#include "ufd.h"

#define LOG_COMP "fault"
#include "log.h"

/* a demand fault this recent makes background chunks small */
#define INSTALL_QUIET_NS 2000000u
#define INSTALL_BUSY_CHUNK 32u
/* an install split among helpers: no piece smaller than this, at most this many per round */
#define INSTALL_MIN_PIECE_BYTES (32u << 10)
#define INSTALL_MAX_PIECES 16u
/*
 * A range shorter than this is installed by the worker alone, whatever its
 * pieces: posting them to a helper and waiting for its piece cost more than
 * a few pages (a random touch's 16-page window is cut into up to four runs
 * by its zero pages; random writes took 1.3x longer with a helper on two
 * CPUs, docs/benchmarks.md "Run 10").
 */
#define INSTALL_SHARE_MIN_BYTES (128u << 10)

static uint32_t base_page(void)
{
	static _Thread_local uint32_t psz;

	if (!psz)
		psz = (uint32_t)sysconf(_SC_PAGESIZE);
	return psz;
}

/* Pages that must read as zero: anonymous backing, removed by the workload
 * (balloon semantics: never re-read from the image or the staging) or zero
 * in the image. */
static bool page_zero(const struct region *r, uint64_t p)
{
	if (r->kind == REGION_ANON || bitmap_test(r->w.removed_map, p))
		return true;
	if (r->kind == REGION_STAGED)
		return false; /* zero runs were staged as zeros */
	return image_zero(r->image, r->image_offset + p * r->page_size, r->page_size);
}

/*
 * Whether a page installed now (a missing fault on a region tracked on its
 * hold uffd) must be write-protected: while a strategy says so (a capture's
 * rounds: the page may have been passed already), otherwise unless its
 * granule was lifted.  Without it, UFFDIO_ZEROPAGE would drop the
 * protection marker and the next write would go unseen.
 */
static bool install_wp(const struct region *r, uint64_t p)
{
	const struct track *t = r->w.wp;

	if (!t || t->where != TRACK_ON_HOLD)
		return false;
	if (r->w.strat && r->w.strat->protects_all(r))
		return true;
	return !bitmap_test(t->dirty, p);
}

/* What fill() installs. */
enum fill_src {
	FILL_DATA,         /* the region's bytes */
	FILL_ZERO,         /* zeros: the shared zero page where the kernel allows it */
	FILL_ZERO_PRIVATE, /* zeros in pages of the region's own */
};

static bool page_busy(const struct region *r, uint64_t p)
{
	return bitmap_test(r->w.present_map, p) || bitmap_test(r->w.gone_map, p);
}

/*
 * One UFFDIO_COPY or UFFDIO_ZEROPAGE.  Returns the bytes installed (the
 * kernel reports progress even when it stops early) and the errno of the
 * stop in *err (0 when everything was installed).  Huge pages have no
 * zeropage ioctl: their zeros are copied from a never-touched mapping, as
 * are the zeros of a page that must stay write-protected (wp: a region
 * tracked on its hold uffd; the zeropage ioctl cannot protect), all zeros
 * of a write-tracked region (see below), and zeros asked for as private
 * pages (`what` FILL_ZERO_PRIVATE: a write fault's window, see install_range()).
 */
static uint64_t fill(struct ufd *u, struct region *r, uint64_t p, uint64_t n, enum fill_src what,
		     bool wake, bool wp, int *err)
{
	uint64_t dst = region_start(r) + p * r->page_size, len = n * r->page_size;
	__s64 done;
	int ret;

	/*
	 * Not on a range registered for write protection: a page removed while
	 * write-protected is left as a uffd-wp marker, which UFFDIO_ZEROPAGE
	 * takes for a page (EEXIST) and UFFDIO_COPY replaces; the thread would
	 * fault for ever.  A forked child inherits its parent's markers, so its
	 * copy of a region has them without being tracked itself.
	 */
	if (what == FILL_ZERO && r->page_size == base_page() && !wp && !(r->modes & REGION_MODE_WP)) {
		struct uffdio_zeropage zp = {
			.range = { .start = dst, .len = len },
			.mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE,
		};

		ret = ioctl(u->fd, UFFDIO_ZEROPAGE, &zp);
		done = zp.zeropage;
	} else {
		struct uffdio_copy cp = {
			.dst = dst,
			.len = len,
			.mode = (wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE) | (wp ? UFFDIO_COPY_MODE_WP : 0),
		};

		if (what != FILL_DATA) {
			cp.src = (uintptr_t)u->w->zero;
		} else if (r->kind == REGION_STAGED) {
			cp.src = (uintptr_t)(r->w.staged + p * r->page_size);
		} else {
			/* an image read through its ops may give fewer: the caller goes on after them */
			size_t avail;
			const uint8_t *src = image_bytes(r->image, r->image_offset + p * r->page_size,
							 (size_t)len, &avail);

			if (!src) {
				*err = EIO; /* the image is marked changed: the region fails */
				return 0;
			}
			if (avail < len)
				cp.len = avail / r->page_size * r->page_size;
			cp.src = (uintptr_t)src;
		}
		ret = ioctl(u->fd, UFFDIO_COPY, &cp);
		done = cp.copy;
	}
	*err = ret ? errno : 0;
	if (ret && errno == EINTR)
		*err = EAGAIN; /* nothing lost: the caller comes back for the rest */
	return done > 0 ? (uint64_t)done : 0;
}

static void account(struct region *r, uint64_t p, uint64_t n, enum region_path path,
		    uint64_t demand, bool zero)
{
	uint64_t fresh = bitmap_set(r->w.present_map, p, n);
	bool has_demand = demand >= p && demand < p + n;

	region_stat_add(&r->st.present, fresh);
	region_stat_add(&r->st.installed[path], n - has_demand);
	if (has_demand)
		region_stat_add(&r->st.installed[RP_DEMAND], 1);
	if (zero)
		region_stat_add(&r->st.zero_pages, n);
	region_stat_add(&r->st.bytes, n * r->page_size);
}

/* The longest run from p of missing pages alike in zero-ness and protection, at most max. */
static uint64_t run_end(const struct region *r, uint64_t p, uint64_t end, bool zero, bool wp,
			uint64_t max)
{
	uint64_t q = p + 1;

	while (q < end && q - p < max && !page_busy(r, q) && page_zero(r, q) == zero &&
	       install_wp(r, q) == wp)
		q++;
	return q;
}

/*
 * After one install ioctl from *p that installed done pages and stopped
 * with err (0: it did them all): the pages are accounted and *p moves past
 * them and, on EEXIST, past the page found present.  Returns true when the
 * range ends here with *res; false to go on from *p.
 */
static bool installed(struct region *r, uint64_t *p, uint64_t done, int err, enum region_path path,
		      uint64_t demand, bool wake, bool zero, struct install_out *out,
		      enum install_res *res)
{
	if (done) {
		account(r, *p, done, path, demand, zero);
		out->installed += done;
		if (wake && demand >= *p && demand < *p + done)
			out->demand_woken = true;
		*p += done;
	}
	switch (err) {
	case 0:
		return false;
	case EEXIST:
		/* present already (installed before an agent restart, written by a clone): installed */
		region_stat_add(&r->st.eexist, 1);
		region_stat_add(&r->st.present, bitmap_set(r->w.present_map, *p, 1));
		(*p)++;
		return false;
	case EAGAIN:
		if (done)
			return false; /* stopped at a present page: the next round sees EEXIST */
		region_stat_add(&r->st.eagain, 1);
		*res = INSTALL_MM_CHANGING;
		return true;
	case ESRCH:
		*res = INSTALL_GONE;
		return true;
	case ENOENT:
		*res = INSTALL_NOENT;
		return true;
	default:
		out->err = err;
		*res = INSTALL_FAILED;
		return true;
	}
}

/*
 * Installing into a clone (r->w.clone): the region is a MAP_PRIVATE mapping
 * of the image's shared copy (restore/share.h), registered for minor
 * faults.  UFFDIO_CONTINUE maps the copy's page, read-only, since the
 * kernel never maps a page-cache page writable into a private mapping: a
 * write then gets the kernel's copy-on-write of that page alone.  Nothing
 * is copied here, and a REMOVE needs no care: a page dropped from a private
 * file mapping reads the file's byte again, which is what CONTINUE maps.
 *
 * Zero pages of the image are holes in the shared copy, which CONTINUE
 * cannot map (EFAULT: not in the page cache).  A touch of a hole is no
 * minor fault: the kernel fills the hole in the shared copy (a read fault
 * of a private mapping does; it stays for every clone after, which then
 * takes a minor fault there).  A clone registered for missing faults too
 * (shmem copies) gets a missing fault instead, and holes are mapped to the
 * zero page with UFFDIO_ZEROPAGE, in the window like the rest: the copy
 * never grows and no clone faults on a hole twice.  Without missing mode
 * (hugetlbfs copies, older clients) holes count as present without an
 * ioctl, and only a demand page is continued whatever the image says: a
 * minor fault means the page is in the copy's cache.
 */
/* A zero page of the image: a hole in the shared copy (the map made when it was filled). */
static bool shared_hole(struct region *r, uint64_t p)
{
	if (r->w.clone_holes)
		return bitmap_test(r->w.clone_holes, p);
	return image_zero(r->image, r->image_offset + p * r->page_size, r->page_size);
}

static enum install_res install_shared(struct ufd *u, struct region *r, uint64_t first, uint64_t n,
				       enum region_path path, uint64_t demand, bool wake,
				       struct install_out *out)
{
	uint64_t p = first, end = first + n;
	enum install_res res;

	while (p < end) {
		struct uffdio_continue cont = { .mode = wake ? 0 : UFFDIO_CONTINUE_MODE_DONTWAKE };
		uint64_t q, done;
		bool zero;
		int err = 0;

		p = bitmap_next_clear2(r->w.present_map, r->w.gone_map, p, end);
		if (p >= end)
			break;
		zero = shared_hole(r, p);
		q = p + 1;
		while (q < end && !page_busy(r, q) && shared_hole(r, q) == zero)
			q++;
		if (zero && (r->modes & REGION_MODE_MISSING)) {
			done = fill(u, r, p, q - p, FILL_ZERO, wake, false, &err) / r->page_size;
			if (installed(r, &p, done, err, path, demand, wake, true, out, &res))
				return res;
			continue;
		}
		if (zero) {
			uint64_t d = demand >= p && demand < q ? demand : q;

			account(r, p, d - p, path, demand, true);
			out->installed += d - p;
			p = d;
			if (d == q)
				continue;
			q = d + 1;
		}
		cont.range.start = region_start(r) + p * r->page_size;
		cont.range.len = (q - p) * r->page_size;
		if (ioctl(u->fd, UFFDIO_CONTINUE, &cont))
			err = errno == EINTR ? EAGAIN : errno;
		done = cont.mapped > 0 ? (uint64_t)cont.mapped / r->page_size : 0;
		if (installed(r, &p, done, err, path, demand, wake, zero, out, &res))
			return res;
	}
	return INSTALL_OK;
}

/*
 * Pieces of one install round (crew.h): planned from the maps by the
 * worker, run by it and the install helpers, accounted by the worker.
 */
struct install_piece {
	uint64_t p, n;
	bool zero, wp;
	uint64_t done; /* pages */
	int err;
};

struct install_round {
	struct ufd *u;
	struct region *r;
	bool wake, zeros_private;
	unsigned n;
	struct install_piece pc[INSTALL_MAX_PIECES];
};

static void run_piece(void *ctx, unsigned i)
{
	struct install_round *rd = ctx;
	struct install_piece *pc = &rd->pc[i];
	enum fill_src what = !pc->zero ? FILL_DATA : rd->zeros_private ? FILL_ZERO_PRIVATE : FILL_ZERO;

	pc->done = fill(rd->u, rd->r, pc->p, pc->n, what, rd->wake, pc->wp, &pc->err) /
		   rd->r->page_size;
}

/*
 * Pages per piece: the range shared among the worker and its helpers, not
 * below a minimum.  Not shared while the worker runs at idle priority
 * (background installs): helpers run at normal priority, and background
 * work must only take CPU nobody else wants.
 */
static uint64_t piece_pages(const struct ufd *u, const struct region *r, uint64_t n)
{
	uint64_t min = INSTALL_MIN_PIECE_BYTES / r->page_size, each;
	unsigned hands = crew_helpers(u->w->crew) + 1;

	if (hands == 1 || u->w->idle_prio)
		return n;
	min = min ? min : 1;
	each = (n + hands - 1) / hands;
	return each < min ? min : each;
}

/* Plans the pieces of the missing pages from p on, up to end; returns where planning stopped. */
static uint64_t plan(struct install_round *rd, uint64_t p, uint64_t end, uint64_t each)
{
	struct region *r = rd->r;
	uint64_t max_run = rd->u->w->zero_len / r->page_size;

	rd->n = 0;
	while (p < end && rd->n < INSTALL_MAX_PIECES) {
		struct install_piece *pc;
		bool zero, wp;
		uint64_t q;

		p = bitmap_next_clear2(r->w.present_map, r->w.gone_map, p, end);
		if (p >= end)
			break;
		zero = page_zero(r, p);
		wp = install_wp(r, p);
		q = run_end(r, p, end, zero, wp,
			    zero && (r->page_size != base_page() || wp || rd->zeros_private) ? max_run
											 : end - p);
		for (; p < q && rd->n < INSTALL_MAX_PIECES; p += pc->n) {
			pc = &rd->pc[rd->n++];
			pc->p = p;
			pc->n = q - p < each ? q - p : each;
			pc->zero = zero;
			pc->wp = wp;
		}
	}
	return p;
}

/*
 * how: INSTALL_WAKE wakes the threads waiting on the pages installed;
 * INSTALL_ZEROS_PRIVATE installs the range's zeros as pages of the
 * region's own (a copy from a zero mapping) instead of mapping the shared
 * zero page.  A write fault's window asks for it, as the kernel's own
 * anonymous fault does: the zero page is read-only, so each write to it
 * costs a copy-on-write fault whose TLB flush reaches every CPU the
 * workload runs on (measured: docs/benchmarks.md "Zero pages and write
 * faults").  Reads and installs no fault asked for map the zero page,
 * which costs no memory.  Not in a clone: its holes stay the zero page
 * (the clones' memory is the point), and every page a clone writes is a
 * copy-on-write fault anyway, its data pages being the shared copy's.
 */
enum install_res install_range(struct ufd *u, struct region *r, uint64_t first, uint64_t n,
			       enum region_path path, uint64_t demand, unsigned how,
			       struct install_out *out)
{
	uint64_t p = first, end = first + n, each;
	bool wake = how & INSTALL_WAKE, share;
	struct install_round rd = { .u = u, .r = r, .wake = wake,
				    .zeros_private = how & INSTALL_ZEROS_PRIVATE };
	enum install_res res = INSTALL_OK;

	memset(out, 0, sizeof(*out));
	if (r->w.clone)
		return install_shared(u, r, first, n, path, demand, wake, out);
	/* a migration destination whose job ended before every page arrived */
	if (r->kind == REGION_STAGED && !r->w.staged) {
		out->err = ENODATA;
		return INSTALL_FAILED;
	}
	/* a file changed under the restore is not served, not even in part */
	if (r->image && image_changed(r->image, false)) {
		out->err = ESTALE;
		return INSTALL_FAILED;
	}
	/* the window's bytes read once, not through the mapping (image.c) */
	if (r->kind == REGION_IMAGE)
		image_window(r->image, r->image_offset + first * r->page_size, n * r->page_size);
	share = n * r->page_size >= INSTALL_SHARE_MIN_BYTES;
	each = share ? piece_pages(u, r, n) : n;
	while (p < end) {
		uint64_t from = p, next = plan(&rd, p, end, each);
		bool stop = false;

		if (!rd.n)
			break;
		if (share) {
			crew_run(u->w->crew, run_piece, &rd, rd.n);
		} else {
			for (unsigned i = 0; i < rd.n; i++)
				run_piece(&rd, i);
		}
		/*
		 * In plan order: every piece's pages are accounted, the first
		 * error ends the range.  A piece that stopped early (a present
		 * page, progress then EAGAIN) is planned again from its stop.
		 */
		for (unsigned i = 0; i < rd.n; i++) {
			struct install_piece *pc = &rd.pc[i];
			uint64_t at = pc->p;
			enum install_res pr = INSTALL_OK;

			if (installed(r, &at, pc->done, pc->err, path, demand, wake, pc->zero, out,
				      &pr) && !stop) {
				stop = true;
				res = pr;
			}
			if (at < pc->p + pc->n && at < next)
				next = at;
		}
		if (stop)
			return res;
		p = next > from ? next : from;
	}
	return INSTALL_OK;
}

/* Range ioctls that take a uffdio_range and a mode, errors classified alike. */
static enum install_res range_ioctl(struct ufd *u, unsigned long req, uint64_t addr, uint64_t len)
{
	union {
		struct uffdio_range range;
		struct uffdio_writeprotect wp;
		struct uffdio_continue cont;
	} arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.range.start = addr;
	arg.range.len = len;
	do
		ret = ioctl(u->fd, req, &arg);
	while (ret && errno == EINTR);
	if (!ret || errno == EEXIST)
		return INSTALL_OK;
	if (errno == EAGAIN)
		return INSTALL_MM_CHANGING;
	if (errno == ESRCH)
		return INSTALL_GONE;
	if (errno == ENOENT)
		return INSTALL_NOENT;
	return INSTALL_FAILED;
}

enum install_res install_wake(struct ufd *u, uint64_t addr, uint64_t len)
{
	return range_ioctl(u, UFFDIO_WAKE, addr, len);
}

/* A write-protect fault is resolved by lifting the protection (mode 0 wakes). */
enum install_res install_unprotect(struct ufd *u, uint64_t addr, uint64_t len)
{
	return range_ioctl(u, UFFDIO_WRITEPROTECT, addr, len);
}

/* A minor fault: the page cache already has the page; map it. */
enum install_res install_continue(struct ufd *u, uint64_t addr, uint64_t len)
{
	return range_ioctl(u, UFFDIO_CONTINUE, addr, len);
}

static bool missing(const struct region *r)
{
	return region_stat(&r->st.present) + region_stat(&r->st.gone) < r->n_pages;
}

/* Is there snapshot, replay, detach or background work for r at now_ns? */
bool install_pending(const struct region *r, uint64_t now_ns)
{
	if (strategy_runnable(r))
		return true;
	if (strategy_owns_missing(r))
		return false; /* its step does the population, the detach too */
	if (r->w.detach)
		return true; /* finishing a detach is work even when nothing is missing */
	if (r->w.failed)
		return false;
	if (r->w.prefetch_pos < r->w.n_prefetch)
		return true;
	return r->w.populate_after_ms >= 0 && now_ns >= r->w.populate_at_ns && missing(r);
}

void install_check_complete(struct ufd *u, struct region *r)
{
	struct fault_done d = { .kind = FAULT_COMPLETE, .r = r };

	if (r->w.complete_sent || missing(r))
		return;
	r->w.complete_sent = true;
	r->w.record = false;
	d.rec = r->w.rec;
	memset(&r->w.rec, 0, sizeof(r->w.rec));
	fault_post(u->w->e, &d);
}

/* Chunk of a background install: small while demand faults are recent. */
static uint64_t chunk_pages(const struct ufd *u, const struct region *r, uint64_t now_ns)
{
	uint64_t pages = u->w->cfg->chunk_pages;
	uint64_t bytes;

	if (now_ns - u->w->last_fault_ns < INSTALL_QUIET_NS && pages > INSTALL_BUSY_CHUNK)
		pages = INSTALL_BUSY_CHUNK;
	bytes = pages * base_page();
	return bytes / r->page_size ? bytes / r->page_size : 1;
}

/* Working-set replay: runs installed without waking, then one wake. */
static enum install_res replay_step(struct ufd *u, struct region *r, uint64_t budget)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	enum install_res res = INSTALL_OK;

	/* the disk reads the next runs while these are installed */
	readahead_replay(r);
	while (budget && r->w.prefetch_pos < r->w.n_prefetch) {
		const struct wset_run *run = &r->w.prefetch[r->w.prefetch_pos];
		struct install_out out;

		res = install_range(u, r, run->page, run->count, RP_PREFETCH, INSTALL_NO_DEMAND, 0,
				    &out);
		if (res != INSTALL_OK && res != INSTALL_NOENT)
			break;
		lo = run->page < lo ? run->page : lo;
		hi = run->page + run->count > hi ? run->page + run->count : hi;
		budget -= run->count < budget ? run->count : budget;
		r->w.prefetch_pos++;
	}
	/* threads may have faulted on pages installed with DONTWAKE */
	if (hi > lo)
		install_wake(u, region_start(r) + lo * r->page_size, (hi - lo) * r->page_size);
	if (res == INSTALL_OK && r->w.prefetch_pos == r->w.n_prefetch) {
		struct fault_done d = { .kind = FAULT_READY, .r = r };

		fault_post(u->w->e, &d);
	}
	return res == INSTALL_NOENT ? INSTALL_OK : res;
}

static void finish_detach(struct ufd *u, struct region *r)
{
	ufd_drop_region(u, r, true, "detached");
}

/*
 * One chunk of whatever the region needs most: replay first (it is what
 * the workload is about to touch), then a detach that someone waits for,
 * then background population.  Returns the result of the installs.
 */
enum install_res install_step(struct ufd *u, struct region *r, uint64_t now_ns)
{
	uint64_t budget = chunk_pages(u, r, now_ns), p;
	struct install_out out;
	enum install_res res;

	/* a snapshot first: its writers wait for it, the rest does not hurry */
	if (strategy_runnable(r)) {
		r->w.strat->step(u, r);
		return INSTALL_OK;
	}
	if (strategy_owns_missing(r))
		return INSTALL_OK;
	if (r->w.failed) {
		/* nothing more can be installed; the detach still has to end */
		ufd_drop_region(u, r, true, "detached without populating: installs failed");
		return INSTALL_OK;
	}
	if (r->w.prefetch_pos < r->w.n_prefetch)
		return replay_step(u, r, budget);

	p = bitmap_next_clear2(r->w.present_map, r->w.gone_map, r->w.bg_cursor, r->n_pages);
	if (p == r->n_pages && r->w.bg_cursor)
		p = bitmap_next_clear2(r->w.present_map, r->w.gone_map, 0, r->n_pages);
	if (p == r->n_pages) {
		/* nothing missing (the counters agree once the bitmaps do) */
		install_check_complete(u, r);
		if (r->w.detach)
			finish_detach(u, r);
		return INSTALL_OK;
	}
	if (budget > r->n_pages - p)
		budget = r->n_pages - p;
	res = install_range(u, r, p, budget, r->w.detach ? RP_DETACH : RP_BACKGROUND,
			    INSTALL_NO_DEMAND, INSTALL_WAKE, &out);
	r->w.bg_cursor = p + budget;
	if (r->w.detach)
		r->w.detach_installed += out.installed;
	if (res == INSTALL_NOENT)
		res = INSTALL_OK; /* an unmap not read yet: its event fixes the map */
	if (res == INSTALL_FAILED)
		install_fail(u, r, out.err, r->w.detach ? "detach install" : "background install");
	install_check_complete(u, r);
	return res;
}

/*
 * An install failed for a reason no retry fixes (EINVAL, EFAULT, a short
 * image...).  The region stops being served: its faulting threads stay
 * blocked rather than see wrong memory, and the loop thread is told so the
 * session fails loudly.
 */
void install_fail(struct ufd *u, struct region *r, int err, const char *what)
{
	struct fault_done d = { .kind = FAULT_ERROR, .r = r };

	if (r->w.failed)
		return;
	r->w.failed = true;
	if (r->image && image_changed(r->image, true)) {
		pr_err(u->w->log, "restore image changed under a running restore, its regions fail",
		       LF_STR("image", r->image->path), LF_STR("change", image_change_why(r->image)));
		snprintf(d.reason, sizeof(d.reason), "image changed under the restore: %.50s",
			 image_change_why(r->image));
	} else
		snprintf(d.reason, sizeof(d.reason), "%s failed: %s", what, strerror(err));
	pr_err(u->w->log, "region no longer served", LF_STR("region", r->id),
	       LF_STR("reason", d.reason));
	fault_post(u->w->e, &d);
}
