/*
 * How many clients the agent can hold, from its file descriptor limit.
 *
 * Each workload connection costs the agent a socket, the uffd copies of
 * its regions (two with a hold uffd) and a pidfd of the process; image
 * regions also keep a removed-pages file.  A fixed reserve covers what is
 * not per client: images, snapshot files, page channels, listening and
 * control sockets, epoll, eventfds, the log.
 */
#ifndef FAULTLINE_FDLIM_H
#define FAULTLINE_FDLIM_H

#include <stdint.h>

struct log;

#define FDLIM_RESERVE 256
#define FDLIM_PER_CLIENT 4
#define FDLIM_MIN_CLIENTS 16
#define FDLIM_MAX_CLIENTS 65536

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit (an agent that serves
 * thousands of workloads needs them; the soft limit is only a default for
 * programs that use select()).  Returns the soft limit now in force, or 0
 * when it cannot be read.  Logs what it did.
 */
uint64_t fdlim_raise(struct log *lg);

/* The client limit that nofile descriptors allow (pure). */
unsigned fdlim_max_clients(uint64_t nofile);

#endif /* FAULTLINE_FDLIM_H */
