/*
 * Command line of faultline-agent.  Parsing is separate from the daemon so
 * that the tests can check every rejection without starting one.
 */
#ifndef FAULTLINE_OPTS_H
#define FAULTLINE_OPTS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "fdstore.h"
#include "log.h"

#define OPTS_MAX_UIDS 64
#define OPTS_MAX_IMAGE_DIRS 16

/* a count derived from the host when not given */
#define OPTS_DERIVED UINT_MAX

/* --page-channel-max-push's largest value and default: PCHAN_MAX_PUSH (mig_listen.c checks) */
#define OPTS_MAX_PUSH 7

struct opts {
	char *socket_path;
	char *state_dir;
	char *log_file; /* NULL: stderr */
	enum log_level log_level;
	uid_t allow_uids[OPTS_MAX_UIDS]; /* always holds root and the agent's euid */
	unsigned n_allow_uids;
	unsigned max_clients; /* 0: not given, main() derives it (fdlim.h) */
	unsigned stall_timeout_ms;
	/* handoff sockets (PROTOCOL.md §2) */
	char *handoff_socket;
	uid_t handoff_uids[OPTS_MAX_UIDS]; /* always holds root and the agent's euid */
	unsigned n_handoff_uids;
	char *image_dirs[OPTS_MAX_IMAGE_DIRS];
	unsigned n_image_dirs;
	bool default_image_dir; /* image_dirs[0] is <state-dir>/images, created at start */
	/* snapshots (PROTOCOL.md §1.10) */
	char *snapshot_dirs[OPTS_MAX_IMAGE_DIRS];
	unsigned n_snapshot_dirs;
	bool default_snapshot_dir; /* snapshot_dirs[0] is <state-dir>/snapshots, created at start */
	uint64_t snapshot_buffer_bytes;
	unsigned snapshot_compress; /* zstd level, 0: no compression */
	unsigned track_granule;
	/* fault engine */
	unsigned workers;
	unsigned spin_us;
	unsigned populate_chunk_pages;
	/* page channel (PROTOCOL.md §3) */
	char *page_channel_listen; /* NULL: no listener */
	enum fdstore_kind fd_store; /* where uffds that outlive the agent go (fdstore.h) */
	char *page_channel_cert, *page_channel_key, *page_channel_ca; /* all or none: certificates */
	bool page_channel_plaintext;         /* no TLS (both agents must say so) */
	unsigned page_channel_handshake_ms;  /* whole handshake, TCP accept to auth_ok */
	unsigned page_channel_max_push;      /* push connections a migration to us may add */
	unsigned install_helpers; /* fault engine: threads sharing installs (OPTS_DERIVED: from CPUs) */
};

enum opts_action {
	OPTS_RUN,
	OPTS_EXIT_OK,    /* --help / --version printed */
	OPTS_EXIT_USAGE, /* error printed; exit status 2 */
};

enum opts_action opts_parse(struct opts *o, int argc, char **argv, FILE *out, FILE *err);
void opts_fini(struct opts *o);

#endif /* FAULTLINE_OPTS_H */
