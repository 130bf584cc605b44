/*
 * Write tracking through the track and hold uffds; see track.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bitmap.h"
#include "track.h"
#include "uffd_compat.h"

/* page_region entries per PAGEMAP_SCAN call; the walk resumes where it stopped */
#define TRACK_SCAN_VEC 512

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret < 0 && errno == EINTR);
	return ret;
}

int track_init(struct track *t, pid_t pid, int track_fd, int hold_fd, uint64_t start,
	       uint64_t n_pages, uint32_t page_size, uint64_t reg_mode, uint64_t granule)
{
	char path[64];

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->track_fd = track_fd;
	t->hold_fd = hold_fd;
	t->start = start;
	t->n_pages = n_pages;
	t->page_size = page_size;
	t->reg_mode = reg_mode;
	t->granule = granule ? granule : 1;
	t->where = TRACK_ON_TRACK;
	t->pagemap_fd = t->mem_fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->pagemap_fd < 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->mem_fd < 0)
		goto fail;
	t->dirty = bitmap_new(n_pages);
	if (!t->dirty) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	track_fini(t);
	return -1;
}

void track_fini(struct track *t)
{
	int err = errno;

	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	t->pagemap_fd = t->mem_fd = -1;
	errno = err;
	free(t->dirty);
	t->dirty = NULL;
}

int track_fd(const struct track *t)
{
	return t->where == TRACK_ON_HOLD ? t->hold_fd : t->track_fd;
}

static struct uffdio_range range_of(const struct track *t, uint64_t first, uint64_t n)
{
	return (struct uffdio_range){ .start = t->start + first * t->page_size,
				      .len = n * t->page_size };
}

/* Write faults waiting on fd are woken to fault again, wherever the range is now. */
int track_wake(const struct track *t, int fd, uint64_t first, uint64_t n)
{
	struct uffdio_range r = range_of(t, first, n);

	return xioctl(fd, UFFDIO_WAKE, &r);
}

/*
 * The range leaves its uffd for the other one.  Unregistering clears every
 * uffd-wp bit and wakes only missing faults, so write faults still waiting
 * on the old uffd are woken here: they fault again on the new one.  The
 * dirty set stops being exact (see track.h): callers that need it exact
 * across a move treat every page as dirty.
 */
/*
 * track_move() a step of `step` pages at a time: UFFDIO_UNREGISTER holds the
 * mm's mmap lock for writing while it walks every page table entry of its
 * range (tens of ms per GiB), and whoever reads the memory meanwhile
 * (/proc/<pid>/mem, a demand request of a migration) waits; between steps
 * they get through.  Only for a workload that cannot run meanwhile (stopped,
 * freeze.h): between steps the range is partly on each uffd.  On failure
 * what was moved goes back, as track_move() does.
 */
int track_move_steps(struct track *t, enum track_where to, uint64_t step)
{
	struct uffdio_register reg = { .mode = t->reg_mode };
	struct uffdio_range r;
	int from = track_fd(t), dest = to == TRACK_ON_HOLD ? t->hold_fd : t->track_fd, err;
	uint64_t done = 0;

	if (to == t->where)
		return 0;
	if (!step || step >= t->n_pages)
		return track_move(t, to);
	while (done < t->n_pages) {
		uint64_t k = t->n_pages - done < step ? t->n_pages - done : step;

		r = range_of(t, done, k);
		if (xioctl(from, UFFDIO_UNREGISTER, &r))
			goto fail;
		reg.range = r;
		if (xioctl(dest, UFFDIO_REGISTER, &reg)) {
			err = errno;
			reg.range = r;
			xioctl(from, UFFDIO_REGISTER, &reg);
			errno = err;
			goto fail;
		}
		done += k;
	}
	t->where = to;
	t->continuous = false;
	track_wake(t, from, 0, t->n_pages);
	return 0;
fail:
	err = errno;
	/* back where it was, unprotected: never leave the range unwatched */
	if (done) {
		r = range_of(t, 0, done);
		xioctl(dest, UFFDIO_UNREGISTER, &r);
		reg.range = r;
		xioctl(from, UFFDIO_REGISTER, &reg);
	}
	track_wake(t, from, 0, t->n_pages);
	errno = err;
	return -1;
}

