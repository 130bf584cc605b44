/*
 * Control commands: one handler per message type, from a decoded request
 * to a JSON reply or a stable error.  No I/O happens here; ctl owns the
 * connection and sends what this module decides.
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

/* cmd_dispatch() outcome: the handler registered the request with defer_. */
#define CMD_DEFERRED 1

struct cmd_error {
	enum proto_err code;
	char message[256];
};

int cmd_dispatch(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		 const uint8_t *payload, json_t **reply, struct cmd_error *err);
int cmd_fail(struct cmd_error *err, enum proto_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cmd_parse(const struct proto_hdr *h, const uint8_t *payload, json_t **req,
	      struct cmd_error *err);
int cmd_check_hello(json_t *req, struct cmd_error *err);

#endif /* FAULTLINE_CMD_H */
