/*
 * The descriptor store and its keeper process; see fdstore.h.
 *
 * Commands (agent -> keeper), one per SOCK_SEQPACKET message:
 *   "put NAME PID" + 1 fd   keep fd under NAME until PID exits   -> "ok" | "err TEXT"
 *   "del NAME"              forget NAME (closing the keeper's copy) -> "ok"
 *   "list"                  -> "fd NAME" + 1 fd per entry, then "end"
 * NAME is 1-96 characters of [A-Za-z0-9._-].  The keeper accepts a few
 * clients at once (KEEPER_CLIENTS), of its own uid or root, answers
 * anything else with "err", and exits when no client is connected and it
 * holds nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdstore.h"
#include "scm.h"
#include "mono.h"

#define LOG_COMP "fdstore"
#include "log.h"

#define KEEPER_MAX 4096
#define KEEPER_START_MS 5000
#define KEEPER_CLIENTS 4

struct inherited {
	char name[FDSTORE_NAME_MAX + 1];
	int fd;
};

struct fdstore {
	struct log *lg;
	enum fdstore_kind kind;
	int sock;                  /* keeper: the connection; systemd: a datagram socket */
	struct sockaddr_un notify; /* systemd: $NOTIFY_SOCKET */
	socklen_t notify_len;
	struct inherited *inh;     /* systemd: passed at start, not listed yet */
	size_t n_inh;
};

/* msg, with fd (if >= 0) as SCM_RIGHTS, to the connected sock or to `to` (a datagram's address). */
static int send_to(int sock, const struct sockaddr_un *to, socklen_t to_len, const char *msg, int fd)
{
	union scm_fd_buf ctrl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = to ? to_len : 0,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0)
		scm_attach_fd(&mh, &ctrl, fd);
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)iov.iov_len ? 0 : -1;
}

int fdstore_send(int sock, const char *msg, int fd)
{
	return send_to(sock, NULL, 0, msg, fd);
}

ssize_t fdstore_recv(int sock, char *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[4];

			memcpy(fds, CMSG_DATA(cm), (k < 4 ? k : 4) * sizeof(int));
			for (size_t i = 0; i < k && i < 4; i++) {
				if (*fd < 0)
					*fd = fds[i];
				else
					close(fds[i]); /* one descriptor per message, no more */
			}
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n == 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = n == 0 ? ECONNRESET : EMSGSIZE;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > FDSTORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int sock_path(const char *state_dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", state_dir, FDSTORE_SOCKET) >=
	    (int)sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int try_connect(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Starts the keeper detached from the agent (its own session, reparented
 * to init), so that neither the agent's exit nor a signal to its process
 * group ends it, and waits until it listens: it closes ready_fd then.
 */
static int spawn_keeper(struct log *lg, const char *exe, const char *path)
{
	int pipefd[2], status;
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (fork() != 0)
			_exit(0);
		/* only async-signal-safe calls here: the agent has threads */
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		/* not the agent's stdout or stderr: whoever reads them would wait for the keeper */
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0 ||
		    dup2(pipefd[1], 3) < 0)
			_exit(127);
		execl(exe, exe, "--fd-keeper", path, "3", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* EOF once the keeper listens (or died); a poll bounds a hung start */
	{
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		int r;

		do
			r = poll(&p, 1, KEEPER_START_MS);
		while (r < 0 && errno == EINTR);
		n = r > 0 ? read(pipefd[0], &c, 1) : -1;
	}
	close(pipefd[0]);
	if (n != 0) {
		pr_err(lg, "the descriptor keeper did not start", LF_STR("exe", exe));
		errno = ECHILD;
		return -1;
	}
	return 0;
}

static struct fdstore *keeper_open(struct log *lg, const char *state_dir, const char *exe,
				   bool spawn)
{
	struct sockaddr_un sa;
	struct fdstore *s;
	int fd;

	if (sock_path(state_dir, &sa))
		return NULL;
	fd = try_connect(&sa);
	if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED)) {
		if (!spawn) {
			errno = ENOENT;
			return NULL;
		}
		unlink(sa.sun_path); /* a keeper that died left its socket */
		if (spawn_keeper(lg, exe, sa.sun_path))
			return NULL;
		fd = try_connect(&sa);
	}
	if (fd < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return NULL;
	}
	s->lg = lg;
	s->kind = FDSTORE_KEEPER;
	s->sock = fd;
	return s;
}


/*
 * systemd passes stored descriptors from 3 on, LISTEN_FDS of them, named in
 * LISTEN_FDNAMES (colon-separated), if LISTEN_PID is this process.  They
 * are taken once: the variables are unset so that a child never sees them.
 */
static int take_listen_fds(struct fdstore *s)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char *copy = NULL, *save = NULL, *tok;
	long n;

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		goto out;
	n = strtol(fds, NULL, 10);
	if (n <= 0 || n > KEEPER_MAX)
		goto out;
	s->inh = calloc((size_t)n, sizeof(*s->inh));
	copy = names ? strdup(names) : NULL;
	if (!s->inh)
		goto out;
	tok = copy ? strtok_r(copy, ":", &save) : NULL;
	for (long i = 0; i < n; i++, tok = tok ? strtok_r(NULL, ":", &save) : NULL) {
		int fd = 3 + (int)i;

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (!tok || !name_ok(tok)) {
			/* not one of ours (an unnamed or foreign descriptor): not kept */
			pr_warn(s->lg, "descriptor from systemd without a valid name closed", LF_INT("fd", fd));
			close(fd);
			continue;
		}
		memcpy(s->inh[s->n_inh].name, tok, strlen(tok) + 1);
		s->inh[s->n_inh++].fd = fd;
	}
out:
	free(copy);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}