int track_move(struct track *t, enum track_where to)
{
	struct uffdio_range r = range_of(t, 0, t->n_pages);
	struct uffdio_register reg = { .range = r, .mode = t->reg_mode };
	int from = track_fd(t), dest = to == TRACK_ON_HOLD ? t->hold_fd : t->track_fd, err;

	if (to == t->where)
		return 0;
	if (xioctl(from, UFFDIO_UNREGISTER, &r))
		return -1;
	if (xioctl(dest, UFFDIO_REGISTER, &reg)) {
		err = errno;
		/* back where it was, unprotected: never leave the range unwatched */
		reg.range = r;
		xioctl(from, UFFDIO_REGISTER, &reg);
		track_wake(t, from, 0, t->n_pages);
		errno = err;
		return -1;
	}
	t->where = to;
	t->continuous = false;
	track_wake(t, from, 0, t->n_pages);
	return 0;
}

/*
 * Back to a known state after an agent restart or before the agent stops:
 * the range registered on the track uffd, nothing protected, nobody
 * waiting.  The previous agent may have left it on either uffd (or, killed
 * between the two ioctls of a move, on neither); unregistering from the
 * uffd that does not own it is refused harmlessly (EBUSY).
 */
int track_reset(struct track *t)
{
	struct uffdio_range r = range_of(t, 0, t->n_pages);
	struct uffdio_register reg = { .range = r, .mode = t->reg_mode };
	struct uffdio_writeprotect wp = { .range = r, .mode = 0 };
	int ret = 0;

	if (t->hold_fd >= 0) {
		xioctl(t->hold_fd, UFFDIO_UNREGISTER, &r);
		track_wake(t, t->hold_fd, 0, t->n_pages);
	}
	/* the same uffd with the same modes is accepted again (a no-op) */
	if (xioctl(t->track_fd, UFFDIO_REGISTER, &reg))
		ret = -1;
	else if ((t->reg_mode & UFFDIO_REGISTER_MODE_WP) && xioctl(t->track_fd, UFFDIO_WRITEPROTECT, &wp))
		ret = -1;
	t->where = TRACK_ON_TRACK;
	t->continuous = false;
	return ret;
}

/* Write-protects pages on the current uffd, populated or not (WP_UNPOPULATED). */
int track_protect(const struct track *t, uint64_t first, uint64_t n)
{
	struct uffdio_writeprotect wp = { .range = range_of(t, first, n),
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

	return n ? xioctl(track_fd(t), UFFDIO_WRITEPROTECT, &wp) : 0;
}

/* Lifts the protection and wakes the writers waiting in the range. */
int track_unprotect(const struct track *t, uint64_t first, uint64_t n)
{
	struct uffdio_writeprotect wp = { .range = range_of(t, first, n), .mode = 0 };

	return n ? xioctl(track_fd(t), UFFDIO_WRITEPROTECT, &wp) : 0;
}

/*
 * PAGEMAP_SCAN over pages [first, first + n): fn is called for every run of
 * pages whose categories match (`anyof`: at least one of these; `required`:
 * all of these), in address order.  flags: PM_SCAN_* (PM_SCAN_WP_MATCHING
 * re-protects what matches; the track uffd only).  A run that would overflow
 * the result vector resumes at walk_end.
 */
int track_scan(const struct track *t, uint64_t first, uint64_t n, uint64_t anyof,
	       uint64_t required, uint64_t ret_mask, uint64_t flags, track_run_fn fn, void *arg)
{
	struct page_region vec[TRACK_SCAN_VEC];
	uint64_t end = t->start + (first + n) * t->page_size;
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = flags,
		.start = t->start + first * t->page_size,
		.end = end,
		.vec = (uintptr_t)vec,
		.vec_len = TRACK_SCAN_VEC,
		.category_mask = required,
		.category_anyof_mask = anyof,
		.return_mask = ret_mask | required | anyof,
	};

	while (a.start < end) {
		long got = xioctl(t->pagemap_fd, PAGEMAP_SCAN, &a);

		if (got < 0)
			return -1;
		for (long i = 0; i < got; i++) {
			uint64_t lo = vec[i].start < t->start ? t->start : vec[i].start;
			uint64_t hi = vec[i].end > end ? end : vec[i].end;

			if (hi <= lo)
				continue;
			if (fn(arg, (lo - t->start) / t->page_size, (hi - lo) / t->page_size,
			       vec[i].categories))
				return -1;
		}
		if (a.walk_end <= a.start)
			break;
		a.start = a.walk_end;
	}
	return 0;
}

