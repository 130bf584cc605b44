/*
 * What every control command shares, whichever subsystem answers it: the
 * session it arrived on, a stable error code with a message, and the
 * payload decoded as a JSON object.  Handlers do no I/O; ctl owns the
 * connection and sends what they decide.
 */
#ifndef FAULTLINE_CMD_H
#define FAULTLINE_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "conn.h"
#include "proto.h"

struct agent;

/* Protocol state of one control connection. */
struct cmd_session {
	uint64_t conn; /* serial, for logs */
	pid_t pid;
	uid_t uid;
	bool hello_done;
	struct conn_ref ref; /* for replies that come later (defer.h) */
};

/* A handler's outcome besides 0 and -1: the handler registered the request with defer_. */
#define CMD_DEFERRED 1

struct cmd_error {
	enum proto_err code;
	char message[256];
};

int cmd_fail(struct cmd_error *err, enum proto_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cmd_parse(const struct proto_hdr *h, const uint8_t *payload, json_t **req,
	      struct cmd_error *err);
int cmd_check_hello(json_t *req, struct cmd_error *err);

#endif /* FAULTLINE_CMD_H */
