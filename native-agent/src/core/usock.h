/*
 * Listening AF_UNIX sockets owned by one agent: the control socket now, the
 * handoff socket with the fault engine.  Owning a path means: a lock held
 * for the process lifetime, a stale node replaced only when nobody listens
 * on it, the node created with its final mode before listen(), and removal
 * only of the node this process created.  The lock file is skipped for
 * sockets inside a directory the agent already holds locked (the state
 * directory), where it would only add clutter.
 */
#ifndef FAULTLINE_USOCK_H
#define FAULTLINE_USOCK_H

#include <stdbool.h>
#include <sys/types.h>

struct log;

struct usock {
	int fd;      /* listening, SOCK_NONBLOCK | SOCK_CLOEXEC */
	int lock_fd;
	bool bound;
	dev_t dev;
	ino_t ino;
	char *path;
};

int usock_listen(struct usock *us, const char *path, mode_t mode, bool lock, struct log *lg);
void usock_close(struct usock *us, struct log *lg);

#endif /* FAULTLINE_USOCK_H */
