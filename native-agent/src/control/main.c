/*
 * faultline-agent: start-up, signals, shutdown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "attach.h"
#include "conn.h"
#include "ctl.h"
#include "fdlim.h"
#include "fdstore.h"
#include "handoff.h"
#include "mig.h"
#include "notify.h"
#include "region.h"
#include "job.h"
#include "keep.h"
#include "restore.h"
#include "snap.h"
#include "snapchain.h"
#include "srv.h"

#define LOG_COMP "agent"
#include "log.h"

/*
 * systemd's readiness protocol (Type=notify).  Also what the tests wait on
 * instead of polling the socket.  Best effort: the agent runs the same
 * without a supervisor.
 */
static void notify_supervisor(struct agent *ag, const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	ssize_t n;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_pwarn(&ag->log, "cannot notify supervisor");
		return;
	}
	do
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		pr_pwarn(&ag->log, "cannot notify supervisor", LF_STR("notify_socket", path));
	close(fd);
}

static void signal_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct agent *ag = h->opaque;
	struct signalfd_siginfo si;
	ssize_t n;

	(void)lp;
	(void)events;
	for (;;) {
		n = read(ag->sig_fd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return; /* EAGAIN: all pending signals consumed */

		switch (si.ssi_signo) {
		case SIGHUP:
			if (!ag->log.path)
				pr_info(&ag->log, "SIGHUP ignored: logging to stderr");
			else if (log_reopen(&ag->log))
				pr_perror(&ag->log, "cannot reopen log file, still writing to the old one",
					  LF_STR("path", ag->log.path));
			else
				pr_info(&ag->log, "log file reopened", LF_STR("path", ag->log.path));
			break;
		case SIGTERM:
		case SIGINT:
			pr_info(&ag->log, "signal received",
				LF_STR("signal", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT"),
				LF_INT("sender_pid", si.ssi_pid), LF_UINT("sender_uid", si.ssi_uid));
			agent_stop(ag, "signal");
			break;
		}
	}
}

/*
 * Signals are consumed through a signalfd in the loop, so no code runs in
 * signal context.  Dispositions are reset first: a signal ignored by the
 * parent (nohup ignores SIGHUP) is discarded at generation and would never
 * reach the signalfd.  Threads created later inherit the blocked mask, which
 * keeps these signals out of them.
 */
static int setup_signals(struct agent *ag)
{
	static const int handled[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		sigaction(handled[i], &sa, NULL);
		sigaddset(&set, handled[i]);
	}
	/* writes to a vanished peer must fail with EPIPE, not kill the agent */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		pr_perror(&ag->log, "sigprocmask failed");
		return -1;
	}
	ag->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ag->sig_fd < 0) {
		pr_perror(&ag->log, "signalfd failed");
		return -1;
	}
	ag->sig_h.fn = signal_ready;
	ag->sig_h.opaque = ag;
	if (loop_add(&ag->loop, ag->sig_fd, EPOLLIN, &ag->sig_h)) {
		pr_perror(&ag->log, "cannot watch signalfd");
		close(ag->sig_fd);
		ag->sig_fd = -1;
		return -1;
	}
	return 0;
}

/* mkdir -p; components it creates get mode, existing ones are left alone. */
static int mkdir_p(struct log *lg, const char *path, mode_t mode)
{
	char *buf = strdup(path);
	int ret = -1;

	if (!buf) {
		pr_perror(lg, "out of memory");
		return -1;
	}
	for (char *p = buf + (buf[0] == '/');; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST) {
			pr_perror(lg, "cannot create directory", LF_STR("path", buf));
			goto free_buf;
		}
		*p = saved;
		if (!saved)
			break;
	}
	ret = 0;
free_buf:
	free(buf);
	return ret;
}

/*
 * The state directory will hold snapshot files: one agent per directory,
 * enforced with a lock held for the agent's lifetime (released by the
 * kernel even if the agent is killed).
 */
static int prepare_state_dir(struct agent *ag)
{
	const char *dir = ag->opts.state_dir;
	char lock_path[4096];
	struct stat st;
	int fd;

	if (mkdir_p(&ag->log, dir, 0700))
		return -1;
	if (stat(dir, &st)) {
		pr_perror(&ag->log, "cannot stat state directory", LF_STR("path", dir));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err(&ag->log, "state directory is not a directory", LF_STR("path", dir));
		return -1;
	}
	if (st.st_mode & 077)
		pr_warn(&ag->log, "state directory is accessible to other users",
			LF_STR("path", dir), LF_STR("mode", (st.st_mode & 070) ? "group" : "other"));

	if ((size_t)snprintf(lock_path, sizeof(lock_path), "%s/agent.lock", dir) >= sizeof(lock_path)) {
		pr_err(&ag->log, "state directory path too long", LF_STR("path", dir));
		return -1;
	}
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		pr_perror(&ag->log, "cannot open state lock", LF_STR("path", lock_path));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			pr_err(&ag->log, "another agent is using this state directory",
			       LF_STR("path", dir));
		else
			pr_perror(&ag->log, "cannot lock state directory", LF_STR("path", lock_path));
		close(fd);
		return -1;
	}
	ag->state_lock_fd = fd;
	return 0;
}

