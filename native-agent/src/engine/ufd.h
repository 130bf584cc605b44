/*
 * A userfaultfd handed over by a workload, as its worker serves it: the
 * regions registered on it, reading its messages in batches, applying its
 * events (remove, unmap, remap, fork) to the region map and the page
 * bitmaps, and resolving its page faults.  Worker thread only.
 *
 * Faults are queued in `todo` as they are read and resolved in order; a
 * resolution that meets a changing mm (EAGAIN) stops there and the queue
 * is retried after the events that caused it have been read and applied,
 * whatever order the kernel delivered faults and events in.  A missing
 * fault whose page a strategy does not have yet (a migration destination)
 * is parked instead: it leaves the queue, the faults behind it go on, and
 * ufd_unpark() queues it again when the strategy says pages arrived.
 */
#ifndef FAULTLINE_UFD_H
#define FAULTLINE_UFD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fault.h"
#include "worker.h"

struct region;

struct ufd_fault {
	struct uffd_msg msg;
	uint64_t read_ns; /* when read() returned it: start of its latency */
};

struct track;

struct ufd {
	struct ufd *next;
	struct worker *w;
	int fd;      /* where the range is registered now: every ioctl goes here */
	int own_fd;  /* the uffd handed over (owned); the track uffd of a region with two */
	int hold_fd; /* the hold uffd of a write-protect-managed region, or -1 (owned) */
	int pidfd;   /* -1: owner unknown (forked child) */
	pid_t pid;
	struct fault_tag tag, hold_tag, pid_tag, strat_tag;
	struct region **regs;
	unsigned n_regs, cap_regs;
	struct ufd_fault *todo;
	size_t n_todo, cap_todo;
	bool mm_changing; /* todo waits for the mm to settle */
	bool waits_space; /* todo waits for a snapshot writer to drain its buffer */
	bool dead;        /* no regions left or owner gone: the worker frees it */
	/* appended: faults waiting for a strategy's page (INSTALL_PARK), in read order */
	struct ufd_fault *parked;
	size_t n_parked, cap_parked;
};

struct ufd *ufd_new(struct worker *w, int fd, int pidfd, pid_t pid);
void ufd_free(struct ufd *u);
int ufd_add_region(struct ufd *u, struct region *r);
void ufd_drop_region(struct ufd *u, struct region *r, bool unregister, const char *reason);
void ufd_gone(struct ufd *u, const char *reason);
int ufd_read(struct ufd *u);
int ufd_read_fd(struct ufd *u, int fd);
int ufd_resolve(struct ufd *u);
int ufd_unpark(struct ufd *u);
int ufd_after_move(struct ufd *u, struct region *r);

#endif /* FAULTLINE_UFD_H */
