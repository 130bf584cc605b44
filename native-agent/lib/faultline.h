/*
 * libfaultline: hand a memory range over to the Faultline agent.
 * Specified in native-agent/PROTOCOL.md §2.4; build/libfaultline.so exports
 * exactly these fl_* symbols.
 *
 * Threads: every function may be called from any thread.  A background
 * thread per client watches the connection; when the agent dies it
 * reconnects to the same socket (10 ms doubling to 1 s) and registers every
 * region again with resume_id, so faults that waited meanwhile are served
 * by the new agent.  The process keeps its own copy of each uffd, so while
 * no agent runs, faulting threads wait; they never see zero-filled pages.
 *
 * fork(): the child of a process using libfaultline must not use the
 * parent's fl_client or fl_region handles (the watcher thread does not
 * exist in the child); it may call fl_connect() for its own client.  Ranges
 * registered by the parent are not registered in the child (the kernel does
 * not copy uffd registrations unless UFFD_FEATURE_EVENT_FORK was asked for,
 * see $FAULTLINE_FOLLOW_FORK in README.md), so a child reading memory the
 * parent has not restored yet reads zeros; exec() soon after fork() is safe.
 *
 * Global state: only the thread-local text behind fl_last_error().
 */
#ifndef FAULTLINE_H
#define FAULTLINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_client fl_client;
typedef struct fl_region fl_region;
enum { FL_MODE_MISSING = 1u << 0, FL_MODE_WP = 1u << 1, FL_MODE_MINOR = 1u << 2 };

/* Connects to a handoff socket: path, or $FAULTLINE_HANDOFF when NULL. NULL + errno on failure. */
fl_client *fl_connect(const char *socket_path);
/* Creates a uffd (/dev/userfaultfd, else userfaultfd(2), UFFD_USER_MODE_ONLY when unprivileged),
 * registers [addr, addr+len) in `modes`, hands it over, waits for the agent's reply.
 * labels: "k=v,k2=v2" or NULL. 0 on success, -1 + errno (message in fl_last_error()). */
int fl_region_register(fl_client *c, void *addr, size_t len, const char *name,
                       const char *labels, unsigned modes, fl_region **out);
const char *fl_region_id(const fl_region *r);
/* 1 once the agent said the region was migrated to another host (region_migrated):
 * its writers are held for good; the workload should exit or unmap the range. */
int fl_region_migrated(const fl_region *r);
int fl_region_unregister(fl_region *r);      /* tells the agent, unregisters, closes the uffd */
void fl_disconnect(fl_client *c);            /* unregisters nothing; regions stay served */
const char *fl_last_error(void);             /* thread-local text of the last failure */

#ifdef __cplusplus
}
#endif

#endif /* FAULTLINE_H */
