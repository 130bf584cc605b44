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
#include "region.h"
#include "uffd.h"

#define AGENT_NAME "faultline-agent"
#define AGENT_VERSION "0.1.0"

struct srv_hub;
struct srv;
struct fault_engine;
struct restore;
struct mig_reg;
struct jobs;
struct take;

struct agent {
	struct opts opts;
	struct log log;
	struct loop loop;
	struct uffd_probe uffd;
	struct utsname uts;
	struct srv_hub *hub; /* every listening socket, to find connections by conn_ref */
	struct srv *ctl;
	struct srv *handoff; /* general handoff socket */
	struct defer defer;
	struct region_table regions;
	struct restore *restores;
	struct mig_reg *mig; /* migration jobs and the page channel listener */
	struct take *takes;   /* snapshots being taken (snap.c) */
	struct jobs *jobs;    /* verifications, consolidations (job.c) */
	char *snap_restore_dir; /* <state-dir>/snaprestore: flat images of restored chains */
	struct fault_engine *engine;
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

#endif /* FAULTLINE_AGENT_H */