static struct fdstore *systemd_open(struct log *lg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct fdstore *s;
	size_t len;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(s->notify.sun_path)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->lg = lg;
	s->kind = FDSTORE_SYSTEMD;
	s->notify.sun_family = AF_UNIX;
	memcpy(s->notify.sun_path, path, len);
	if (path[0] == '@')
		s->notify.sun_path[0] = '\0'; /* abstract namespace */
	s->notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->sock < 0) {
		free(s);
		return NULL;
	}
	take_listen_fds(s);
	return s;
}

/* One sd_notify message, with fd (if >= 0) to be stored. */
static int systemd_notify(struct fdstore *s, const char *msg, int fd)
{
	if (send_to(s->sock, &s->notify, s->notify_len, msg, fd)) {
		pr_pwarn(s->lg, "systemd's descriptor store unreachable");
		return -1;
	}
	return 0;
}

struct fdstore *fdstore_open(struct log *lg, enum fdstore_kind kind, const char *state_dir,
			     const char *exe, bool spawn)
{
	switch (kind) {
	case FDSTORE_KEEPER:
		return keeper_open(lg, state_dir, exe, spawn);
	case FDSTORE_SYSTEMD:
		return systemd_open(lg);
	case FDSTORE_OFF:
		break;
	}
	errno = ENOTSUP;
	return NULL;
}

