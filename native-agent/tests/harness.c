/*
 * Test harness: real agent processes, real sockets, bounded waits.
 *
 * Test-process state lives in file-scope variables here: each test runs in
 * its own forked process, so this is per-test state, not shared state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define H_MAX 16

static const char *agent_path;
static struct {
	pid_t pid;
	bool exited;
	char log[128];
} agents[H_MAX];
static unsigned n_agents;
static char dirs[H_MAX][64];
static unsigned n_dirs;

void h_setup(const char *path)
{
	agent_path = path;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int remaining(uint64_t deadline)
{
	uint64_t now = now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

int h_tmpdir(char *out, size_t len)
{
	if (n_dirs == H_MAX || len < 32)
		return -1;
	snprintf(out, len, "/tmp/faultline-test-XXXXXX");
	if (!mkdtemp(out)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(dirs[n_dirs++], sizeof(dirs[0]), "%s", out);
	return 0;
}

/*
 * Agents that exited (and were reaped) leave the table: a test that
 * restarts agents many times stays within H_MAX.  Their log is the same
 * file as their successor's when they shared a directory.
 */
void h_agents_forget_exited(void)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n_agents; i++) {
		if (!agents[i].exited)
			agents[k++] = agents[i];
	}
	n_agents = k;
}

int h_agent_spawn(struct h_agent *a, const char *dir, const char *sock,
		  const char *const *extra)
{
	return h_agent_spawn_fds(a, dir, sock, extra, NULL, NULL, 0);
}

/*
 * As systemd starts a unit with stored descriptors: fds[i] becomes 3 + i,
 * LISTEN_FDS / LISTEN_FDNAMES (names colon-separated) / LISTEN_PID are set.
 */
int h_agent_spawn_fds(struct h_agent *a, const char *dir, const char *sock,
		      const char *const *extra, const int *fds, const char *names, unsigned n_fds)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *argv[40];
	sigset_t none;
	pid_t parent = getpid();
	int n = 0;

	if (n_agents == H_MAX)
		return -1;
	memset(a, 0, sizeof(*a));
	a->pidfd = a->notify_fd = -1;
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	snprintf(a->sock, sizeof(a->sock), "%s", sock);
	snprintf(a->state, sizeof(a->state), "%s/state", dir);
	snprintf(a->log, sizeof(a->log), "%s/agent.log", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify.%u", dir, n_agents);

	unlink(sa.sun_path); /* an earlier agent's, forgotten by h_agents_forget_exited() */
	a->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->notify_fd < 0 || bind(a->notify_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("notify socket");
		return -1;
	}

	argv[n++] = agent_path;
	argv[n++] = "--socket";
	argv[n++] = a->sock;
	argv[n++] = "--state-dir";
	argv[n++] = a->state;
	argv[n++] = "--log-file";
	argv[n++] = a->log;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (; extra && *extra && n < 39; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;

	fflush(NULL);
	a->pid = fork();
	if (a->pid < 0) {
		perror("fork");
		return -1;
	}
	if (a->pid == 0) {
		/* never outlive the test, whatever way it ends */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setenv("NOTIFY_SOCKET", sa.sun_path, 1);
		if (n_fds) {
			char v[32];
			int high[16];

			/* out of the way first: a target number may be one of the sources */
			for (unsigned i = 0; i < n_fds && i < 16; i++)
				high[i] = fcntl(fds[i], F_DUPFD, 100);
			for (unsigned i = 0; i < n_fds && i < 16; i++)
				if (dup2(high[i], 3 + (int)i) < 0)
					_exit(127);
			snprintf(v, sizeof(v), "%u", n_fds);
			setenv("LISTEN_FDS", v, 1);
			setenv("LISTEN_FDNAMES", names, 1);
			snprintf(v, sizeof(v), "%d", (int)getpid());
			setenv("LISTEN_PID", v, 1);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(agent_path, (char *const *)argv);
		perror(agent_path);
		_exit(127);
	}
	a->pidfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
	agents[n_agents].pid = a->pid;
	snprintf(agents[n_agents].log, sizeof(agents[0].log), "%s", a->log);
	n_agents++;
	return a->pidfd < 0 ? -1 : 0;
}

static void mark_exited(struct h_agent *a, int status)
{
	a->exited = true;
	a->status = status;
	for (unsigned i = 0; i < n_agents; i++) {
		if (agents[i].pid == a->pid)
			agents[i].exited = true;
	}
	close(a->pidfd);
	a->pidfd = -1;
}

static int reap(struct h_agent *a)
{
	int status;

	while (waitpid(a->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return -1;
		}
	}
	mark_exited(a, status);
	return 0;
}

/* Waits for READY=1 on the notify socket, or for the agent to die. */
int h_agent_wait_ready(struct h_agent *a, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char buf[256];

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = a->notify_fd, .events = POLLIN },
			{ .fd = a->pidfd, .events = POLLIN },
		};
		int ret = poll(pfd, 2, remaining(deadline));

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			printf("    agent not ready after %d ms\n", timeout_ms);
			h_dump_file(a->log);
			return -1;
		}
		if (pfd[0].revents & POLLIN) {
			ssize_t n = recv(a->notify_fd, buf, sizeof(buf) - 1, 0);

			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, "READY=1"))
					return 0;
			}
		}
		if (pfd[1].revents & POLLIN) {
			reap(a);
			printf("    agent exited before ready, status %d\n", h_agent_exit_code(a));
			h_dump_file(a->log);
			return -1;
		}
	}
}

