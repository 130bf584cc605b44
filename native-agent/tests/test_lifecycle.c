/*
 * Agent lifecycle: options, socket ownership, signals, peer credentials.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#define NOBODY 65534

int t_life_options(const struct t_env *env)
{
	static const struct {
		const char *args[4];
		int status;
		const char *out, *err;
	} runs[] = {
		{ { "--version" }, 0, "faultline-agent 0.1.0\ncontrol protocol 1\n", "" },
		{ { "-V" }, 0, "faultline-agent 0.1.0\n", "" },
		{ { "--help" }, 0, "--allow-uid UID", "" },
		{ { "--bogus" }, 2, "", "unknown option '--bogus'" },
		{ { "--log-level", "loud" }, 2, "", "--log-level" },
		{ { "--socket" }, 2, "", "requires an argument" },
		{ { "--max-clients", "-3" }, 2, "", "--max-clients" },
		{ { "--log-file", "/nonexistent/dir/agent.log", "--socket", "/nonexistent/s" }, 1, "",
		  "cannot open log file" },
	};

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		const char *argv[8] = { env->agent_path };
		char out[4096], err[4096];
		int status, n = 1;

		for (int k = 0; k < 4 && runs[i].args[k]; k++)
			argv[n++] = runs[i].args[k];
		argv[n] = NULL;
		CHECK_OK(h_run_capture(argv, out, sizeof(out), err, sizeof(err), &status));
		CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == runs[i].status,
		       "%s: status %d, stderr: %s", runs[i].args[0], status, err);
		CHECKF(strstr(out, runs[i].out), "%s: stdout: %s", runs[i].args[0], out);
		CHECKF(strstr(err, runs[i].err), "%s: stderr: %s", runs[i].args[0], err);
	}
	return T_PASS;
}

int t_life_socket_mode(const struct t_env *env)
{
	struct h_agent a;
	struct stat st;

	(void)env;
	/* 0600 must not depend on the umask the agent inherits */
	umask(0);
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK_OK(lstat(a.sock, &st));
	CHECK(S_ISSOCK(st.st_mode));
	CHECKF((st.st_mode & 07777) == 0600, "mode %o", st.st_mode & 07777);
	CHECK(st.st_uid == geteuid());
	return T_PASS;
}

int t_life_state_dir(const struct t_env *env)
{
	char dir[64], dir2[64], sock[128], sock2[128], state[128], path[160];
	const char *const args[] = { "--state-dir", state, NULL };
	static const char *const parts[] = { "/deep", "/deep/er", "/deep/er/state" };
	struct h_agent a, b;
	struct stat st;

	(void)env;
	umask(0);
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(state, sizeof(state), "%s/deep/er/state", dir);
	CHECK_OK(h_agent_spawn(&a, dir, sock, args));
	CHECK_OK(h_agent_wait_ready(&a, H_TIMEOUT_MS));
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, parts[i]);
		CHECK_OK(stat(path, &st));
		CHECKF(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700, "%s: mode %o", path,
		       st.st_mode & 07777);
	}
	snprintf(path, sizeof(path), "%s/agent.lock", state);
	CHECK_OK(stat(path, &st));

	/* one agent per state directory, even on another socket */
	CHECK_OK(h_tmpdir(dir2, sizeof(dir2)));
	snprintf(sock2, sizeof(sock2), "%s/agent.sock", dir2);
	CHECK_OK(h_agent_spawn(&b, dir2, sock2, args));
	CHECK_OK(h_agent_wait_exit(&b, H_TIMEOUT_MS));
	CHECKF(h_agent_exit_code(&b) == 1, "exit %d", h_agent_exit_code(&b));
	CHECK(h_file_contains(b.log, "another agent is using this state directory"));
	CHECK(lstat(sock2, &st) == -1 && errno == ENOENT);
	return T_PASS;
}

int t_life_sigterm(const struct t_env *env)
{
	struct h_agent a;
	struct stat st;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	CHECK_OK(kill(a.pid, SIGTERM));
	CHECK_OK(h_expect_closed(fd, H_TIMEOUT_MS));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	CHECKF(h_agent_exit_code(&a) == 0, "exit %d", h_agent_exit_code(&a));
	CHECK(lstat(a.sock, &st) == -1 && errno == ENOENT);
	CHECK(h_file_contains(a.log, "signal=SIGTERM"));
	CHECK(h_file_contains(a.log, "msg=exiting status=0"));
	close(fd);
	return T_PASS;
}

