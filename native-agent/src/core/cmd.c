/*
 * Conventions every control and handoff command follows: the session a
 * request arrives on, errors with a stable code, the payload as a JSON
 * object; see cmd.h.  Which command goes where is control/dispatch.c.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>

#include "cmd.h"

int cmd_fail(struct cmd_error *err, enum proto_err code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Field checks shared by the control and the handoff hello. */
int cmd_check_hello(json_t *req, struct cmd_error *err)
{
	json_t *client = json_object_get(req, "client");
	json_t *protocol = json_object_get(req, "protocol");

	if (client && !json_is_string(client))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"client\" must be a string");
	if (protocol && (!json_is_integer(protocol) || json_integer_value(protocol) < 1))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"protocol\" must be an integer >= 1");
	return 0;
}

/* Duplicate keys are rejected: two readers could disagree on which one counts. */
int cmd_parse(const struct proto_hdr *h, const uint8_t *payload, json_t **req,
	      struct cmd_error *err)
{
	json_error_t jerr;

	if (!h->length)
		*req = json_object();
	else
		*req = json_loadb((const char *)payload, h->length, JSON_REJECT_DUPLICATES, &jerr);
	if (!*req && !h->length)
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	if (!*req)
		return cmd_fail(err, PROTO_E_BAD_PAYLOAD, "payload is not valid JSON: %s at byte %d",
				jerr.text, jerr.position);
	if (!json_is_object(*req)) {
		json_decref(*req);
		*req = NULL;
		return cmd_fail(err, PROTO_E_BAD_PAYLOAD, "payload must be a JSON object");
	}
	return 0;
}
