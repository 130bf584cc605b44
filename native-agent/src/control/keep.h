/*
 * uffds kept across agent restarts.  Firecracker hands its uffd over once,
 * on its handshake; if the agent died with the only other copy, the guest
 * would hang for good.  So before such a uffd is served, the agent writes
 * what it needs to serve it again into <state-dir>/kept/<name>.json
 * (fsynced) and puts a duplicate into the descriptor store (fdstore.h).
 * A restarted agent takes every kept uffd back, checks it against its
 * record and its workload, and serves it again under the same region ids.
 */
#ifndef FAULTLINE_KEEP_H
#define FAULTLINE_KEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hsk.h"

struct agent;
struct region;
struct restore;

#define KEEP_MAX_REGIONS HSK_FC_MAX_REGIONS

/* What a kept uffd's record holds. */
struct keep_record {
	char name[64];
	char session[64];
	pid_t pid;
	uint64_t pid_start; /* the workload's start time (clock ticks after boot) */
	unsigned n;
	struct {
		char id[40];
		struct hsk_fc_region m;
	} regions[KEEP_MAX_REGIONS];
};

/* Rebuilds and serves the regions of a record; takes fd. */
typedef int (*keep_serve_fn)(struct agent *ag, const struct keep_record *rec, struct restore *s,
			     int fd);

/*
 * Connects to the store; with spawn, starts its keeper when none runs (at
 * the first uffd to keep).  Without a store, uffds are not kept.
 */
int keep_open(struct agent *ag, bool spawn);
void keep_close(struct agent *ag);
/*
 * Records regs (all on fd, of workload pid, from session s) and stores a
 * duplicate of fd.  -1: nothing was kept (the caller serves them anyway,
 * but an agent restart would lose them; it is logged).
 */
int keep_firecracker(struct agent *ag, struct restore *s, pid_t pid, int fd,
		     struct region *const *regs, unsigned n);
/* r ended: once none of its uffd's regions is served, the kept copy goes. */
void keep_release(struct agent *ag, struct region *r);
/* At start: every kept uffd back to serve, or dropped with a reason logged. */
void keep_recover(struct agent *ag, keep_serve_fn serve);

#endif /* FAULTLINE_KEEP_H */
