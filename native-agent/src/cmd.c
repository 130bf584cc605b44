/*
 * Control commands (PROTOCOL.md §1.3).  A new message type is one handler
 * and one line in cmd_table; the checks every request goes through
 * (negotiation, payload is a JSON object) live in cmd_dispatch() once.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>

#include "agent.h"
#include "cmd.h"

#define LOG_COMP "cmd"
#include "log.h"

typedef int (*cmd_fn)(struct agent *ag, struct cmd_session *s, json_t *req,
		      json_t **reply, struct cmd_error *err);

struct cmd {
	uint8_t type;
	bool before_hello;
	cmd_fn fn;
};

#define SESSION_FIELDS(s) LF_UINT("conn", (s)->conn), LF_INT("pid", (s)->pid), LF_UINT("uid", (s)->uid)

static int fail(struct cmd_error *err, enum proto_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct cmd_error *err, enum proto_err code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Steals val and records failure, so that builders stay flat. */
static void put(json_t *obj, const char *key, json_t *val, bool *ok)
{
	if (!val || json_object_set_new(obj, key, val))
		*ok = false;
}

static json_t *names_array(const char **names, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(names[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *uffd_json(const struct uffd_probe *p)
{
	const char *names[64];
	json_t *u = json_object();
	bool ok = true;
	unsigned n;

	if (!u)
		return NULL;
	put(u, "available", json_boolean(p->available), &ok);
	put(u, "source", p->available ? json_string(uffd_source_name(p->source)) : json_null(), &ok);
	put(u, "user_mode_only", json_boolean(p->user_mode_only), &ok);
	put(u, "api", json_integer((json_int_t)p->api), &ok);
	n = uffd_feature_names(p->features, names, 64);
	put(u, "features", names_array(names, n), &ok);
	put(u, "feature_bits", json_integer((json_int_t)p->features), &ok);
	n = uffd_ioctl_names(p->ioctls, names, 64);
	put(u, "ioctls", names_array(names, n), &ok);
	put(u, "pagemap_scan", json_boolean(p->pagemap_scan), &ok);
	put(u, "error", p->available ? json_null() : json_string(p->error), &ok);
	if (!ok) {
		json_decref(u);
		return NULL;
	}
	return u;
}

static int cmd_hello(struct agent *ag, struct cmd_session *s, json_t *req, json_t **reply,
		     struct cmd_error *err)
{
	json_t *client = json_object_get(req, "client");
	json_t *protocol = json_object_get(req, "protocol");
	json_t *r, *kernel;
	bool ok = true;

	if (client && !json_is_string(client))
		return fail(err, PROTO_E_BAD_REQUEST, "\"client\" must be a string");
	if (protocol && (!json_is_integer(protocol) || json_integer_value(protocol) < 1))
		return fail(err, PROTO_E_BAD_REQUEST, "\"protocol\" must be an integer >= 1");

	r = json_object();
	kernel = json_object();
	if (!r || !kernel) {
		json_decref(r);
		json_decref(kernel);
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	put(kernel, "sysname", json_string(ag->uts.sysname), &ok);
	put(kernel, "release", json_string(ag->uts.release), &ok);
	put(kernel, "machine", json_string(ag->uts.machine), &ok);
	put(r, "agent", json_string(AGENT_NAME), &ok);
	put(r, "version", json_string(AGENT_VERSION), &ok);
	/* the version spoken on this connection; the client adapts to it */
	put(r, "protocol", json_integer(PROTO_VERSION), &ok);
	put(r, "pid", json_integer(ag->pid), &ok);
	put(r, "max_payload", json_integer(PROTO_MAX_PAYLOAD), &ok);
	put(r, "kernel", kernel, &ok);
	put(r, "uffd", uffd_json(&ag->uffd), &ok);
	if (!ok) {
		json_decref(r);
		return fail(err, PROTO_E_INTERNAL, "cannot build hello reply");
	}

	if (!s->hello_done)
		pr_info(&ag->log, "client hello", SESSION_FIELDS(s),
			LF_STR("client", client ? json_string_value(client) : ""),
			LF_INT("protocol", protocol ? json_integer_value(protocol) : 0));
	s->hello_done = true;
	*reply = r;
	return 0;
}

static int cmd_ping(struct agent *ag, struct cmd_session *s, json_t *req, json_t **reply,
		    struct cmd_error *err)
{
	(void)s;
	(void)req;
	*reply = json_pack("{s:I}", "uptime_ms", (json_int_t)agent_uptime_ms(ag));
	return *reply ? 0 : fail(err, PROTO_E_INTERNAL, "out of memory");
}

static int cmd_shutdown(struct agent *ag, struct cmd_session *s, json_t *req, json_t **reply,
			struct cmd_error *err)
{
	(void)req;
	*reply = json_object();
	if (!*reply)
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	pr_info(&ag->log, "shutdown requested", SESSION_FIELDS(s));
	agent_stop(ag, "shutdown request");
	return 0;
}

static const struct cmd cmd_table[] = {
	{ PROTO_T_HELLO, true, cmd_hello },
	{ PROTO_T_PING, false, cmd_ping },
	{ PROTO_T_SHUTDOWN, false, cmd_shutdown },
};

/*
 * An unknown type is reported as UNKNOWN_TYPE even before hello: it is the
 * more useful answer (nothing the client does next will make it known).
 */
int cmd_dispatch(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		 const uint8_t *payload, json_t **reply, struct cmd_error *err)
{
	const struct cmd *cmd = NULL;
	json_error_t jerr;
	json_t *req;
	int ret;

	*reply = NULL;
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
		if (cmd_table[i].type == h->type) {
			cmd = &cmd_table[i];
			break;
		}
	}
	if (!cmd)
		return fail(err, PROTO_E_UNKNOWN_TYPE, "unknown message type 0x%02x", h->type);
	if (!s->hello_done && !cmd->before_hello)
		return fail(err, PROTO_E_NOT_NEGOTIATED, "send hello before %s",
			    proto_type_name(h->type));

	/* duplicate keys are rejected: two readers could disagree on which one counts */
	if (!h->length) {
		req = json_object();
		if (!req)
			return fail(err, PROTO_E_INTERNAL, "out of memory");
	} else {
		req = json_loadb((const char *)payload, h->length, JSON_REJECT_DUPLICATES, &jerr);
		if (!req)
			return fail(err, PROTO_E_BAD_PAYLOAD, "payload is not valid JSON: %s at byte %d",
				    jerr.text, jerr.position);
	}
	if (!json_is_object(req)) {
		json_decref(req);
		return fail(err, PROTO_E_BAD_PAYLOAD, "payload must be a JSON object");
	}
	ret = cmd->fn(ag, s, req, reply, err);
	json_decref(req);
	return ret;
}
