/*
 * Control socket server: an srv whose requests go to dispatch_command().
 * A command may answer later (region_detach waits for the region to be
 * populated); it then registers its request with defer_ and the connection
 * keeps answering other requests meanwhile.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "cmd.h"
#include "dispatch.h"
#include "conn.h"
#include "ctl.h"
#include "srv.h"

#define LOG_COMP "ctl"
#include "log.h"

/* at shutdown, time granted to flush replies already queued */
#define CTL_DRAIN_MS 1000

static const char *type_str(uint8_t type, char buf[8])
{
	const char *name = proto_type_name(type);

	if (name)
		return name;
	snprintf(buf, 8, "0x%02x", type);
	return buf;
}

static void on_request(struct conn *c, const struct proto_hdr *h, const uint8_t *payload,
		       struct conn_fds *fds)
{
	struct agent *ag = srv_opaque(conn_srv(c));
	struct cmd_session *s = conn_opaque(c);
	struct cmd_error err = { .code = PROTO_E_INTERNAL };
	json_t *reply = NULL;
	char tbuf[8];
	int ret;

	(void)fds; /* the control socket accepts none: max_fds is 0 */
	if (ag->stopping)
		return; /* requests after a shutdown request are not processed */
	ret = dispatch_command(ag, s, h, payload, &reply, &err);
	if (ret == 0) {
		conn_reply(c, h->type, h->id, reply);
	} else if (ret < 0) {
		pr_info(&ag->log, "request failed", LF_UINT("conn", s->conn), LF_INT("pid", s->pid),
			LF_UINT("uid", s->uid), LF_STR("type", type_str(h->type, tbuf)),
			LF_UINT("id", h->id), LF_STR("code", proto_err_code(err.code)),
			LF_STR("message", err.message));
		conn_error(c, h->type, h->id, err.code, err.message);
	}
	pr_debug(&ag->log, "request", LF_UINT("conn", s->conn), LF_INT("pid", s->pid),
		 LF_UINT("uid", s->uid), LF_STR("type", type_str(h->type, tbuf)),
		 LF_UINT("id", h->id), LF_UINT("length", h->length),
		 LF_STR("outcome", ret == 0 ? "ok" : ret > 0 ? "deferred" : "error"));
	json_decref(reply);
	if (ag->stopping)
		conn_close(c, "agent stopping");
}

static int on_open(struct conn *c)
{
	const struct conn_peer *p = conn_peer(c);
	struct cmd_session *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->conn = p->serial;
	s->pid = p->pid;
	s->uid = p->uid;
	s->ref = conn_ref(c);
	conn_set_opaque(c, s);
	return 0;
}

static void on_close(struct conn *c)
{
	free(conn_opaque(c));
}

static const struct conn_ops ctl_ops = {
	.request = on_request,
	.opened = on_open,
	.closed = on_close,
};

struct srv *ctl_start(struct agent *ag)
{
	struct srv_cfg cfg = {
		.comp = LOG_COMP,
		.path = ag->opts.socket_path,
		.mode = 0600,
		.lock = true,
		.max_clients = ag->opts.max_clients,
		.stall_timeout_ms = ag->opts.stall_timeout_ms,
		.drain_ms = CTL_DRAIN_MS,
		.allow_uids = ag->opts.allow_uids,
		.n_allow_uids = ag->opts.n_allow_uids,
		.ops = &ctl_ops,
		.opaque = ag,
	};

	return srv_start(&ag->loop, &ag->log, ag->hub, &cfg);
}