int h_agent_start(struct h_agent *a, const char *const *extra)
{
	char dir[64], sock[128];

	if (h_tmpdir(dir, sizeof(dir)))
		return -1;
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	if (h_agent_spawn(a, dir, sock, extra))
		return -1;
	return h_agent_wait_ready(a, H_TIMEOUT_MS);
}

int h_agent_wait_exit(struct h_agent *a, int timeout_ms)
{
	struct pollfd pfd = { .fd = a->pidfd, .events = POLLIN };
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int ret;

	if (a->exited)
		return 0;
	do
		ret = poll(&pfd, 1, remaining(deadline));
	while (ret < 0 && errno == EINTR);
	if (ret <= 0) {
		printf("    agent %d did not exit within %d ms\n", (int)a->pid, timeout_ms);
		return -1;
	}
	return reap(a);
}

int h_agent_exit_code(const struct h_agent *a)
{
	if (WIFEXITED(a->status))
		return WEXITSTATUS(a->status);
	return 128 + WTERMSIG(a->status);
}

/* Prints the tail of a file: enough to see why, without drowning the report. */
void h_dump_file(const char *path)
{
	enum { TAIL = 60 };
	char line[1024];
	long total = 0, n = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		printf("    (no %s)\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f))
		total += strchr(line, '\n') != NULL;
	rewind(f);
	printf("    --- %s", path);
	if (total > TAIL)
		printf(" (last %d of %ld lines)", TAIL, total);
	printf("\n");
	while (fgets(line, sizeof(line), f)) {
		if (n++ >= total - TAIL)
			printf("    | %s%s", line, strchr(line, '\n') ? "" : "\n");
	}
	fclose(f);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

bool h_cleanup(bool passed, bool verbose)
{
	bool ok = true;

	for (unsigned i = 0; i < n_agents; i++) {
		struct h_agent a = { .pid = agents[i].pid };

		if (agents[i].exited)
			continue;
		a.pidfd = (int)syscall(SYS_pidfd_open, a.pid, 0);
		/* a clean stop is part of every test: leaks and shutdown bugs show here */
		kill(a.pid, passed ? SIGTERM : SIGKILL);
		if (a.pidfd < 0 || h_agent_wait_exit(&a, H_TIMEOUT_MS)) {
			kill(a.pid, SIGKILL);
			waitpid(a.pid, NULL, 0);
			ok = false;
		} else if (passed && h_agent_exit_code(&a) != 0) {
			printf("    FAIL: agent %d exited with %d on SIGTERM\n", (int)a.pid,
			       h_agent_exit_code(&a));
			ok = false;
		}
	}
	for (unsigned i = 0; i < n_agents; i++) {
		if (!passed || !ok || verbose)
			h_dump_file(agents[i].log);
	}
	for (unsigned i = 0; i < n_dirs; i++) {
		if (passed && ok)
			nftw(dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		else
			printf("    kept %s\n", dirs[i]);
	}
	return ok;
}

/* Runs argv to completion, collecting stdout and stderr (truncated to fit). */
int h_run_capture(const char *const *argv, char *out, size_t out_len,
		  char *err, size_t err_len, int *status)
{
	int po[2], pe[2];
	size_t lo = 0, le = 0;
	uint64_t deadline = now_ms() + H_TIMEOUT_MS;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (int open_fds = 2; open_fds;) {
		struct pollfd pfd[2] = { { .fd = po[0], .events = POLLIN },
					 { .fd = pe[0], .events = POLLIN } };
		int ret = poll(pfd, 2, remaining(deadline));

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		for (int i = 0; i < 2; i++) {
			char *buf = i ? err : out, tmp[512];
			size_t *l = i ? &le : &lo, cap = i ? err_len : out_len;
			ssize_t n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP)) || pfd[i].fd < 0)
				continue;
			n = read(pfd[i].fd, tmp, sizeof(tmp));
			if (n <= 0) {
				close(i ? pe[0] : po[0]);
				if (i)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
				continue;
			}
			for (ssize_t k = 0; k < n && *l + 1 < cap; k++)
				buf[(*l)++] = tmp[k];
		}
	}
	out[lo] = '\0';
	err[le] = '\0';
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int h_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		printf("    connect %s: %s\n", sock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int h_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			printf("    send: %s\n", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t h_frame(uint8_t *out, uint8_t type, uint16_t flags, uint64_t id, const char *json)
{
	size_t len = json ? strlen(json) : 0;
	struct proto_hdr h = proto_hdr_make(type, flags, id, (uint32_t)len);

	proto_encode_hdr(&h, out);
	if (len)
		memcpy(out + PROTO_HDR_LEN, json, len);
	return PROTO_HDR_LEN + len;
}

int h_send_frame(int fd, uint8_t type, uint16_t flags, uint64_t id, const char *json)
{
	size_t len = json ? strlen(json) : 0;
	uint8_t *buf = malloc(PROTO_HDR_LEN + len);
	int ret;

	if (!buf)
		return -1;
	ret = h_send_all(fd, buf, h_frame(buf, type, flags, id, json));
	free(buf);
	return ret;
}

/* 0 when all n bytes arrived, 1 on EOF before the first byte, -1 otherwise. */
static int recv_exact(int fd, void *buf, size_t n, uint64_t deadline)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ret = poll(&pfd, 1, remaining(deadline));
		ssize_t r;

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			printf("    timed out waiting for data (%zu/%zu bytes)\n", got, n);
			return -1;
		}
		r = recv(fd, (char *)buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 && got == 0)
				return 1;
			printf("    connection ended after %zu/%zu bytes: %s\n", got, n,
			       r ? strerror(errno) : "EOF");
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int h_recv_frame(int fd, int timeout_ms, struct proto_hdr *h, char **payload)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	uint8_t hdr[PROTO_HDR_LEN];
	enum proto_result res;
	int ret;

	*payload = NULL;
	ret = recv_exact(fd, hdr, sizeof(hdr), deadline);
	if (ret)
		return ret;
	res = proto_decode_hdr(hdr, sizeof(hdr), PROTO_MAX_PAYLOAD, h);
	if (res != PROTO_OK) {
		printf("    agent sent an invalid header: %s\n", proto_result_str(res));
		return -1;
	}
	*payload = malloc((size_t)h->length + 1);
	if (!*payload)
		return -1;
	if (recv_exact(fd, *payload, h->length, deadline)) {
		free(*payload);
		*payload = NULL;
		return -1;
	}
	(*payload)[h->length] = '\0';
	return 0;
}

/* The peer must close without sending anything more. */
int h_expect_closed(int fd, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char c;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ret = poll(&pfd, 1, remaining(deadline));
		ssize_t n;

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			printf("    connection still open after %d ms\n", timeout_ms);
			return -1;
		}
		n = recv(fd, &c, 1, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		printf("    expected close, got %s\n", n > 0 ? "data" : strerror(errno));
		return -1;
	}
}