/* One command and its one-line answer: "ok", or an error (errno EPROTO). */
static int command(struct fdstore *s, const char *msg, int fd)
{
	char buf[FDSTORE_MSG_MAX];
	int rfd;

	if (!s) {
		errno = ENOTCONN;
		return -1;
	}
	if (fdstore_send(s->sock, msg, fd) || fdstore_recv(s->sock, buf, sizeof(buf), &rfd) < 0) {
		pr_pwarn(s->lg, "descriptor keeper unreachable");
		return -1;
	}
	if (rfd >= 0)
		close(rfd);
	if (strcmp(buf, "ok")) {
		pr_warn(s->lg, "descriptor keeper refused", LF_STR("command", msg), LF_STR("reply", buf));
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int fdstore_put(struct fdstore *s, const char *name, int fd, pid_t pid)
{
	char msg[FDSTORE_MSG_MAX];

	if (!name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (s && s->kind == FDSTORE_SYSTEMD) {
		/* systemd keeps every descriptor sent under a name: the old one goes first */
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s\n", name);
		if (systemd_notify(s, msg, -1))
			return -1;
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s\n", name);
		return systemd_notify(s, msg, fd);
	}
	snprintf(msg, sizeof(msg), "put %s %d", name, (int)pid);
	return command(s, msg, fd);
}

int fdstore_del(struct fdstore *s, const char *name)
{
	char msg[FDSTORE_MSG_MAX];

	if (!name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (s && s->kind == FDSTORE_SYSTEMD) {
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s\n", name);
		return systemd_notify(s, msg, -1);
	}
	snprintf(msg, sizeof(msg), "del %s", name);
	return command(s, msg, -1);
}

/* All entries are read before fn runs: fn may send commands of its own. */
int fdstore_list(struct fdstore *s, fdstore_fn fn, void *arg)
{
	struct entry {
		char name[FDSTORE_NAME_MAX + 1];
		int fd;
	} *e = NULL;
	size_t n = 0, cap = 0;
	char buf[FDSTORE_MSG_MAX];
	int fd, ret = -1;

	if (!s) {
		errno = ENOTCONN;
		return -1;
	}
	if (s->kind == FDSTORE_SYSTEMD) {
		/* what systemd passed at start, once; systemd itself still keeps them */
		struct inherited *inh = s->inh;
		size_t k = s->n_inh;

		s->inh = NULL;
		s->n_inh = 0;
		for (size_t i = 0; i < k; i++)
			fn(arg, inh[i].name, inh[i].fd);
		free(inh);
		return 0;
	}
	if (fdstore_send(s->sock, "list", -1))
		return -1;
	for (;;) {
		if (fdstore_recv(s->sock, buf, sizeof(buf), &fd) < 0)
			goto out;
		if (!strcmp(buf, "end")) {
			if (fd >= 0)
				close(fd);
			break;
		}
		if (strncmp(buf, "fd ", 3) || fd < 0 || !name_ok(buf + 3)) {
			if (fd >= 0)
				close(fd);
			errno = EPROTO;
			goto out;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			struct entry *ne = realloc(e, c * sizeof(*e));

			if (!ne) {
				close(fd);
				goto out;
			}
			e = ne;
			cap = c;
		}
		memcpy(e[n].name, buf + 3, strlen(buf + 3) + 1); /* name_ok(): it fits */
		e[n++].fd = fd;
	}
	for (size_t i = 0; i < n; i++)
		fn(arg, e[i].name, e[i].fd);
	n = 0;
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		close(e[i].fd);
	free(e);
	return ret;
}

void fdstore_close(struct fdstore *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_inh; i++)
		close(s->inh[i].fd);
	free(s->inh);
	close(s->sock);
	free(s);
}

/* ---- the keeper ------------------------------------------------------------- */

struct kept {
	char name[FDSTORE_NAME_MAX + 1];
	int fd, pidfd;
};

struct keeper {
	struct kept e[KEEPER_MAX];
	unsigned n;
	int lsock;
	int clients[KEEPER_CLIENTS];
	int client; /* the one being answered */
};

static void kept_drop(struct keeper *k, unsigned i)
{
	close(k->e[i].fd);
	if (k->e[i].pidfd >= 0)
		close(k->e[i].pidfd);
	k->e[i] = k->e[--k->n];
}

static int kept_find(const struct keeper *k, const char *name)
{
	for (unsigned i = 0; i < k->n; i++) {
		if (!strcmp(k->e[i].name, name))
			return (int)i;
	}
	return -1;
}

static void keeper_reply(struct keeper *k, const char *msg, int fd)
{
	if (k->client >= 0 && fdstore_send(k->client, msg, fd)) {
		for (unsigned i = 0; i < KEEPER_CLIENTS; i++) {
			if (k->clients[i] == k->client)
				k->clients[i] = -1;
		}
		close(k->client);
		k->client = -1;
	}
}

static void keeper_command(struct keeper *k, char *msg, int fd)
{
	char name[FDSTORE_NAME_MAX + 2];
	int pid, i;

	if (!strncmp(msg, "put ", 4) && sscanf(msg + 4, "%97s %d", name, &pid) == 2 && fd >= 0 &&
	    name_ok(name) && pid > 0) {
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

		if (pidfd < 0) {
			close(fd);
			keeper_reply(k, "err the workload is gone", -1);
			return;
		}
		if ((i = kept_find(k, name)) >= 0)
			kept_drop(k, (unsigned)i);
		if (k->n == KEEPER_MAX) {
			close(fd);
			close(pidfd);
			keeper_reply(k, "err the keeper is full", -1);
			return;
		}
		memcpy(k->e[k->n].name, name, strlen(name) + 1); /* name_ok(): it fits */
		k->e[k->n].fd = fd;
		k->e[k->n].pidfd = pidfd;
		k->n++;
		keeper_reply(k, "ok", -1);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (!strncmp(msg, "del ", 4) && name_ok(msg + 4)) {
		if ((i = kept_find(k, msg + 4)) >= 0)
			kept_drop(k, (unsigned)i);
		keeper_reply(k, "ok", -1);
		return;
	}
	if (!strcmp(msg, "list")) {
		char line[FDSTORE_MSG_MAX];

		for (unsigned j = 0; j < k->n && k->client >= 0; j++) {
			snprintf(line, sizeof(line), "fd %s", k->e[j].name);
			keeper_reply(k, line, k->e[j].fd);
		}
		if (k->client >= 0)
			keeper_reply(k, "end", -1);
		return;
	}
	keeper_reply(k, "err unknown command", -1);
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

int fdstore_keeper_main(const char *path, int ready_fd)
{
	static struct keeper k; /* the keeper process has nothing else */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd *p;
	mode_t old;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	/* nothing of the agent's but the readiness pipe: a uffd inherited by
	 * accident would be held here for good */
	syscall(SYS_close_range, ready_fd >= 0 ? ready_fd + 1 : 3, ~0U, 0);
	memcpy(sa.sun_path, path, strlen(path));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	k.client = -1;
	for (unsigned i = 0; i < KEEPER_CLIENTS; i++)
		k.clients[i] = -1;
	k.lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	old = umask(077);
	if (k.lsock < 0 || bind(k.lsock, (struct sockaddr *)&sa, sizeof(sa)) || listen(k.lsock, 4)) {
		umask(old);
		return 1;
	}
	umask(old);
	if (ready_fd >= 0)
		close(ready_fd);
	p = calloc(KEEPER_MAX + 1 + KEEPER_CLIENTS, sizeof(*p));
	if (!p)
		return 1;
	for (;;) {
		unsigned n = 0, connected = 0;
		int r;

		p[n++] = (struct pollfd){ .fd = k.lsock, .events = POLLIN };
		for (unsigned i = 0; i < KEEPER_CLIENTS; i++)
			p[n++] = (struct pollfd){ .fd = k.clients[i], .events = POLLIN };
		for (unsigned i = 0; i < k.n; i++)
			p[n++] = (struct pollfd){ .fd = k.e[i].pidfd, .events = POLLIN };
		r = poll(p, n, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		/* workloads that exited: their descriptors are of no use to anyone */
		for (unsigned i = k.n; i-- > 0;) {
			if (p[1 + KEEPER_CLIENTS + i].revents)
				kept_drop(&k, i);
		}
		for (unsigned i = 0; i < KEEPER_CLIENTS; i++) {
			char msg[FDSTORE_MSG_MAX];
			int fd;

			if (!p[1 + i].revents || k.clients[i] < 0)
				continue;
			k.client = k.clients[i];
			if (fdstore_recv(k.client, msg, sizeof(msg), &fd) < 0) {
				close(k.client);
				k.clients[i] = -1;
			} else {
				keeper_command(&k, msg, fd);
			}
			k.client = -1;
		}
		if (p[0].revents) {
			int c = accept4(k.lsock, NULL, NULL, SOCK_CLOEXEC);
			unsigned slot = KEEPER_CLIENTS;

			for (unsigned i = 0; i < KEEPER_CLIENTS && slot == KEEPER_CLIENTS; i++) {
				if (k.clients[i] < 0)
					slot = i;
			}
			if (c >= 0 && (!peer_allowed(c) || slot == KEEPER_CLIENTS))
				close(c);
			else if (c >= 0)
				k.clients[slot] = c;
		}
		for (unsigned i = 0; i < KEEPER_CLIENTS; i++)
			connected += k.clients[i] >= 0;
		if (!connected && !k.n)
			break; /* nobody needs the keeper any more */
	}
	free(p);
	unlink(path);
	return 0;
}
