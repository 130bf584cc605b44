/*
 * Control socket server (PROTOCOL.md §1): accepts local clients, checks
 * their credentials and hands their requests to dispatch_command(); stopped
 * with srv_stop(), which drains queued replies first.
 */
#ifndef FAULTLINE_CTL_H
#define FAULTLINE_CTL_H

struct agent;
struct srv;

struct srv *ctl_start(struct agent *ag);

#endif /* FAULTLINE_CTL_H */