/*
 * Whoever may write a socket's directory may put their own socket under
 * its name: the directory must be ours (or root's) and writable by nobody
 * else, unless it is sticky (/tmp: others cannot remove or rename ours).
 */
static int check_socket_dir(struct agent *ag, const char *dir)
{
	struct stat st;

	if (lstat(dir, &st)) {
		pr_perror(&ag->log, "cannot stat the socket directory", LF_STR("path", dir));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err(&ag->log, "the socket directory is not a directory (or is a symlink)",
		       LF_STR("path", dir));
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		pr_err(&ag->log, "the socket directory belongs to another user, refused",
		       LF_STR("path", dir), LF_UINT("owner", st.st_uid));
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		pr_err(&ag->log, "the socket directory is writable by other users, refused",
		       LF_STR("path", dir));
		return -1;
	}
	return 0;
}

/* Only a socket's own directory is created; 0755 so that uids granted
 * access to the socket (--allow-uid plus an ACL) can reach it. */
static int prepare_socket_dir(struct agent *ag, const char *path)
{
	char *copy = strdup(path);
	int ret = 0;

	if (!copy) {
		pr_perror(&ag->log, "out of memory");
		return -1;
	}
	if (mkdir_p(&ag->log, dirname(copy), 0755) || check_socket_dir(ag, copy))
		ret = -1;
	free(copy);
	return ret;
}

/*
 * No default limit below what the descriptors allow: the soft limit goes
 * up to the hard one, and an unset --max-clients follows from it.  A given
 * one is kept, with a warning when the descriptors cannot back it.
 */
static void set_client_limit(struct agent *ag)
{
	unsigned fits;

	ag->nofile = fdlim_raise(&ag->log);
	fits = ag->nofile ? fdlim_max_clients(ag->nofile) : FDLIM_MIN_CLIENTS;
	if (!ag->opts.max_clients)
		ag->opts.max_clients = fits;
	else if (ag->opts.max_clients > fits)
		pr_warn(&ag->log, "--max-clients exceeds what RLIMIT_NOFILE allows; connections beyond it may fail",
			LF_UINT("max_clients", ag->opts.max_clients), LF_UINT("nofile", ag->nofile),
			LF_UINT("fits", fits));
}

/* The fault engine, the sockets and the persisted restore sessions. */
static int start_services(struct agent *ag)
{
	ag->hub = srv_hub_new();
	if (!ag->hub) {
		pr_perror(&ag->log, "out of memory");
		return -1;
	}
	if (job_init(ag) || attach_start(ag) || notify_init(ag))
		return -1;
	ag->restore_changed = notify_restore;
	ag->open_chain = snapchain_reopen;
	ag->ctl = ctl_start(ag);
	if (!ag->ctl)
		return -1;
	ag->handoff = handoff_start(ag, ag->opts.handoff_socket, NULL);
	if (!ag->handoff)
		return -1;
	if (restore_init(ag))
		return -1;
	snap_recover(ag);
	/* uffds a previous agent kept: served again before anything new arrives */
	keep_open(ag, false);
	keep_recover(ag, attach_kept_firecracker);
	attach_sweep_removed(ag);
	return mig_start(ag);
}

/*
 * Also after a partial start.  The control socket goes first (queued
 * replies drain, the socket disappears), the workers before the sessions,
 * which then save what the workers recorded.  Workloads keep their uffds:
 * their faults wait for the next agent.
 */
static void stop_services(struct agent *ag)
{
	if (ag->ctl)
		srv_stop(ag->ctl);
	/* no subscriber is left to tell */
	ag->restore_changed = NULL;
	notify_fini(ag);
	handoff_stop(ag->handoff);
	mig_stop(ag);
	attach_stop(ag);
	keep_close(ag);
	snap_fini(ag);
	job_fini(ag);
	restore_fini(ag);
	region_table_fini(ag->regions);
	defer_fini(&ag->defer);
	srv_hub_free(ag->hub);
}

