/*
 * Handoff sockets; see handoff.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "attach.h"
#include "cmd.h"
#include "conn.h"
#include "handoff.h"
#include "hsk.h"
#include "mig.h"
#include "restore.h"
#include "snap.h"
#include "srv.h"

#define LOG_COMP "handoff"
#include "log.h"

struct handoff {
	struct agent *ag;
	struct restore *session; /* NULL: the general socket */
	struct mig *mig;         /* a migration's session socket (destination) */
};

struct hconn {
	bool hello_done;
	bool fc_done; /* Firecracker's handshake was taken; anything after is ignored */
};

#define PEER_FIELDS(c)                                                                 \
	LF_UINT("conn", conn_peer(c)->serial), LF_INT("pid", conn_peer(c)->pid), \
		LF_UINT("uid", conn_peer(c)->uid)

static int hello(struct handoff *hf, struct conn *c, json_t *req, json_t **reply,
		 struct cmd_error *err)
{
	json_t *session = hf->session ? restore_json(hf->session) : json_null();
	json_t *client = json_object_get(req, "client");

	if (cmd_check_hello(req, err)) {
		json_decref(session);
		return -1;
	}
	*reply = json_pack("{s:s, s:s, s:i, s:i, s:o*, s:o*}", "agent", AGENT_NAME, "version",
			   AGENT_VERSION, "protocol", PROTO_VERSION, "pid", (int)hf->ag->pid,
			   "restore", session, "migration", hf->mig ? mig_json(hf->mig) : json_null());
	if (!*reply)
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	pr_info(&hf->ag->log, "workload hello", PEER_FIELDS(c),
		LF_STR("client", json_is_string(client) ? json_string_value(client) : ""),
		LF_STR("restore", hf->session ? hf->session->id : ""));
	return 0;
}

static int dispatch(struct handoff *hf, struct conn *c, const struct proto_hdr *h, json_t *req,
		    struct conn_fds *fds, json_t **reply, struct cmd_error *err)
{
	struct hconn *hc = conn_opaque(c);
	unsigned want;
	int fd, hold_fd;

	switch (h->type) {
	case PROTO_T_HELLO:
		if (hello(hf, c, req, reply, err))
			return -1;
		hc->hello_done = true;
		return 0;
	case PROTO_T_PING:
		*reply = json_pack("{s:I}", "uptime_ms", (json_int_t)agent_uptime_ms(hf->ag));
		return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	case PROTO_T_REGION_REGISTER:
		/* the hold uffd is the second descriptor, announced in the payload */
		want = json_is_true(json_object_get(req, "hold_uffd")) ? 2 : 1;
		if (fds->n != want)
			return cmd_fail(err, PROTO_E_BAD_REQUEST,
					"region_register carries %u uffd%s (SCM_RIGHTS)%s, got %u", want,
					want == 1 ? "" : "s",
					want == 1 ? "" : ": the uffd and the hold uffd", fds->n);
		fd = fds->fd[0];
		hold_fd = want == 2 ? fds->fd[1] : -1;
		fds->fd[0] = fds->fd[1] = -1;
		if (hf->mig) {
			if (hold_fd >= 0)
				close(hold_fd);
			return mig_dst_register(hf->mig, c, req, fd, reply, err);
		}
		if (hf->session && !hf->session->image) {
			close(fd);
			if (hold_fd >= 0)
				close(hold_fd);
			return cmd_fail(err, PROTO_E_CONFLICT, "the session failed: %s",
					hf->session->error ? hf->session->error : "no image");
		}
		return attach_register(hf->ag, c, hf->session, h, req, fd, hold_fd, reply, err);
	case PROTO_T_CLONE_MEMORY:
		if (!hf->session)
			return cmd_fail(err, PROTO_E_CONFLICT,
					"clone_memory is asked on a restore session's socket, not here");
		fd = restore_clone_fd(hf->session, reply, err);
		if (fd < 0)
			return -1;
		if (conn_reply_fd(c, h->type, h->id, *reply, fd)) {
			close(fd);
			json_decref(*reply);
			*reply = NULL;
			return cmd_fail(err, PROTO_E_INTERNAL, "cannot send the shared memory: %s",
					strerror(errno));
		}
		pr_info(&hf->ag->log, "shared memory handed to a clone", PEER_FIELDS(c),
			LF_STR("restore", hf->session->id));
		json_decref(*reply);
		*reply = NULL;
		return 1; /* replied */
	case PROTO_T_REGION_UNREGISTER:
		if (attach_unregister(hf->ag, conn_peer(c), req, err))
			return -1;
		*reply = json_object();
		return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	return cmd_fail(err, PROTO_E_UNKNOWN_TYPE, "unknown message type 0x%02x", h->type);
}

static bool known_type(uint8_t type)
{
	return type == PROTO_T_HELLO || type == PROTO_T_PING || type == PROTO_T_REGION_REGISTER ||
	       type == PROTO_T_REGION_UNREGISTER || type == PROTO_T_CLONE_MEMORY;
}

static void on_request(struct conn *c, const struct proto_hdr *h, const uint8_t *payload,
		       struct conn_fds *fds)
{
	struct handoff *hf = srv_opaque(conn_srv(c));
	struct hconn *hc = conn_opaque(c);
	struct cmd_error err = { .code = PROTO_E_INTERNAL };
	json_t *req = NULL, *reply = NULL;
	int ret = -1;

