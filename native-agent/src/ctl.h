/*
 * Control socket server (PROTOCOL.md §1): accepts local clients, checks
 * their credentials, splits their byte streams into frames, hands requests
 * to cmd_dispatch() and delivers the replies without ever blocking.
 */
#ifndef FAULTLINE_CTL_H
#define FAULTLINE_CTL_H

struct agent;
struct ctl;

struct ctl *ctl_start(struct agent *ag);
void ctl_stop(struct ctl *ctl);

#endif /* FAULTLINE_CTL_H */
