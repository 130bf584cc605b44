/*
 * Handoff sockets (PROTOCOL.md §2): where workloads hand the agent their
 * uffd.  The general socket (--handoff-socket) registers anonymous
 * regions; each restore session has its own socket whose regions are
 * served from the session's image and which also accepts Firecracker's
 * handshake (told apart by its first byte, '[').  Sockets are 0666 and
 * peers are checked against --handoff-allow-uid.
 */
#ifndef FAULTLINE_HANDOFF_H
#define FAULTLINE_HANDOFF_H

struct agent;
struct srv;
struct restore;
struct mig;

struct srv *handoff_start(struct agent *ag, const char *path, struct restore *session);
struct srv *handoff_start_migration(struct agent *ag, const char *path, struct mig *m);
void handoff_stop(struct srv *srv);

#endif /* FAULTLINE_HANDOFF_H */