int main(int argc, char **argv)
{
	struct region_table regions = { 0 };
	struct agent ag;

	/* the descriptor keeper (core/fdstore.h) is this binary too, started by the agent */
	if (argc == 4 && !strcmp(argv[1], "--fd-keeper"))
		return fdstore_keeper_main(argv[2], atoi(argv[3]));

	memset(&ag, 0, sizeof(ag));
	ag.regions = &regions;
	ag.sig_fd = -1;
	ag.state_lock_fd = -1;
	ag.loop.epfd = -1;
	ag.exit_code = 1;
	ag.handoff_ops = (struct agent_handoff_ops){
		.open_restore = handoff_start,
		.open_migration = handoff_start_migration,
		.close = handoff_stop,
	};
	ag.hold_users[0] = (struct agent_hold_user){ "snapshot", snap_taking };
	ag.hold_users[1] = (struct agent_hold_user){ "migration", mig_source_of };

	switch (opts_parse(&ag.opts, argc, argv, stdout, stderr)) {
	case OPTS_RUN:
		break;
	case OPTS_EXIT_OK:
		return 0;
	case OPTS_EXIT_USAGE:
		return 2;
	}
	ag.pid = getpid();
	ag.start_ms = loop_now_ms();
	uname(&ag.uts);

	if (log_init(&ag.log, ag.opts.log_level, ag.opts.log_file)) {
		fprintf(stderr, AGENT_NAME ": cannot open log file %s: %s\n",
			ag.opts.log_file, strerror(errno));
		goto free_opts;
	}
	pr_info(&ag.log, "starting", LF_STR("version", AGENT_VERSION), LF_INT("pid", ag.pid),
		LF_STR("socket", ag.opts.socket_path), LF_STR("state_dir", ag.opts.state_dir),
		LF_STR("kernel", ag.uts.release));
#ifdef FAULTLINE_FAULT_INJECTION
	pr_warn(&ag.log, "test build with fault injection (FAULTLINE_INJECT), never for production",
		LF_STR("inject", getenv("FAULTLINE_INJECT") ? getenv("FAULTLINE_INJECT") : ""));
#else
	if (getenv("FAULTLINE_INJECT")) {
		/* a test setting meant for build/faultline-agent-inject must not go unnoticed */
		pr_err(&ag.log, "FAULTLINE_INJECT is set but this agent has no fault injection; refusing"
				" to start");
		fprintf(stderr, AGENT_NAME ": FAULTLINE_INJECT is set but this agent has no fault"
				" injection; refusing to start\n");
		goto fini_log;
	}
#endif

	if (loop_init(&ag.loop)) {
		pr_perror(&ag.log, "cannot create event loop");
		goto fini_log;
	}
	if (setup_signals(&ag))
		goto fini_loop;
	if (prepare_state_dir(&ag))
		goto close_signals;
	if (prepare_socket_dir(&ag, ag.opts.socket_path) ||
	    prepare_socket_dir(&ag, ag.opts.handoff_socket))
		goto unlock_state;
	/* the default image directory is the agent's own; given ones are the operator's */
	if (ag.opts.default_image_dir && mkdir_p(&ag.log, ag.opts.image_dirs[0], 0700))
		goto unlock_state;
	if (ag.opts.default_snapshot_dir && mkdir_p(&ag.log, ag.opts.snapshot_dirs[0], 0700))
		goto unlock_state;
	if (asprintf(&ag.removed_dir, "%s/removed", ag.opts.state_dir) < 0) {
		ag.removed_dir = NULL;
		pr_perror(&ag.log, "out of memory");
		goto unlock_state;
	}
	if (asprintf(&ag.snap_restore_dir, "%s/snaprestore", ag.opts.state_dir) < 0) {
		ag.snap_restore_dir = NULL;
		pr_perror(&ag.log, "out of memory");
		goto unlock_state;
	}
	if (mkdir_p(&ag.log, ag.snap_restore_dir, 0700))
		goto unlock_state;

	uffd_probe(&ag.uffd, &ag.log);
	set_client_limit(&ag);

	if (start_services(&ag))
		goto stop_services;
	pr_info(&ag.log, "ready", LF_STR("socket", ag.opts.socket_path),
		LF_STR("handoff_socket", ag.opts.handoff_socket),
		LF_UINT("max_clients", ag.opts.max_clients), LF_UINT("nofile", ag.nofile),
		LF_UINT("workers", ag.opts.workers));
	notify_supervisor(&ag, "READY=1");

	if (loop_run(&ag.loop))
		pr_perror(&ag.log, "event loop failed");
	else
		ag.exit_code = 0;

	notify_supervisor(&ag, "STOPPING=1");
stop_services:
	stop_services(&ag);
unlock_state:
	close(ag.state_lock_fd);
close_signals:
	if (ag.sig_fd >= 0) {
		loop_del(&ag.loop, ag.sig_fd, &ag.sig_h);
		close(ag.sig_fd);
	}
fini_loop:
	loop_fini(&ag.loop);
	pr_info(&ag.log, "exiting", LF_INT("status", ag.exit_code));
fini_log:
	log_fini(&ag.log);
free_opts:
	free(ag.snap_restore_dir);
	free(ag.removed_dir);
	opts_fini(&ag.opts);
	return ag.exit_code;
}
