/*
 * Command line parsing, without starting an agent.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "test.h"

/* Parses a NULL-terminated argument list; what went to stderr lands in err. */
static enum opts_action parse(struct opts *o, const char *const *args, char *err, size_t err_len)
{
	char *argv[48];
	int argc = 0;
	FILE *out = fopen("/dev/null", "w");
	FILE *errf = fmemopen(err, err_len, "w");
	enum opts_action a;

	argv[argc++] = "faultline-agent";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	a = opts_parse(o, argc, argv, out, errf);
	fclose(out);
	fclose(errf);
	return a;
}

int t_opts_defaults(const struct t_env *env)
{
	static const char *const args[] = { NULL };
	struct opts o;
	char err[512] = "";

	(void)env;
	setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
	setenv("XDG_STATE_HOME", "/home/u/.state", 1);
	CHECK(parse(&o, args, err, sizeof(err)) == OPTS_RUN);
	if (geteuid() == 0) {
		CHECK(!strcmp(o.socket_path, "/run/faultline/agent.sock"));
		CHECK(!strcmp(o.state_dir, "/var/lib/faultline"));
	} else {
		CHECK(!strcmp(o.socket_path, "/run/user/1234/faultline/agent.sock"));
		CHECK(!strcmp(o.state_dir, "/home/u/.state/faultline"));
	}
	CHECK(o.log_file == NULL && o.log_level == LOG_LVL_INFO);
	CHECK(o.max_clients == 0 && o.stall_timeout_ms == 30000);
	CHECK(o.allow_uids[0] == 0);
	CHECK(o.n_allow_uids == (geteuid() == 0 ? 1u : 2u));
	CHECK(o.n_handoff_uids == o.n_allow_uids && o.handoff_uids[0] == 0);
	CHECK(o.handoff_socket && !strcmp(o.handoff_socket + strlen(o.state_dir), "/handoff.sock"));
	CHECK(o.n_image_dirs == 1 && o.default_image_dir);
	CHECK(!strcmp(o.image_dirs[0] + strlen(o.state_dir), "/images"));
	CHECK(o.workers == (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	CHECK(o.spin_us == 50 && o.populate_chunk_pages == 512);
	CHECK(o.fd_store == FDSTORE_KEEPER);
	/* the page channel: TLS with the job's secret, a 5 s handshake */
	CHECK(!o.page_channel_plaintext && !o.page_channel_cert && o.page_channel_handshake_ms == 5000);
	opts_fini(&o);
	return T_PASS;
}

int t_opts_allow_uid(const struct t_env *env)
{
	static const char *const args[] = {
		"--allow-uid", "1000", "--allow-uid=65534", "--allow-uid", "1000",
		"--socket", "/tmp/x.sock", "--state-dir", "/tmp/st", "--log-level", "warn",
		"--max-clients", "3", "--stall-timeout-ms", "250", "--handoff-allow-uid", "1001",
		"--handoff-socket", "/tmp/h.sock", "--allow-image-dir", "/srv/a",
		"--allow-image-dir=/srv/b", "--workers", "3", "--spin-us", "0",
		"--populate-chunk-pages", "64", "--page-channel-cert", "/etc/fl/c.pem",
		"--page-channel-key", "/etc/fl/k.pem", "--page-channel-ca", "/etc/fl/ca.pem",
		"--page-channel-handshake-timeout-ms", "1500", NULL,
	};
	struct opts o;
	char err[512] = "";
	bool has_1000 = false, has_65534 = false;
	unsigned expect = geteuid() == 0 ? 3 : 4;

	(void)env;
	CHECKF(parse(&o, args, err, sizeof(err)) == OPTS_RUN, "%s", err);
	CHECK(!strcmp(o.page_channel_cert, "/etc/fl/c.pem") && !strcmp(o.page_channel_key, "/etc/fl/k.pem") &&
	      !strcmp(o.page_channel_ca, "/etc/fl/ca.pem") && o.page_channel_handshake_ms == 1500);
	for (unsigned i = 0; i < o.n_allow_uids; i++) {
		has_1000 |= o.allow_uids[i] == 1000;
		has_65534 |= o.allow_uids[i] == 65534;
	}
	CHECK(has_1000 && has_65534);
	CHECKF(o.n_allow_uids == expect, "duplicates must collapse: %u uids", o.n_allow_uids);
	CHECK(!strcmp(o.socket_path, "/tmp/x.sock") && !strcmp(o.state_dir, "/tmp/st"));
	CHECK(o.log_level == LOG_LVL_WARN && o.max_clients == 3 && o.stall_timeout_ms == 250);
	/* the two uid lists are independent */
	CHECK(o.n_handoff_uids == (geteuid() == 0 ? 2u : 3u));
	CHECK(o.handoff_uids[o.n_handoff_uids - 1] == 1001);
	CHECK(!strcmp(o.handoff_socket, "/tmp/h.sock"));
	CHECK(o.n_image_dirs == 2 && !o.default_image_dir);
	CHECK(!strcmp(o.image_dirs[0], "/srv/a") && !strcmp(o.image_dirs[1], "/srv/b"));
	CHECK(o.workers == 3 && o.spin_us == 0 && o.populate_chunk_pages == 64);
	opts_fini(&o);
	return T_PASS;
}

int t_opts_rejects(const struct t_env *env)
{
	static const struct {
		const char *args[6];
		const char *message;
	} bad[] = {
		{ { "--bogus" }, "unknown option '--bogus'" },
		{ { "-x" }, "unknown option '-x'" },
		{ { "--socket" }, "--socket requires an argument" },
		{ { "--socket", "" }, "--socket: empty path" },
		{ { "--socket", "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		  "longer than" },
		{ { "--log-level", "loud" }, "not one of debug, info, warn, error" },
		{ { "--allow-uid", "abc" }, "not a numeric uid" },
		{ { "--allow-uid", "-1" }, "not a numeric uid" },
		{ { "--allow-uid", "4294967295" }, "not a numeric uid" },
		{ { "--allow-uid", "12x" }, "not a numeric uid" },
		{ { "--max-clients", "0" }, "--max-clients" },
		{ { "--max-clients", "99999999999999999999" }, "--max-clients" },
		{ { "--stall-timeout-ms", "" }, "--stall-timeout-ms" },
		{ { "--socket", "/tmp/a", "extra" }, "unexpected argument 'extra'" },
		{ { "--handoff-socket", "" }, "--handoff-socket: empty path" },
		{ { "--handoff-allow-uid", "x" }, "--handoff-allow-uid: 'x' is not a numeric uid" },
		{ { "--allow-image-dir", "rel/dir" }, "not an absolute path" },
		{ { "--workers", "0" }, "--workers: '0' is not a number in 1..256" },
		{ { "--fd-store", "disk" }, "--fd-store: 'disk' is not keeper, systemd or off" },
		{ { "--spin-us", "10001" }, "--spin-us" },
		{ { "--populate-chunk-pages", "0" }, "--populate-chunk-pages" },
		{ { "--page-channel-cert", "/c.pem" }, "go together" },
		{ { "--page-channel-key", "/k.pem", "--page-channel-ca", "/ca.pem" }, "go together" },
		{ { "--page-channel-ca", "" }, "--page-channel-ca: empty path" },
		{ { "--page-channel-handshake-timeout-ms", "99" }, "100..600000" },
		{ { "--page-channel-handshake-timeout-ms", "x" }, "--page-channel-handshake" },
	};

	(void)env;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct opts o;
		char err[512] = "";

		CHECKF(parse(&o, bad[i].args, err, sizeof(err)) == OPTS_EXIT_USAGE, "case %zu", i);
		CHECKF(strstr(err, bad[i].message) && strstr(err, "--help"),
		       "case %zu: stderr was: %s", i, err);
	}
	return T_PASS;
}
