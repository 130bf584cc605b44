/*
 * A fault worker thread (see fault.h for the design).  The engine creates
 * them; ufd.c and install.c use the per-worker context while serving.
 */
#ifndef FAULTLINE_WORKER_H
#define FAULTLINE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"

struct log;
struct region;

struct crew;
struct ufd;
struct region_strategy;

enum fault_tag_kind { TAG_CMD, TAG_UFD, TAG_HOLD, TAG_PIDFD, TAG_STRATEGY };

struct fault_tag {
	enum fault_tag_kind kind;
	struct ufd *u;
};

struct worker_msg;

struct worker {
	struct fault_engine *e;
	struct log *log;
	const struct fault_cfg *cfg;
	unsigned idx;
	pthread_t thread;
	bool running;
	int ep;
	int cmd_fd;
	struct fault_tag cmd_tag;
	pthread_mutex_t mu; /* guards the command queue */
	struct worker_msg *cmds, *cmds_tail;
	struct ufd *ufds;
	_Atomic unsigned n_ufds; /* read by fault_attach() to balance */
	bool stop;
	uint64_t spin_ns;       /* current adaptive spin budget */
	uint64_t last_fault_ns; /* demand fault seen last (chunk sizing) */
	bool idle_prio;         /* running at SCHED_IDLE right now */
	bool can_idle;          /* SCHED_IDLE can be left again */
	unsigned retry_spins;   /* consecutive retries of an mm-changing install */
	const uint8_t *zero;    /* read-only zero source for huge page copies */
	size_t zero_len;
	struct uffd_msg msgs[FAULT_BATCH];
	struct crew *crew;      /* install helpers of the engine (crew.h), shared by its workers */
};

enum worker_cmd { WC_ATTACH, WC_DETACH, WC_RELEASE, WC_STOP, WC_STRATEGY };

int worker_init(struct worker *w, struct fault_engine *e, struct log *lg,
		const struct fault_cfg *cfg, unsigned idx, bool can_idle, const void *zero,
		size_t zero_len);
void worker_fini(struct worker *w);
void *worker_main(void *arg);
int worker_send(struct worker *w, enum worker_cmd kind, struct ufd *u, struct region *r,
		bool populate);
void worker_add_ufd(struct worker *w, struct ufd *u);
int worker_send_strategy(struct worker *w, struct region *r, const struct region_strategy *s,
			 void *ctx);

#endif /* FAULTLINE_WORKER_H */
