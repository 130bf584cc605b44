/*
 * Routing of control requests to the subsystems that answer them.
 */
#ifndef FAULTLINE_DISPATCH_H
#define FAULTLINE_DISPATCH_H

#include "cmd.h"

/* Returns 0 with *reply, -1 with *err, or CMD_DEFERRED. */
int dispatch_command(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		     const uint8_t *payload, json_t **reply, struct cmd_error *err);

#endif /* FAULTLINE_DISPATCH_H */