/*
 * Copies pages [first, first + n) of the workload into dst.  It never waits
 * for a fault to be resolved: it reads through /proc/<pid>/mem, whose page
 * lookups may not wait for a userfault (the kernel fails them instead),
 * whereas process_vm_readv waits - and the fault it waits for is one only
 * the calling worker could resolve.  A page PAGEMAP_SCAN saw present can be
 * zapped before it is read (a MADV_DONTNEED whose REMOVE event was read
 * earlier zaps after the event is read, at a moment of its own), and a
 * uffd-wp marker is no page: both read as zeros, which is what they hold,
 * and are counted in *absent.  0, or -1 with errno (ESRCH: the workload's
 * memory is gone).
 */
int track_read(const struct track *t, uint64_t first, uint64_t n, void *dst, uint64_t *absent)
{
	uint8_t *out = dst;
	uint64_t done = 0, len = n * t->page_size;

	*absent = 0;
	while (done < len) {
		off_t at = (off_t)(t->start + first * t->page_size + done);
		ssize_t got = pread(t->mem_fd, out + done, len - done, at);

		if (got > 0) {
			done += (uint64_t)got;
			continue;
		}
		if (got == 0) {
			errno = ESRCH; /* no mm any more */
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EIO && errno != EFAULT)
			return -1;
		/* the page at `done` has nothing to read: zeros */
		memset(out + done, 0, t->page_size - done % t->page_size);
		done += t->page_size - done % t->page_size;
		(*absent)++;
	}
	return 0;
}

static int add_run(void *arg, uint64_t first, uint64_t n, uint64_t categories)
{
	(void)categories;
	bitmap_set(arg, first, n);
	return 0;
}

/*
 * Pages of [first, first + n) without write protection - written since
 * they were protected, or never protected - added to map.  On the track
 * uffd `rearm` protects them again in the same walk, so that a write
 * racing with the scan is either reported now or by the next scan.
 */
int track_written(struct track *t, uint64_t first, uint64_t n, uint64_t *map, bool rearm)
{
	uint64_t flags = 0;

	if (rearm && t->where == TRACK_ON_TRACK)
		flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	return track_scan(t, first, n, 0, PAGE_IS_WRITTEN, 0, flags, add_run, map);
}

/* The granule holding page: what one tracking fault lifts. */
void track_lift_range(const struct track *t, uint64_t page, uint64_t *first, uint64_t *n)
{
	*first = page - page % t->granule;
	*n = t->n_pages - *first < t->granule ? t->n_pages - *first : t->granule;
}

/*
 * A write fault while tracking on the hold uffd: the page's granule becomes
 * dirty and writable, and its writers go on.  Returns the granule lifted.
 */
int track_lift(struct track *t, uint64_t page, uint64_t *first, uint64_t *n)
{
	track_lift_range(t, page, first, n);
	bitmap_set(t->dirty, *first, *n);
	return track_unprotect(t, *first, *n);
}

/* A new interval starts now: nothing is dirty yet and nothing was missed. */
void track_restart(struct track *t, uint64_t now_ns)
{
	memset(t->dirty, 0, BITMAP_WORDS(t->n_pages) * sizeof(uint64_t));
	t->continuous = true;
	t->since_ns = now_ns;
}

/*
 * Whether the kernel tracks soft-dirty bits (CONFIG_MEM_SOFT_DIRTY), tried
 * on a page of our own: clear_refs 4, write, PAGEMAP_SCAN for
 * PAGE_IS_SOFT_DIRTY.  1 yes, 0 no, -1 could not tell.  Not used to carry
 * dirty sets across moves (see track.h); reported so that an operator sees
 * why the agent tracks the way it does.
 */
int track_soft_dirty_works(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	struct page_region pr;
	volatile char *p;
	int pm, cr, ret = -1;
	struct pm_scan_arg a = { .size = sizeof(a) };

	p = mmap(NULL, (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	p[0] = 1;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (pm < 0 || cr < 0 || write(cr, "4", 1) != 1)
		goto close_fds;
	p[0] = 2;
	a.start = (uintptr_t)p;
	a.end = (uintptr_t)p + (uint64_t)psz;
	a.vec = (uintptr_t)&pr;
	a.vec_len = 1;
	a.category_mask = PAGE_IS_SOFT_DIRTY;
	a.return_mask = PAGE_IS_SOFT_DIRTY;
	ret = xioctl(pm, PAGEMAP_SCAN, &a);
	if (ret >= 0)
		ret = ret > 0;
close_fds:
	if (pm >= 0)
		close(pm);
	if (cr >= 0)
		close(cr);
	munmap((void *)p, (size_t)psz);
	return ret;
}
