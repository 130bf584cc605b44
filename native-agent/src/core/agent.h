/*
 * The agent: one struct agent owns every long-lived resource and is passed
 * explicitly to each module; there is no other global state (signals arrive
 * through a signalfd, so not even a handler flag is needed).
 */
#ifndef FAULTLINE_AGENT_H
#define FAULTLINE_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include "defer.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "uffd.h"

#define AGENT_NAME "faultline-agent"
#define AGENT_VERSION "0.1.0"

struct agent;
struct srv_hub;
struct srv;
struct fault_engine;
struct restore;
struct share;
struct mig_reg;
struct jobs;
struct take;
struct mig;
struct region_table;
struct fdstore;
struct notify;

/*
 * Handoff sockets are served by control/ (a workload's messages there go to
 * every subsystem); restore sessions and migrations open theirs through
 * these, which main() sets before anything else runs.
 */
struct agent_handoff_ops {
	struct srv *(*open_restore)(struct agent *ag, const char *path, struct restore *session);
	struct srv *(*open_migration)(struct agent *ag, const char *path, struct mig *m);
	void (*close)(struct srv *srv);
};

/*
 * Snapshots and migrations both drive a region's hold uffd, so never at
 * once.  Each tells whether it drives a region (and as which job); main()
 * lists them here, so neither subsystem has to know the other.
 */
struct agent_hold_user {
	const char *what; /* "snapshot", "migration" */
	bool (*drives)(struct agent *ag, const char *region_id, char *job_id, size_t len);
};

#define AGENT_HOLD_USERS 2

struct image;

struct agent {
	struct opts opts;
	struct log log;
	struct loop loop;
	struct uffd_probe uffd;
	struct utsname uts;
	uint64_t nofile; /* RLIMIT_NOFILE in force after start (fdlim.h), 0 unknown */
	struct srv_hub *hub; /* every listening socket, to find connections by conn_ref */
	struct srv *ctl;
	struct srv *handoff; /* general handoff socket */
	struct agent_handoff_ops handoff_ops;
	struct agent_hold_user hold_users[AGENT_HOLD_USERS];
	struct defer defer;
	struct region_table *regions; /* every region served, by id (engine/region.h) */
	struct notify *notify;        /* change events for control clients (control/notify.h) */
	/* set by main(): restore/ reports a session's state change to control/ through it */
	void (*restore_changed)(struct agent *ag, const char *restore_id, bool gone);
	struct restore *restores;
	/* set by main(): restore/ reopens a session's snapshot chain through it (snapshot/snapchain.h) */
	int (*open_chain)(char *const *chain, unsigned n_chain, struct image **out, char *why,
			  size_t why_len);
	struct share *shares; /* shared copies of images for clone restores (restore/share.h) */
	struct mig_reg *mig; /* migration jobs and the page channel listener */
	struct take *takes;   /* snapshots being taken (snap.c) */
	struct jobs *jobs;    /* verifications, consolidations (job.c) */
	char *snap_restore_dir; /* <state-dir>/snaprestore: flat images left by older agents */
	char *removed_dir;      /* <state-dir>/removed: removed pages of image regions */
	struct fault_engine *engine;
	struct fdstore *fdstore; /* keeps uffds across restarts (control/keep.h), or NULL */
	struct loop_handler engine_h;
	struct loop_handler sig_h;
	int sig_fd;
	int state_lock_fd;
	pid_t pid;
	uint64_t start_ms;
	int exit_code;
	bool stopping;
};

void agent_stop(struct agent *ag, const char *reason);
uint64_t agent_uptime_ms(const struct agent *ag);
/* Another subsystem than `self` driving region_id's hold uffd (its job id in job_id), or NULL. */
const char *agent_hold_driver(struct agent *ag, const char *region_id, const char *self,
			      char *job_id, size_t len);

#endif /* FAULTLINE_AGENT_H */