int t_life_shutdown(const struct t_env *env)
{
	struct h_agent a;
	struct stat st;
	json_t *r;
	int c1, c2;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((c1 = h_connect(a.sock)) >= 0);
	CHECK((c2 = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(c1));
	CHECK_OK(h_hello(c2));
	r = h_request(c1, PROTO_T_SHUTDOWN, 9, "{}");
	CHECK(r && json_object_size(r) == 0);
	json_decref(r);
	CHECK_OK(h_expect_closed(c1, H_TIMEOUT_MS));
	CHECK_OK(h_expect_closed(c2, H_TIMEOUT_MS));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	CHECKF(h_agent_exit_code(&a) == 0, "exit %d", h_agent_exit_code(&a));
	CHECK(lstat(a.sock, &st) == -1 && errno == ENOENT);
	CHECK(h_file_contains(a.log, "shutdown requested"));
	close(c1);
	close(c2);
	return T_PASS;
}

int t_life_sighup(const struct t_env *env)
{
	char rotated[160];
	struct h_agent a;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	snprintf(rotated, sizeof(rotated), "%s.1", a.log);
	CHECK_OK(rename(a.log, rotated));
	CHECK_OK(kill(a.pid, SIGHUP));
	CHECK_OK(h_wait_log(a.log, "log file reopened", H_TIMEOUT_MS));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	CHECK_OK(h_wait_log(a.log, "client hello", H_TIMEOUT_MS));
	/* everything after the reopen goes to the new file only */
	CHECK(h_file_contains(rotated, "msg=ready"));
	CHECK(!h_file_contains(rotated, "log file reopened"));
	CHECK(!h_file_contains(rotated, "client hello"));
	close(fd);
	return T_PASS;
}

/*
 * Connects as uid 65534 from a child.  The socket file is opened up first:
 * this simulates an operator granting file access, so that what is tested
 * is the agent's own SO_PEERCRED check and not the file mode.
 * Returns the child's exit status: 0 if it got what it expected.
 */
static int connect_as_nobody(struct h_agent *a, bool expect_served)
{
	int status;
	pid_t pid;

	if (chmod(a->dir, 0711) || chmod(a->sock, 0666))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd, ok;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(10);
		fd = h_connect(a->sock);
		if (fd < 0)
			_exit(11);
		if (expect_served)
			ok = !h_hello(fd) && !h_ping(fd, 2);
		else {
			uint8_t hello[PROTO_HDR_LEN];

			/* may already fail with EPIPE: the agent closes without reading */
			if (send(fd, hello, h_frame(hello, PROTO_T_HELLO, 0, 1, NULL), MSG_NOSIGNAL) < 0 &&
			    errno != EPIPE && errno != ECONNRESET)
				_exit(13);
			ok = !h_expect_closed(fd, H_TIMEOUT_MS);
		}
		fflush(NULL);
		_exit(ok ? 0 : 12);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int t_life_uid_refused(const struct t_env *env)
{
	struct h_agent a;
	int fd, st;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	st = connect_as_nobody(&a, false);
	CHECKF(st == 0, "uid %d child: status %d", NOBODY, st);
	CHECK_OK(h_wait_log(a.log, "peer refused: uid not allowed", H_TIMEOUT_MS));
	CHECK(h_file_contains(a.log, "uid=65534"));
	/* root is still served */
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	close(fd);
	return T_PASS;
}

int t_life_uid_allowed(const struct t_env *env)
{
	static const char *const args[] = { "--allow-uid", "65534", NULL };
	struct h_agent a;
	int st;

	(void)env;
	CHECK_OK(h_agent_start(&a, args));
	st = connect_as_nobody(&a, true);
	CHECKF(st == 0, "uid %d child: status %d", NOBODY, st);
	CHECK(h_file_contains(a.log, "msg=\"client connected\""));
	CHECK(!h_file_contains(a.log, "peer refused"));
	return T_PASS;
}

static int bind_socket(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (listening && listen(fd, 4))) {
		perror("bind_socket");
		return -1;
	}
	if (!listening) {
		close(fd); /* leaves the socket file behind, as a crashed agent does */
		return 0;
	}
	return fd;
}

int t_life_stale_socket(const struct t_env *env)
{
	char dir[64], sock[128];
	struct h_agent a;
	int fd;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	CHECK_OK(bind_socket(sock, false));
	CHECK_OK(h_agent_spawn(&a, dir, sock, NULL));
	CHECK_OK(h_agent_wait_ready(&a, H_TIMEOUT_MS));
	CHECK(h_file_contains(a.log, "removed stale socket"));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	close(fd);
	return T_PASS;
}

/* Someone else (not an agent) is listening: the agent must leave it alone. */
int t_life_live_socket(const struct t_env *env)
{
	char dir[64], sock[128];
	struct h_agent a;
	struct stat before, after;
	int lfd, fd;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	CHECK((lfd = bind_socket(sock, true)) >= 0);
	CHECK_OK(lstat(sock, &before));
	CHECK_OK(h_agent_spawn(&a, dir, sock, NULL));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	CHECKF(h_agent_exit_code(&a) == 1, "exit %d", h_agent_exit_code(&a));
	CHECK(h_file_contains(a.log, "another process is listening on the socket"));
	CHECK_OK(lstat(sock, &after));
	CHECK(after.st_ino == before.st_ino);
	CHECK((fd = h_connect(sock)) >= 0);
	close(fd);
	close(lfd);
	return T_PASS;
}

int t_life_second_agent(const struct t_env *env)
{
	char dir[64];
	struct h_agent a, b;
	struct stat before, after;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK_OK(lstat(a.sock, &before));
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	CHECK_OK(h_agent_spawn(&b, dir, a.sock, NULL));
	CHECK_OK(h_agent_wait_exit(&b, H_TIMEOUT_MS));
	CHECKF(h_agent_exit_code(&b) == 1, "exit %d", h_agent_exit_code(&b));
	CHECK(h_file_contains(b.log, "another agent owns the socket"));
	CHECK_OK(lstat(a.sock, &after));
	CHECK(after.st_ino == before.st_ino);
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	close(fd);
	return T_PASS;
}

int t_life_not_a_socket(const struct t_env *env)
{
	char dir[64], sock[128], buf[16] = "";
	struct h_agent a;
	int fd;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	fd = open(sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "precious", 8) == 8);
	close(fd);
	CHECK_OK(h_agent_spawn(&a, dir, sock, NULL));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	CHECKF(h_agent_exit_code(&a) == 1, "exit %d", h_agent_exit_code(&a));
	CHECK(h_file_contains(a.log, "socket path exists and is not a socket"));
	fd = open(sock, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 8 && !strcmp(buf, "precious"));
	close(fd);
	return T_PASS;
}

