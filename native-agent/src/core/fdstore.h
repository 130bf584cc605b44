/*
 * Descriptors that outlive the agent.  A workload that cannot hand its uffd
 * over again (Firecracker gives it once, on its handshake) would hang for
 * good if the agent restarted: the agent keeps a duplicate of every such
 * uffd in a store outside itself and takes them back when it starts again.
 *
 * The store is either systemd's file descriptor store (the agent runs as a
 * unit with FileDescriptorStoreMax=; stored descriptors come back as
 * LISTEN_FDS with their LISTEN_FDNAMES), or a keeper process,
 * `faultline-agent --fd-keeper SOCKET`, that the agent starts on first use
 * beside its state directory and that lives while it holds descriptors (a
 * descriptor is dropped when its workload exits).  Wire format of the
 * keeper's socket (SOCK_SEQPACKET, PROTOCOL.md §2.5): one text command per
 * message, descriptors as SCM_RIGHTS.
 */
#ifndef FAULTLINE_FDSTORE_H
#define FAULTLINE_FDSTORE_H

#include <stdbool.h>
#include <sys/types.h>

#include "log.h"

#define FDSTORE_NAME_MAX 96
#define FDSTORE_MSG_MAX 256
#define FDSTORE_SOCKET "fdkeeper.sock"

struct fdstore;

enum fdstore_kind { FDSTORE_OFF, FDSTORE_KEEPER, FDSTORE_SYSTEMD };

/* One descriptor handed back at start; fn owns fd from then on. */
typedef void (*fdstore_fn)(void *arg, const char *name, int fd);

/*
 * FDSTORE_KEEPER: connects to the keeper of state_dir; if none runs and
 * spawn is set, starts it (exe --fd-keeper) first.  FDSTORE_SYSTEMD: takes
 * the descriptors systemd passed (LISTEN_FDS, once per process) and sends
 * new ones to $NOTIFY_SOCKET.  NULL with errno otherwise (ENOENT: no keeper
 * runs; EINVAL: FDSTORE_SYSTEMD without $NOTIFY_SOCKET).
 */
struct fdstore *fdstore_open(struct log *lg, enum fdstore_kind kind, const char *state_dir,
			     const char *exe, bool spawn);
/* Keeps a duplicate of fd under name (a new put replaces it) until pid exits. */
int fdstore_put(struct fdstore *s, const char *name, int fd, pid_t pid);
int fdstore_del(struct fdstore *s, const char *name);
/* Every descriptor kept, each handed to fn once; the keeper keeps them too. */
int fdstore_list(struct fdstore *s, fdstore_fn fn, void *arg);
void fdstore_close(struct fdstore *s);

/* The keeper's own main loop (control/main.c runs it for --fd-keeper). */
int fdstore_keeper_main(const char *sock_path, int ready_fd);

/* Sends msg with fd (if >= 0); receives one message with at most one fd (-1 if none). */
int fdstore_send(int sock, const char *msg, int fd);
ssize_t fdstore_recv(int sock, char *buf, size_t len, int *fd);

#endif /* FAULTLINE_FDSTORE_H */
