/*
 * Command line parsing.  Every rejection names the option and the reason and
 * maps to exit status 2, so that wrappers (systemd, the control plane that
 * starts the bundled agent) can tell a configuration error from a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "opts.h"
#include "netaddr.h"
#include "proto.h"

#define DEFAULT_STALL_TIMEOUT_MS 30000
#define DEFAULT_SPIN_US 50
#define DEFAULT_POPULATE_CHUNK_PAGES 512
#define MAX_WORKERS 256
#define MAX_DEFAULT_INSTALL_HELPERS 8
#define DEFAULT_SNAPSHOT_BUFFER (UINT64_C(64) << 20)
#define DEFAULT_TRACK_GRANULE 16
#define DEFAULT_HANDSHAKE_MS 5000

enum {
	OPT_SOCKET = 0x100,
	OPT_STATE_DIR,
	OPT_LOG_LEVEL,
	OPT_LOG_FILE,
	OPT_ALLOW_UID,
	OPT_MAX_CLIENTS,
	OPT_STALL_TIMEOUT,
	OPT_HANDOFF_SOCKET,
	OPT_HANDOFF_ALLOW_UID,
	OPT_ALLOW_IMAGE_DIR,
	OPT_WORKERS,
	OPT_SPIN_US,
	OPT_POPULATE_CHUNK,
	OPT_PAGE_CHANNEL_LISTEN,
	OPT_ALLOW_SNAPSHOT_DIR,
	OPT_SNAPSHOT_BUFFER,
	OPT_SNAPSHOT_COMPRESS,
	OPT_TRACK_GRANULE,
	OPT_FD_STORE,
	OPT_PAGE_CHANNEL_CERT,
	OPT_PAGE_CHANNEL_KEY,
	OPT_PAGE_CHANNEL_CA,
	OPT_PAGE_CHANNEL_PLAINTEXT,
	OPT_PAGE_CHANNEL_HANDSHAKE,
	OPT_PAGE_CHANNEL_MAX_PUSH,
	OPT_INSTALL_HELPERS,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "stall-timeout-ms", required_argument, NULL, OPT_STALL_TIMEOUT },
	{ "handoff-socket", required_argument, NULL, OPT_HANDOFF_SOCKET },
	{ "handoff-allow-uid", required_argument, NULL, OPT_HANDOFF_ALLOW_UID },
	{ "allow-image-dir", required_argument, NULL, OPT_ALLOW_IMAGE_DIR },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "install-helpers", required_argument, NULL, OPT_INSTALL_HELPERS },
	{ "spin-us", required_argument, NULL, OPT_SPIN_US },
	{ "populate-chunk-pages", required_argument, NULL, OPT_POPULATE_CHUNK },
	{ "page-channel-listen", required_argument, NULL, OPT_PAGE_CHANNEL_LISTEN },
	{ "allow-snapshot-dir", required_argument, NULL, OPT_ALLOW_SNAPSHOT_DIR },
	{ "snapshot-buffer-bytes", required_argument, NULL, OPT_SNAPSHOT_BUFFER },
	{ "snapshot-compress", optional_argument, NULL, OPT_SNAPSHOT_COMPRESS },
	{ "track-granule-pages", required_argument, NULL, OPT_TRACK_GRANULE },
	{ "fd-store", required_argument, NULL, OPT_FD_STORE },
	{ "page-channel-cert", required_argument, NULL, OPT_PAGE_CHANNEL_CERT },
	{ "page-channel-key", required_argument, NULL, OPT_PAGE_CHANNEL_KEY },
	{ "page-channel-ca", required_argument, NULL, OPT_PAGE_CHANNEL_CA },
	{ "page-channel-plaintext", no_argument, NULL, OPT_PAGE_CHANNEL_PLAINTEXT },
	{ "page-channel-handshake-timeout-ms", required_argument, NULL, OPT_PAGE_CHANNEL_HANDSHAKE },
	{ "page-channel-max-push", required_argument, NULL, OPT_PAGE_CHANNEL_MAX_PUSH },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " AGENT_NAME " [OPTION]...\n"
		"Faultline native agent: userfaultfd handling behind a local control socket.\n"
		"\n"
		"  --socket PATH            control socket (default: /run/faultline/agent.sock as root,\n"
		"                           $XDG_RUNTIME_DIR/faultline/agent.sock otherwise)\n"
		"  --state-dir DIR          agent state, created 0700 if missing (default:\n"
		"                           /var/lib/faultline as root, $XDG_STATE_HOME/faultline\n"
		"                           or ~/.local/state/faultline otherwise)\n"
		"  --log-level LEVEL        debug, info, warn or error (default: info)\n"
		"  --log-file PATH          append logs here instead of stderr; SIGHUP reopens it\n"
		"  --allow-uid UID          also accept control clients with this uid (repeatable;\n"
		"                           root and the agent's own uid are always accepted)\n"
		"  --max-clients N          concurrent connections per socket (default: what\n"
		"                           RLIMIT_NOFILE allows, after raising it to its hard limit)\n"
		"  --stall-timeout-ms MS    drop a client whose replies stay unread this long\n"
		"                           (default: %d)\n"
		"\n"
		"  --handoff-socket PATH    general handoff socket, mode 0666 (default:\n"
		"                           <state-dir>/handoff.sock)\n"
		"  --handoff-allow-uid UID  also accept workloads with this uid on handoff sockets\n"
		"                           (repeatable; root and the agent's uid always are)\n"
		"  --allow-image-dir DIR    restore images must lie inside DIR after resolving\n"
		"                           symlinks (repeatable; default: <state-dir>/images)\n"
		"  --workers N              fault worker threads (default: online CPUs)\n"
		"  --install-helpers N      threads that share the workers' page installs, so a\n"
		"                           region's restore scales with CPUs; 0: none (default:\n"
		"                           online CPUs - 1, at most %d)\n"
		"  --spin-us US             longest a worker polls for the next fault before it\n"
		"                           sleeps; adapts below it, 0 never spins (default: %d)\n"
		"  --populate-chunk-pages N largest install of the background populator between\n"
		"                           two looks at pending faults (default: %d)\n"
		"  --page-channel-listen HOST:PORT\n"
		"                           accept migrations' page channels here (TCP; port 0\n"
		"                           picks one, see migration_in); default: none\n"
		"  --page-channel-cert FILE, --page-channel-key FILE, --page-channel-ca FILE\n"
		"                           authenticate page channels with these X.509 files (PEM;\n"
		"                           all three, both directions) instead of the job's secret\n"
		"                           as TLS 1.3 pre-shared key (the default)\n"
		"  --page-channel-plaintext no TLS on page channels: pages travel in clear, for\n"
		"                           measurements on a trusted link only (both agents)\n"
		"  --page-channel-handshake-timeout-ms MS\n"
		"                           a page channel connection must be through TLS and\n"
		"                           authentication within MS of its accept (default: %d)\n"
		"  --page-channel-max-push N  a migration to this agent may push its pages on at\n"
		"                           most N connections beside its main one (0-7; default: 7)\n"
		"\n"
		"  --allow-snapshot-dir DIR snapshot images are written and read only inside DIR\n"
		"                           after resolving symlinks (repeatable; default:\n"
		"                           <state-dir>/snapshots)\n"
		"  --snapshot-buffer-bytes N  pages copied but not yet written, at most this many\n"
		"                           bytes per snapshot (suffix K, M, G; default: 64M)\n"
		"  --snapshot-compress[=LEVEL]  compress snapshot chunks with zstd (level 1-19,\n"
		"                           default 1 when given; default: off)\n"
		"  --track-granule-pages N  4 KiB pages a tracked region's first write after a\n"
		"                           snapshot lifts at once (1-512; default: %d; a huge page\n"
		"                           region lifts one huge page at least)\n"
		"  --fd-store KIND          where uffds that must outlive the agent are kept: keeper\n"
		"                           (a keeper process, default), systemd (the unit's\n"
		"                           FileDescriptorStoreMax=), off\n"
		"  -V, --version            print version and protocol version, then exit\n"
		"  -h, --help               print this help, then exit\n"
		"\n"
		"Exit status: 0 on clean shutdown, 1 on failure, 2 on bad usage.\n",
		DEFAULT_STALL_TIMEOUT_MS, MAX_DEFAULT_INSTALL_HELPERS, DEFAULT_SPIN_US,
		DEFAULT_POPULATE_CHUNK_PAGES, DEFAULT_HANDSHAKE_MS, DEFAULT_TRACK_GRANULE);
}

static int parse_unsigned(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end || *v > max)
		return -1;
	return 0;
}

static int add_uid(uid_t *uids, unsigned *n, uid_t uid)
{
	for (unsigned i = 0; i < *n; i++) {
		if (uids[i] == uid)
			return 0;
	}
	if (*n == OPTS_MAX_UIDS)
		return -1;
	uids[(*n)++] = uid;
	return 0;
}

/* (uid_t)-1 means "no change" to set*id(2); never a real user */
static int parse_uid(const char *opt, const char *arg, uid_t *uids, unsigned *n, FILE *err)
{
	unsigned long long v;

	if (parse_unsigned(arg, (uid_t)-2, &v)) {
		fprintf(err, AGENT_NAME ": %s: '%s' is not a numeric uid\n", opt, arg);
		return -1;
	}
	if (add_uid(uids, n, (uid_t)v)) {
		fprintf(err, AGENT_NAME ": %s: at most %d uids\n", opt, OPTS_MAX_UIDS);
		return -1;
	}
	return 0;
}

