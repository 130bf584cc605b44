/*
 * Write tracking of one region through its two uffds: which pages may have
 * changed since a chosen instant, and the write protection that tells.
 *
 * A write-protect-managed region comes from libfaultline with two uffds
 * (PROTOCOL.md §2.1): the *track* uffd (UFFD_FEATURE_WP_ASYNC: the kernel
 * resolves a write to a protected page itself and only clears the page's
 * uffd-wp bit) on which the range is registered first, and the *hold* uffd
 * (synchronous: a write to a protected page waits for the agent).  A VMA
 * belongs to one uffd at a time; where the range is now is its residence.
 *
 * What this module relies on, measured on Linux 6.18 (docs/snapshots.md):
 *  - PAGEMAP_SCAN on /proc/<pid>/pagemap reports PAGE_IS_WRITTEN for a page
 *    without uffd-wp (a never protected hole included), on either uffd; with
 *    PM_SCAN_WP_MATCHING on the track uffd it re-protects what it reports,
 *    atomically (4 GiB of clean 4 KiB pages: 1.7 ms);
 *  - UFFDIO_UNREGISTER clears the uffd-wp bit of every page of the range
 *    and does not wake write faults waiting on that uffd;
 *  - protection lives in the page tables: UFFDIO_WRITEPROTECT acts on the
 *    range whichever of the workload's uffds it is issued on; the uffd the
 *    range is registered on only decides where faults go and whether they
 *    wait (its WP_ASYNC);
 *  - without CONFIG_MEM_SOFT_DIRTY (this host's kernel), clear_refs 4 is
 *    accepted and does nothing and PAGE_IS_SOFT_DIRTY is never reported.
 * Hence a move between the uffds forgets which pages were written (the
 * brief's soft-dirty backstop cannot see writes made during the move on
 * such kernels): track_move() ends the tracking interval, and a caller
 * that needs an exact dirty set across it either keeps the range on the
 * hold uffd, where a first write per `granule` pages costs one fault that
 * the agent resolves by lifting the granule and marking it dirty (live
 * captures), or stops the workload's threads around the last scan and the
 * move (freeze.h; a migration's switchover).
 *
 * Threads: a struct track belongs to the thread that serves its region
 * (the region's fault worker); the ioctls themselves may run anywhere.
 * Errors: 0 / -1 with errno kept, logged by the caller (this module has
 * no logger: a migration's page channel and the tests use it as it is).
 */
#ifndef FAULTLINE_TRACK_H
#define FAULTLINE_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum track_where {
	TRACK_ON_TRACK, /* registered on the track uffd (asynchronous protection) */
	TRACK_ON_HOLD,  /* registered on the hold uffd (writers wait) */
};

struct track {
	pid_t pid;
	int pagemap_fd;       /* /proc/<pid>/pagemap, owned */
	int mem_fd;           /* /proc/<pid>/mem, owned: see track_read() */
	int track_fd, hold_fd; /* not owned */
	uint64_t start;       /* moves with the region (mremap): callers update it */
	uint64_t n_pages;
	uint32_t page_size;
	uint64_t reg_mode;    /* UFFDIO_REGISTER_MODE_* used on either uffd */
	enum track_where where;
	uint64_t granule;     /* pages lifted per write fault while tracking on hold */
	uint64_t *dirty;      /* may differ from the content at `since` */
	bool continuous;      /* dirty is exact since `since` (no move in between) */
	uint64_t since_ns;    /* start of the interval `dirty` covers */
};

/* One run of pages a scan found, with the PAGE_IS_* categories asked for. */
typedef int (*track_run_fn)(void *arg, uint64_t first, uint64_t n, uint64_t categories);

int track_init(struct track *t, pid_t pid, int track_fd, int hold_fd, uint64_t start,
	       uint64_t n_pages, uint32_t page_size, uint64_t reg_mode, uint64_t granule);
void track_fini(struct track *t);
int track_fd(const struct track *t);
int track_move(struct track *t, enum track_where to);
int track_move_steps(struct track *t, enum track_where to, uint64_t step);
int track_reset(struct track *t);
int track_protect(const struct track *t, uint64_t first, uint64_t n);
int track_unprotect(const struct track *t, uint64_t first, uint64_t n);
int track_wake(const struct track *t, int fd, uint64_t first, uint64_t n);
int track_read(const struct track *t, uint64_t first, uint64_t n, void *dst, uint64_t *absent);
int track_scan(const struct track *t, uint64_t first, uint64_t n, uint64_t anyof,
	       uint64_t required, uint64_t ret_mask, uint64_t flags, track_run_fn fn, void *arg);
int track_written(struct track *t, uint64_t first, uint64_t n, uint64_t *map, bool rearm);
void track_lift_range(const struct track *t, uint64_t page, uint64_t *first, uint64_t *n);
int track_lift(struct track *t, uint64_t page, uint64_t *first, uint64_t *n);
void track_restart(struct track *t, uint64_t now_ns);
int track_soft_dirty_works(void);

#endif /* FAULTLINE_TRACK_H */
