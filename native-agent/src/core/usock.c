/*
 * Owned AF_UNIX listening sockets; see usock.h for the rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "usock.h"

#define LOG_COMP "usock"
#include "log.h"

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/*
 * The lock settles races between agents starting together; the connect
 * probe (claim_path) additionally protects a socket served by something
 * that does not take the lock.  The lock file is never removed: unlinking
 * a lock file lets two processes hold "the" lock on different inodes.
 */
static int lock_path(struct usock *us, struct log *lg)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];

	snprintf(path, sizeof(path), "%s.lock", us->path);
	us->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (us->lock_fd < 0) {
		pr_perror(lg, "cannot open socket lock", LF_STR("path", path));
		return -1;
	}
	if (flock(us->lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			pr_err(lg, "another agent owns the socket", LF_STR("path", us->path));
		else
			pr_perror(lg, "cannot lock socket", LF_STR("path", path));
		return -1;
	}
	return 0;
}

/* A node left at the path is replaced only when nobody listens on it. */
static int claim_path(struct usock *us, struct log *lg)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret;

	if (lstat(us->path, &st)) {
		if (errno == ENOENT)
			return 0;
		pr_perror(lg, "cannot stat socket path", LF_STR("path", us->path));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pr_err(lg, "socket path exists and is not a socket", LF_STR("path", us->path));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		pr_perror(lg, "socket failed");
		return -1;
	}
	fill_addr(&sa, us->path);
	do
		ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	while (ret < 0 && errno == EINTR);
	/* EAGAIN: a live listener with a full backlog */
	if (ret == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		pr_err(lg, "another process is listening on the socket", LF_STR("path", us->path));
		ret = -1;
	} else if (errno == ECONNREFUSED) {
		ret = unlink(us->path);
		if (ret)
			pr_perror(lg, "cannot remove stale socket", LF_STR("path", us->path));
		else
			pr_info(lg, "removed stale socket", LF_STR("path", us->path));
	} else {
		pr_perror(lg, "cannot probe existing socket", LF_STR("path", us->path));
		ret = -1;
	}
	close(fd);
	return ret;
}

/*
 * On Linux bind() gives the node the socket inode's mode (masked by the
 * umask), so fchmod() before bind() creates it with its final mode without
 * touching the process-wide umask, which worker threads would race with.
 * listen() only comes after the mode has been verified, so there is no
 * moment at which anyone else can connect.
 */
static int open_listener(struct usock *us, mode_t mode, struct log *lg)
{
	struct sockaddr_un sa;
	struct stat st;

	us->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (us->fd < 0) {
		pr_perror(lg, "socket failed");
		return -1;
	}
	if (fchmod(us->fd, mode))
		pr_debug(lg, "fchmod on socket failed, relying on chmod",
			 LF_STR("err", strerror(errno)));
	fill_addr(&sa, us->path);
	if (bind(us->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_perror(lg, "bind failed", LF_STR("path", us->path));
		return -1;
	}
	us->bound = true;
	if (lstat(us->path, &st)) {
		pr_perror(lg, "cannot stat new socket", LF_STR("path", us->path));
		return -1;
	}
	us->dev = st.st_dev;
	us->ino = st.st_ino;
	if ((st.st_mode & 07777) != mode) {
		/* a restrictive umask took more than we asked for; nobody can connect yet */
		if (chmod(us->path, mode) || lstat(us->path, &st) || !S_ISSOCK(st.st_mode) ||
		    st.st_ino != us->ino || (st.st_mode & 07777) != mode) {
			pr_err(lg, "cannot set socket mode", LF_STR("path", us->path),
			       LF_UINT("mode", mode));
			return -1;
		}
	}
	if (listen(us->fd, SOMAXCONN)) {
		pr_perror(lg, "listen failed", LF_STR("path", us->path));
		return -1;
	}
	return 0;
}

int usock_listen(struct usock *us, const char *path, mode_t mode, bool lock, struct log *lg)
{
	struct sockaddr_un sa;

	memset(us, 0, sizeof(*us));
	us->fd = us->lock_fd = -1;
	if (fill_addr(&sa, path)) {
		pr_err(lg, "socket path too long", LF_STR("path", path),
		       LF_UINT("max", sizeof(sa.sun_path) - 1));
		return -1;
	}
	us->path = strdup(path);
	if (!us->path) {
		pr_perror(lg, "out of memory");
		return -1;
	}
	if ((lock && lock_path(us, lg)) || claim_path(us, lg) || open_listener(us, mode, lg)) {
		usock_close(us, lg);
		return -1;
	}
	return 0;
}

/* Removes the node only if it is still the one this process created. */
void usock_close(struct usock *us, struct log *lg)
{
	struct stat st;

	if (us->fd >= 0)
		close(us->fd);
	us->fd = -1;
	if (us->bound) {
		if (lstat(us->path, &st) || st.st_dev != us->dev || st.st_ino != us->ino)
			pr_warn(lg, "socket path was replaced, not removing it",
				LF_STR("path", us->path));
		else if (unlink(us->path))
			pr_perror(lg, "cannot remove socket", LF_STR("path", us->path));
		us->bound = false;
	}
	/* released only once the node is gone, so a successor never sees ours */
	if (us->lock_fd >= 0)
		close(us->lock_fd);
	us->lock_fd = -1;
	free(us->path);
	us->path = NULL;
}