static int parse_range(const char *opt, const char *arg, unsigned long long lo,
		       unsigned long long hi, unsigned *out, FILE *err)
{
	unsigned long long v;

	if (parse_unsigned(arg, hi, &v) || v < lo) {
		fprintf(err, AGENT_NAME ": %s: '%s' is not a number in %llu..%llu\n", opt, arg, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

static int set_defaults(struct opts *o, FILE *err)
{
	const char *env;

	if (!o->socket_path) {
		env = getenv("XDG_RUNTIME_DIR");
		if (geteuid() == 0)
			o->socket_path = strdup("/run/faultline/agent.sock");
		else if (env && *env == '/')
			o->socket_path = join(env, "/faultline/agent.sock");
		else {
			fprintf(err, AGENT_NAME ": --socket is required (not root and XDG_RUNTIME_DIR unset)\n");
			return -1;
		}
	}
	if (!o->state_dir) {
		if (geteuid() == 0)
			o->state_dir = strdup("/var/lib/faultline");
		else if ((env = getenv("XDG_STATE_HOME")) && *env == '/')
			o->state_dir = join(env, "/faultline");
		else if ((env = getenv("HOME")) && *env == '/')
			o->state_dir = join(env, "/.local/state/faultline");
		else {
			fprintf(err, AGENT_NAME ": --state-dir is required (not root and HOME unset)\n");
			return -1;
		}
	}
	if (!o->socket_path || !o->state_dir) {
		fprintf(err, AGENT_NAME ": out of memory\n");
		return -1;
	}
	if (!o->handoff_socket) {
		o->handoff_socket = join(o->state_dir, "/handoff.sock");
		if (!o->handoff_socket) {
			fprintf(err, AGENT_NAME ": out of memory\n");
			return -1;
		}
		if (strlen(o->handoff_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			fprintf(err, AGENT_NAME ": --state-dir too long for the default handoff socket;"
				     " pass --handoff-socket\n");
			return -1;
		}
	}
	if (!o->n_image_dirs) {
		o->image_dirs[0] = join(o->state_dir, "/images");
		if (!o->image_dirs[0]) {
			fprintf(err, AGENT_NAME ": out of memory\n");
			return -1;
		}
		o->n_image_dirs = 1;
		o->default_image_dir = true;
	}
	if (!o->n_snapshot_dirs) {
		o->snapshot_dirs[0] = join(o->state_dir, "/snapshots");
		if (!o->snapshot_dirs[0]) {
			fprintf(err, AGENT_NAME ": out of memory\n");
			return -1;
		}
		o->n_snapshot_dirs = 1;
		o->default_snapshot_dir = true;
	}
	if (!o->workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o->workers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
	}
	if (o->install_helpers == OPTS_DERIVED) {
		long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;

		o->install_helpers = n < 1 ? 0 : n > MAX_DEFAULT_INSTALL_HELPERS
						 ? MAX_DEFAULT_INSTALL_HELPERS : (unsigned)n;
	}
	return 0;
}

/* 64M, 512K, 1G or plain bytes */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int add_dir(const char *opt, const char *arg, char **dirs, unsigned *n, FILE *err)
{
	if (*arg != '/') {
		fprintf(err, AGENT_NAME ": %s: '%s' is not an absolute path\n", opt, arg);
		return -1;
	}
	if (*n == OPTS_MAX_IMAGE_DIRS) {
		fprintf(err, AGENT_NAME ": %s: at most %d directories\n", opt, OPTS_MAX_IMAGE_DIRS);
		return -1;
	}
	dirs[*n] = strdup(arg);
	if (!dirs[*n]) {
		fprintf(err, AGENT_NAME ": out of memory\n");
		return -1;
	}
	(*n)++;
	return 0;
}

static int check_socket_path(const char *opt, const char *arg, FILE *err)
{
	if (!*arg) {
		fprintf(err, AGENT_NAME ": %s: empty path\n", opt);
		return -1;
	}
	if (strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(err, AGENT_NAME ": %s: path longer than %zu bytes\n", opt,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	return 0;
}

static int replace(char **dst, const char *val)
{
	free(*dst);
	*dst = strdup(val);
	return *dst ? 0 : -1;
}

enum opts_action opts_parse(struct opts *o, int argc, char **argv, FILE *out, FILE *err)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = LOG_LVL_INFO;
	o->max_clients = 0; /* derived from RLIMIT_NOFILE at start (fdlim.h) */
	o->stall_timeout_ms = DEFAULT_STALL_TIMEOUT_MS;
	o->page_channel_handshake_ms = DEFAULT_HANDSHAKE_MS;
	o->page_channel_max_push = OPTS_MAX_PUSH;
	o->spin_us = DEFAULT_SPIN_US;
	o->install_helpers = OPTS_DERIVED;
	o->populate_chunk_pages = DEFAULT_POPULATE_CHUNK_PAGES;
	o->snapshot_buffer_bytes = DEFAULT_SNAPSHOT_BUFFER;
	o->track_granule = DEFAULT_TRACK_GRANULE;
	o->fd_store = FDSTORE_KEEPER;
	add_uid(o->allow_uids, &o->n_allow_uids, 0);
	add_uid(o->allow_uids, &o->n_allow_uids, geteuid());
	add_uid(o->handoff_uids, &o->n_handoff_uids, 0);
	add_uid(o->handoff_uids, &o->n_handoff_uids, geteuid());

	opterr = 0;
	optind = 0; /* glibc: full reinitialisation, so tests can parse repeatedly */
	while ((c = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			if (check_socket_path("--socket", optarg, err))
				goto usage_error;
			if (replace(&o->socket_path, optarg))
				goto nomem;
			break;
		case OPT_HANDOFF_SOCKET:
			if (check_socket_path("--handoff-socket", optarg, err))
				goto usage_error;
			if (replace(&o->handoff_socket, optarg))
				goto nomem;
			break;
		case OPT_HANDOFF_ALLOW_UID:
			if (parse_uid("--handoff-allow-uid", optarg, o->handoff_uids,
				      &o->n_handoff_uids, err))
				goto usage_error;
			break;
		case OPT_ALLOW_IMAGE_DIR:
			if (*optarg != '/') {
				fprintf(err, AGENT_NAME ": --allow-image-dir: '%s' is not an absolute path\n",
					optarg);
				goto usage_error;
			}
			if (o->n_image_dirs == OPTS_MAX_IMAGE_DIRS) {
				fprintf(err, AGENT_NAME ": --allow-image-dir: at most %d directories\n",
					OPTS_MAX_IMAGE_DIRS);
				goto usage_error;
			}
			o->image_dirs[o->n_image_dirs] = strdup(optarg);
			if (!o->image_dirs[o->n_image_dirs])
				goto nomem;
			o->n_image_dirs++;
			break;
		case OPT_ALLOW_SNAPSHOT_DIR:
			if (add_dir("--allow-snapshot-dir", optarg, o->snapshot_dirs, &o->n_snapshot_dirs,
				    err))
				goto usage_error;
			break;
		case OPT_SNAPSHOT_BUFFER:
			if (parse_size(optarg, &o->snapshot_buffer_bytes) ||
			    o->snapshot_buffer_bytes < (UINT64_C(1) << 20) ||
			    o->snapshot_buffer_bytes > (UINT64_C(1) << 40)) {
				fprintf(err, AGENT_NAME ": --snapshot-buffer-bytes: '%s' is not a size from"
					     " 1M to 1T\n", optarg);
				goto usage_error;
			}
			break;
		case OPT_SNAPSHOT_COMPRESS:
			o->snapshot_compress = 1;
			if (optarg && parse_range("--snapshot-compress", optarg, 1, 19,
						  &o->snapshot_compress, err))
				goto usage_error;
			break;
		case OPT_FD_STORE:
			if (!strcmp(optarg, "keeper"))
				o->fd_store = FDSTORE_KEEPER;
			else if (!strcmp(optarg, "systemd"))
				o->fd_store = FDSTORE_SYSTEMD;
			else if (!strcmp(optarg, "off"))
				o->fd_store = FDSTORE_OFF;
			else {
				fprintf(err, AGENT_NAME ": --fd-store: '%s' is not keeper, systemd or off\n",
					optarg);
				goto usage_error;
			}
			break;
		case OPT_TRACK_GRANULE:
			if (parse_range("--track-granule-pages", optarg, 1, 512, &o->track_granule, err))
				goto usage_error;
			break;
		case OPT_WORKERS:
			if (parse_range("--workers", optarg, 1, MAX_WORKERS, &o->workers, err))
				goto usage_error;
			break;
		case OPT_INSTALL_HELPERS:
			if (parse_range("--install-helpers", optarg, 0, MAX_WORKERS, &o->install_helpers,
					err))
				goto usage_error;
			break;
		case OPT_SPIN_US:
			if (parse_range("--spin-us", optarg, 0, 10000, &o->spin_us, err))
				goto usage_error;
			break;
		case OPT_POPULATE_CHUNK:
			if (parse_range("--populate-chunk-pages", optarg, 1, 65536,
					&o->populate_chunk_pages, err))
				goto usage_error;
			break;
		case OPT_PAGE_CHANNEL_LISTEN: {
			char host[256];
			uint16_t port;

			if (netaddr_parse(optarg, host, sizeof(host), &port)) {
				fprintf(err, AGENT_NAME ": --page-channel-listen: '%s' is not HOST:PORT\n",
					optarg);
				goto usage_error;
			}
			if (replace(&o->page_channel_listen, optarg))
				goto nomem;
			break;
		}
		case OPT_PAGE_CHANNEL_CERT:
		case OPT_PAGE_CHANNEL_KEY:
		case OPT_PAGE_CHANNEL_CA: {
			char **dst = c == OPT_PAGE_CHANNEL_CERT ? &o->page_channel_cert
				     : c == OPT_PAGE_CHANNEL_KEY ? &o->page_channel_key
								 : &o->page_channel_ca;

			if (!*optarg) {
				fprintf(err, AGENT_NAME ": --page-channel-%s: empty path\n",
					c == OPT_PAGE_CHANNEL_CERT ? "cert" : c == OPT_PAGE_CHANNEL_KEY ? "key"
													: "ca");
				goto usage_error;
			}
			if (replace(dst, optarg))
				goto nomem;
			break;
		}
		case OPT_PAGE_CHANNEL_PLAINTEXT:
			o->page_channel_plaintext = true;
			break;
		case OPT_PAGE_CHANNEL_HANDSHAKE:
			if (parse_range("--page-channel-handshake-timeout-ms", optarg, 100, 600000,
					&o->page_channel_handshake_ms, err))
				goto usage_error;
			break;
		case OPT_PAGE_CHANNEL_MAX_PUSH:
			if (parse_range("--page-channel-max-push", optarg, 0, OPTS_MAX_PUSH,
					&o->page_channel_max_push, err))
				goto usage_error;
			break;
		case OPT_STATE_DIR:
			if (!*optarg) {
				fprintf(err, AGENT_NAME ": --state-dir: empty path\n");
				goto usage_error;
			}
			if (replace(&o->state_dir, optarg))
				goto nomem;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &o->log_level)) {
				fprintf(err, AGENT_NAME ": --log-level: '%s' is not one of debug, info, warn, error\n",
					optarg);
				goto usage_error;
			}
			break;
		case OPT_LOG_FILE:
			if (!*optarg) {
				fprintf(err, AGENT_NAME ": --log-file: empty path\n");
				goto usage_error;
			}
			if (replace(&o->log_file, optarg))
				goto nomem;
			break;
		case OPT_ALLOW_UID:
			if (parse_uid("--allow-uid", optarg, o->allow_uids, &o->n_allow_uids, err))
				goto usage_error;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_range("--max-clients", optarg, 1, 65536, &o->max_clients, err))
				goto usage_error;
			break;
		case OPT_STALL_TIMEOUT:
			if (parse_range("--stall-timeout-ms", optarg, 1, 86400000,
					&o->stall_timeout_ms, err))
				goto usage_error;
			break;
		case 'V':
			fprintf(out, AGENT_NAME " " AGENT_VERSION "\ncontrol protocol %d\n", PROTO_VERSION);
			opts_fini(o);
			return OPTS_EXIT_OK;
		case 'h':
			usage(out);
			opts_fini(o);
			return OPTS_EXIT_OK;
		case ':':
			fprintf(err, AGENT_NAME ": %s requires an argument\n", argv[optind - 1]);
			goto usage_error;
		default:
			if (optopt)
				fprintf(err, AGENT_NAME ": unknown option '-%c'\n", optopt);
			else
				fprintf(err, AGENT_NAME ": unknown option '%s'\n", argv[optind - 1]);
			goto usage_error;
		}
	}
	if (optind < argc) {
		fprintf(err, AGENT_NAME ": unexpected argument '%s'\n", argv[optind]);
		goto usage_error;
	}
	if (!!o->page_channel_cert != !!o->page_channel_key ||
	    !!o->page_channel_cert != !!o->page_channel_ca) {
		fprintf(err, AGENT_NAME ": --page-channel-cert, --page-channel-key and "
			     "--page-channel-ca go together\n");
		goto usage_error;
	}
	if (o->page_channel_plaintext && o->page_channel_cert) {
		fprintf(err, AGENT_NAME ": --page-channel-plaintext and certificates exclude each other\n");
		goto usage_error;
	}
	if (set_defaults(o, err))
		goto usage_error;
	return OPTS_RUN;

nomem:
	fprintf(err, AGENT_NAME ": out of memory\n");
usage_error:
	fprintf(err, "Try '" AGENT_NAME " --help' for more information.\n");
	opts_fini(o);
	return OPTS_EXIT_USAGE;
}

void opts_fini(struct opts *o)
{
	free(o->socket_path);
	free(o->state_dir);
	free(o->log_file);
	free(o->handoff_socket);
	free(o->page_channel_listen);
	free(o->page_channel_cert);
	free(o->page_channel_key);
	free(o->page_channel_ca);
	o->page_channel_listen = o->page_channel_cert = o->page_channel_key = o->page_channel_ca = NULL;
	o->socket_path = o->state_dir = o->log_file = o->handoff_socket = NULL;
	for (unsigned i = 0; i < o->n_image_dirs; i++)
		free(o->image_dirs[i]);
	o->n_image_dirs = 0;
	for (unsigned i = 0; i < o->n_snapshot_dirs; i++)
		free(o->snapshot_dirs[i]);
	o->n_snapshot_dirs = 0;
}