json_t *h_expect_reply(int fd, uint8_t type, uint64_t id)
{
	return h_expect_reply_within(fd, type, id, H_TIMEOUT_MS);
}

/* For requests that legitimately take long (a snapshot under a busy writer on a loaded host). */
json_t *h_expect_reply_within(int fd, uint8_t type, uint64_t id, int timeout_ms)
{
	struct proto_hdr h;
	json_error_t jerr;
	char *payload;
	json_t *j;

	if (h_recv_frame(fd, timeout_ms, &h, &payload)) {
		printf("    no reply to type %u id %llu\n", type, (unsigned long long)id);
		return NULL;
	}
	if (h.type != type || h.id != id || h.flags != PROTO_F_REPLY) {
		printf("    unexpected frame type=%u id=%llu flags=0x%x payload=%s (wanted reply to %u/%llu)\n",
		       h.type, (unsigned long long)h.id, h.flags, payload, type,
		       (unsigned long long)id);
		free(payload);
		return NULL;
	}
	j = json_loads(payload, 0, &jerr);
	if (!j || !json_is_object(j)) {
		printf("    reply is not a JSON object: %s\n", payload);
		json_decref(j);
		j = NULL;
	}
	free(payload);
	return j;
}

json_t *h_request(int fd, uint8_t type, uint64_t id, const char *json)
{
	if (h_send_frame(fd, type, 0, id, json))
		return NULL;
	return h_expect_reply(fd, type, id);
}