	if (!known_type(h->type))
		cmd_fail(&err, PROTO_E_UNKNOWN_TYPE, "unknown message type 0x%02x", h->type);
	else if (!hc->hello_done && h->type != PROTO_T_HELLO)
		cmd_fail(&err, PROTO_E_NOT_NEGOTIATED, "send hello before %s", proto_type_name(h->type));
	else if (!cmd_parse(h, payload, &req, &err))
		ret = dispatch(hf, c, h, req, fds, &reply, &err);
	if (ret == 0) {
		conn_reply(c, h->type, h->id, reply);
	} else if (ret < 0) {
		pr_info(&hf->ag->log, "workload request failed", PEER_FIELDS(c),
			LF_UINT("type", h->type), LF_STR("code", proto_err_code(err.code)),
			LF_STR("message", err.message));
		conn_error(c, h->type, h->id, err.code, err.message);
	}
	json_decref(reply);
	json_decref(req);
}

/* Replies to region_detached are only noted; those to quiesce go to the snapshot waiting. */
static void on_reply(struct conn *c, const struct proto_hdr *h, const uint8_t *payload)
{
	struct handoff *hf = srv_opaque(conn_srv(c));

	pr_debug(&hf->ag->log, "workload replied", PEER_FIELDS(c), LF_UINT("type", h->type),
		 LF_UINT("id", h->id), LF_BOOL("error", h->flags & PROTO_F_ERROR));
	if (h->type == PROTO_T_QUIESCE)
		snap_quiesce_reply(hf->ag, c, h, payload);
}

static bool raw_first(uint8_t b)
{
	return b == '[';
}

/*
 * Firecracker: one JSON array, the uffd with its first byte, then nothing.
 * The connection stays open (Firecracker may keep it) but is not read for
 * meaning any more.
 */
static ssize_t on_raw(struct conn *c, const uint8_t *buf, size_t len, bool eof)
{
	struct handoff *hf = srv_opaque(conn_srv(c));
	struct hconn *hc = conn_opaque(c);
	struct hsk_fc_region regs[HSK_FC_MAX_REGIONS];
	struct conn_fds fds;
	char why[256];
	unsigned n;
	ssize_t end;

	if (hc->fc_done) {
		if (len)
			pr_warn(&hf->ag->log, "bytes after Firecracker's handshake ignored",
				PEER_FIELDS(c), LF_UINT("bytes", len));
		return (ssize_t)len;
	}
	if (!hf->session || hf->mig) {
		pr_warn(&hf->ag->log, "Firecracker handshake on the general socket refused: "
				      "it needs a restore session socket", PEER_FIELDS(c));
		return -1;
	}
	end = hsk_fc_scan(buf, len);
	if (end == 0 && !eof)
		return 0;
	conn_take_fds(c, 0, &fds);
	if (end <= 0) {
		snprintf(why, sizeof(why), end < 0 ? "not a Firecracker handshake"
						   : "connection closed inside the handshake");
	} else if (fds.n != 1) {
		snprintf(why, sizeof(why), "the handshake must carry exactly one uffd, got %u", fds.n);
	} else if (!hsk_fc_parse((const char *)buf, (size_t)end, (uint32_t)sysconf(_SC_PAGESIZE),
				 regs, HSK_FC_MAX_REGIONS, &n, why, sizeof(why))) {
		int fd = fds.fd[0];

		fds.fd[0] = -1; /* attach_firecracker() owns it, also when it fails */
		if (!attach_firecracker(hf->ag, c, hf->session, regs, n, fd, why, sizeof(why))) {
			hc->fc_done = true;
			pr_info(&hf->ag->log, "Firecracker handshake accepted", PEER_FIELDS(c),
				LF_UINT("regions", n), LF_STR("restore", hf->session->id));
			return end;
		}
	}
	for (unsigned i = 0; i < fds.n; i++) {
		if (fds.fd[i] >= 0)
			close(fds.fd[i]);
	}
	/* the session stays usable: a peer that cannot speak is not the session's failure */
	pr_err(&hf->ag->log, "Firecracker handshake refused", PEER_FIELDS(c), LF_STR("reason", why));
	return -1;
}

static int on_open(struct conn *c)
{
	struct hconn *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return -1;
	conn_set_opaque(c, hc);
	return 0;
}

static void on_close(struct conn *c)
{
	free(conn_opaque(c));
}

static const struct conn_ops handoff_ops = {
	.request = on_request,
	.reply = on_reply,
	.raw_first = raw_first,
	.raw = on_raw,
	.opened = on_open,
	.closed = on_close,
};

static struct srv *start(struct agent *ag, const char *path, struct restore *session,
			 struct mig *m)
{
	struct handoff *hf = calloc(1, sizeof(*hf));
	struct srv_cfg cfg = {
		.comp = LOG_COMP,
		.path = path,
		.mode = 0666,
		/* session sockets live in the state directory, locked already */
		.lock = !session && !m,
		.max_clients = ag->opts.max_clients,
		.stall_timeout_ms = ag->opts.stall_timeout_ms,
		.max_fds = CONN_MAX_FDS,
		.allow_uids = ag->opts.handoff_uids,
		.n_allow_uids = ag->opts.n_handoff_uids,
		.ops = &handoff_ops,
		.opaque = hf,
	};
	struct srv *srv;

	if (!hf)
		return NULL;
	hf->ag = ag;
	hf->session = session;
	hf->mig = m;
	srv = srv_start(&ag->loop, &ag->log, ag->hub, &cfg);
	if (!srv)
		free(hf);
	return srv;
}

struct srv *handoff_start(struct agent *ag, const char *path, struct restore *session)
{
	return start(ag, path, session, NULL);
}

/* A migration's session socket: the destination workload attaches here by region name. */
struct srv *handoff_start_migration(struct agent *ag, const char *path, struct mig *m)
{
	return start(ag, path, NULL, m);
}

void handoff_stop(struct srv *srv)
{
	struct handoff *hf;

	if (!srv)
		return;
	hf = srv_opaque(srv);
	srv_stop(srv);
	free(hf);
}