/* A socket directory someone else could write into, or a symlink, is refused at start. */
int t_lifecycle_socket_dir_checked(const struct t_env *env)
{
	static const struct {
		const char *name;
		mode_t mode;     /* of <dir>/run; 0: a symlink to <dir>/real */
		const char *log;
	} cases[] = {
		{ "world-writable", 0777, "the socket directory is writable by other users" },
		{ "group-writable", 0770, "the socket directory is writable by other users" },
		{ "symlink", 0, "the socket directory is not a directory (or is a symlink)" },
		{ "private", 0700, NULL },
		{ "sticky", 01777, NULL },
	};

	(void)env;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[64], run[128], real[128], sock[160];
		struct h_agent a;

		CHECK_OK(h_tmpdir(dir, sizeof(dir)));
		snprintf(run, sizeof(run), "%s/run", dir);
		snprintf(real, sizeof(real), "%s/real", dir);
		snprintf(sock, sizeof(sock), "%s/agent.sock", run);
		if (cases[i].mode) {
			CHECK_OK(mkdir(run, 0700));
			CHECK_OK(chmod(run, cases[i].mode)); /* past the umask */
		} else {
			CHECK_OK(mkdir(real, 0700));
			CHECK_OK(symlink(real, run));
		}
		CHECK_OK(h_agent_spawn(&a, dir, sock, NULL));
		if (cases[i].log) {
			CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
			CHECKF(h_agent_exit_code(&a) == 1, "%s: exit %d", cases[i].name,
			       h_agent_exit_code(&a));
			CHECKF(h_file_contains(a.log, cases[i].log), "%s", cases[i].name);
		} else {
			CHECKF(!h_agent_wait_ready(&a, H_TIMEOUT_MS), "%s: agent not ready", cases[i].name);
			CHECK_OK(kill(a.pid, SIGTERM));
			CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
		}
	}
	return T_PASS;
}