int h_expect_error(int fd, uint8_t type, uint64_t id, const char *code)
{
	struct proto_hdr h;
	char *payload;
	json_t *j;
	int ret = -1;

	if (h_recv_frame(fd, H_TIMEOUT_MS, &h, &payload)) {
		printf("    no %s error frame\n", code);
		return -1;
	}
	j = json_loads(payload, 0, NULL);
	if (h.flags != (PROTO_F_REPLY | PROTO_F_ERROR) || h.type != type || h.id != id)
		printf("    wanted %s error for type=%u id=%llu, got flags=0x%x type=%u id=%llu: %s\n",
		       code, type, (unsigned long long)id, h.flags, h.type,
		       (unsigned long long)h.id, payload);
	else if (!j || !json_is_string(json_object_get(j, "code")) ||
		 strcmp(json_string_value(json_object_get(j, "code")), code) ||
		 !json_is_string(json_object_get(j, "message")) ||
		 !*json_string_value(json_object_get(j, "message")))
		printf("    wanted code %s with a message, got %s\n", code, payload);
	else
		ret = 0;
	json_decref(j);
	free(payload);
	return ret;
}

int h_hello(int fd)
{
	json_t *r = h_request(fd, PROTO_T_HELLO, 1, "{\"client\":\"faultline-tests\",\"protocol\":1}");
	int ret = r && json_integer_value(json_object_get(r, "protocol")) == 1 ? 0 : -1;

	json_decref(r);
	return ret;
}

int h_ping(int fd, uint64_t id)
{
	json_t *r = h_request(fd, PROTO_T_PING, id, NULL);
	int ret = r && json_is_integer(json_object_get(r, "uptime_ms")) ? 0 : -1;

	json_decref(r);
	return ret;
}

bool h_file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	/* lines are short: scanning line by line is enough */
	while (!found && getline(&buf, &cap, f) >= 0)
		found = strstr(buf, needle) != NULL;
	free(buf);
	fclose(f);
	return found;
}

/* Watches the log's directory so a rotated or recreated file is seen too. */
int h_wait_log(const char *path, const char *needle, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char dir[PATH_MAX], ev[4096];
	int ifd, ret = -1;

	snprintf(dir, sizeof(dir), "%s", path);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, dirname(dir), IN_MODIFY | IN_CREATE |
					 IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		perror("inotify");
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };

		if (h_file_contains(path, needle)) {
			ret = 0;
			break;
		}
		if (poll(&pfd, 1, remaining(deadline)) == 0) {
			printf("    %s: no line with \"%s\" after %d ms\n", path, needle, timeout_ms);
			break;
		}
		while (read(ifd, ev, sizeof(ev)) > 0)
			;
	}
out:
	if (ifd >= 0)
		close(ifd);
	return ret;
}
