/*
 * linkrelay: a TCP relay in migbench's own process that models a path where
 * each flow is capped (policed, or window-limited), so that one connection
 * cannot fill the link: every connection it accepts is forwarded to one
 * address, source to destination through its own token bucket, destination to
 * source unlimited.  It forwards bytes only; TLS stays between the agents.
 */
#ifndef FAULTLINE_LINKRELAY_H
#define FAULTLINE_LINKRELAY_H

#include <stddef.h>
#include <stdint.h>

struct linkrelay;

/*
 * Listens on 127.0.0.1:0 (bound gets host:port) and forwards each connection
 * to `to` ("host:port") at rate bytes per second per connection; NULL with
 * errno set on failure.
 */
struct linkrelay *linkrelay_start(const char *to, uint64_t rate, char *bound, size_t bound_len);
/* The burst each connection's bucket holds, bytes. */
uint64_t linkrelay_burst(uint64_t rate);
/*
 * Stops accepting, ends the connections still open (both sides) and frees
 * the relay; connections and bytes (source to destination) get what it
 * carried, when not NULL.
 */
void linkrelay_stop(struct linkrelay *r, uint64_t *connections, uint64_t *bytes);

#endif /* FAULTLINE_LINKRELAY_H */
