/*
 * Control commands (PROTOCOL.md §1.3, §1.8): the table that routes each
 * message type to its subsystem.  A new message type is one handler and
 * one line in cmd_table; the checks every request goes through
 * (negotiation, payload is a JSON object) live in dispatch_command() once.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "attach.h"
#include "cmd.h"
#include "dispatch.h"
#include "jx.h"
#include "mig.h"
#include "notify.h"
#include "region.h"
#include "restore.h"
#include "imgjob.h"
#include "snap.h"

#define LOG_COMP "cmd"
#include "log.h"

typedef int (*cmd_fn)(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		      json_t *req, json_t **reply, struct cmd_error *err);

struct cmd {
	uint8_t type;
	bool before_hello;
	cmd_fn fn;
};

#define SESSION_FIELDS(s) LF_UINT("conn", (s)->conn), LF_INT("pid", (s)->pid), LF_UINT("uid", (s)->uid)

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
	jx_put(u, "available", json_boolean(p->available), &ok);
	jx_put(u, "source", p->available ? json_string(uffd_source_name(p->source)) : json_null(), &ok);
	jx_put(u, "user_mode_only", json_boolean(p->user_mode_only), &ok);
	jx_put(u, "api", json_integer((json_int_t)p->api), &ok);
	n = uffd_feature_names(p->features, names, 64);
	jx_put(u, "features", names_array(names, n), &ok);
	jx_put(u, "feature_bits", json_integer((json_int_t)p->features), &ok);
	n = uffd_ioctl_names(p->ioctls, names, 64);
	jx_put(u, "ioctls", names_array(names, n), &ok);
	jx_put(u, "pagemap_scan", json_boolean(p->pagemap_scan), &ok);
	jx_put(u, "error", p->available ? json_null() : json_string(p->error), &ok);
	if (!ok) {
		json_decref(u);
		return NULL;
	}
	return u;
}

static int cmd_hello(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		     json_t *req, json_t **reply, struct cmd_error *err)
{
	json_t *client = json_object_get(req, "client");
	json_t *protocol = json_object_get(req, "protocol");
	json_t *r, *kernel;
	bool ok = true;

	(void)h;
	if (cmd_check_hello(req, err))
		return -1;
	r = json_object();
	kernel = json_object();
	if (!r || !kernel) {
		json_decref(r);
		json_decref(kernel);
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	jx_put(kernel, "sysname", json_string(ag->uts.sysname), &ok);
	jx_put(kernel, "release", json_string(ag->uts.release), &ok);
	jx_put(kernel, "machine", json_string(ag->uts.machine), &ok);
	jx_put(r, "agent", json_string(AGENT_NAME), &ok);
	jx_put(r, "version", json_string(AGENT_VERSION), &ok);
	/* the version spoken on this connection; the client adapts to it */
	jx_put(r, "protocol", json_integer(PROTO_VERSION), &ok);
	jx_put(r, "pid", json_integer(ag->pid), &ok);
	jx_put(r, "max_payload", json_integer(PROTO_MAX_PAYLOAD), &ok);
	jx_put(r, "kernel", kernel, &ok);
	jx_put(r, "uffd", uffd_json(&ag->uffd), &ok);
	jx_put(r, "handoff_socket", json_string(ag->opts.handoff_socket), &ok);
	jx_put(r, "workers", json_integer(ag->opts.workers), &ok);
	jx_put(r, "limits", json_pack("{s:I, s:I}", "max_clients", (json_int_t)ag->opts.max_clients,
				      "nofile", (json_int_t)(ag->nofile > INT64_MAX ? INT64_MAX : ag->nofile)),
	       &ok);
	if (!ok) {
		json_decref(r);
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot build hello reply");
	}

	if (!s->hello_done)
		pr_info(&ag->log, "client hello", SESSION_FIELDS(s),
			LF_STR("client", client ? json_string_value(client) : ""),
			LF_INT("protocol", protocol ? json_integer_value(protocol) : 0));
	s->hello_done = true;
	*reply = r;
	return 0;
}

static int cmd_ping(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		    json_t *req, json_t **reply, struct cmd_error *err)
{
	json_int_t regions = 0;

	(void)s;
	(void)h;
	(void)req;
	/* what a subscriber's copy must hold once it applied every event up to seq (§1.11) */
	for (struct region *r = ag->regions->head; r; r = r->ctl.next)
		regions += region_state(r) != REGION_DETACHED;
	*reply = json_pack("{s:I, s:I, s:I}", "uptime_ms", (json_int_t)agent_uptime_ms(ag), "seq",
			   (json_int_t)notify_seq(ag), "regions", regions);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static int cmd_shutdown(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			json_t *req, json_t **reply, struct cmd_error *err)
{
	(void)h;
	(void)req;
	*reply = json_object();
	if (!*reply)
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	pr_info(&ag->log, "shutdown requested", SESSION_FIELDS(s));
	agent_stop(ag, "shutdown request");
	return 0;
}

/* {"id": "<uuid>"} naming an existing region or session. */
static const char *get_id(json_t *req, struct cmd_error *err)
{
	json_t *id = json_object_get(req, "id");

	if (!json_is_string(id)) {
		cmd_fail(err, PROTO_E_BAD_REQUEST, "\"id\" must be a string");
		return NULL;
	}
	return json_string_value(id);
}

static int get_bool(json_t *req, const char *key, bool dflt, bool *out, struct cmd_error *err)
{
	json_t *v = json_object_get(req, key);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/*
 * Lists in pages (PROTOCOL.md §1.3): a request with "after" or "limit" gets the
 * items whose id sorts after "after" ("" = from the first), in id order, as
 * many as "limit" and LIST_PAGE_BYTES allow (at least one), and "next": the
 * last id given when more follow, else null.  Ids never change, so a reader
 * that pages to the end has seen every item present from its first request
 * to its last; what changed meanwhile comes as change events (§1.11).  A
 * request without either gets everything in one reply, as before pages, and
 * fails once that is beyond max_payload.
 */
#define LIST_PAGE_BYTES (PROTO_MAX_PAYLOAD / 4 * 3) /* room for the envelope */
#define LIST_PAGE_LIMIT_MAX 10000

struct list_req {
	bool paged;
	const char *after;
	unsigned limit;
};

struct list_item {
	const char *id;
	const void *obj;
};

static int get_list_req(json_t *req, struct list_req *l, struct cmd_error *err)
{
	json_t *after = json_object_get(req, "after"), *limit = json_object_get(req, "limit");

	l->paged = after || limit;
	l->after = "";
	l->limit = LIST_PAGE_LIMIT_MAX;
	if (after && !json_is_string(after))
		return cmd_fail(err, PROTO_E_BAD_REQUEST,
				"\"after\" must be a string: the \"next\" of the previous page, or \"\"");
	if (after)
		l->after = json_string_value(after);
	if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
		      json_integer_value(limit) > LIST_PAGE_LIMIT_MAX))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"limit\" must be an integer from 1 to %d",
				LIST_PAGE_LIMIT_MAX);
	if (limit)
		l->limit = (unsigned)json_integer_value(limit);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct list_item *)a)->id, ((const struct list_item *)b)->id);
}

/* {key: [...]} (and "next" when paged) of items[0..n); takes items' order over when paged. */
static int list_reply(const struct list_req *l, const char *key, struct list_item *items, size_t n,
		      json_t *(*to_json)(const void *obj), json_t **reply, struct cmd_error *err)
{
	json_t *list = json_array(), *next = NULL;
	size_t kept = 0, bytes = 0, given = 0;

	if (l->paged) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(items[i].id, l->after) > 0)
				items[kept++] = items[i];
		}
		n = kept;
		qsort(items, n, sizeof(*items), by_id);
	}
	for (size_t i = 0; list && i < n; i++) {
		json_t *j = to_json(items[i].obj);
		size_t size = j ? json_dumpb(j, NULL, 0, JSON_COMPACT) + 1 : 0;

		if (l->paged && j && given && (given == l->limit || bytes + size > LIST_PAGE_BYTES)) {
			json_decref(j);
			next = json_string(items[i - 1].id);
			if (!next)
				goto oom;
			break;
		}
		if (!j || json_array_append_new(list, j))
			goto oom;
		bytes += size;
		given++;
	}
	if (!list)
		goto oom;
	*reply = l->paged ? json_pack("{s:o, s:o}", key, list, "next", next ? next : json_null())
			  : json_pack("{s:o}", key, list);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
oom:
	json_decref(list);
	json_decref(next);
	return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static json_t *region_item(const void *obj)
{
	return region_json(obj);
}

static int cmd_region_list(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			   json_t *req, json_t **reply, struct cmd_error *err)
{
	struct list_item *items;
	struct list_req l;
	size_t n = 0, cap = 0;
	bool all;
	int rc;

	(void)s;
	(void)h;
	if (get_bool(req, "include_detached", false, &all, err) || get_list_req(req, &l, err))
		return -1;
	for (struct region *r = ag->regions->head; r; r = r->ctl.next)
		cap++;
	items = calloc(cap ? cap : 1, sizeof(*items));
	if (!items)
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	for (struct region *r = ag->regions->head; r; r = r->ctl.next) {
		if (all || region_state(r) != REGION_DETACHED)
			items[n++] = (struct list_item){ r->id, r };
	}
	rc = list_reply(&l, "regions", items, n, region_item, reply, err);
	free(items);
	return rc;
}

static int cmd_region_get(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			  json_t *req, json_t **reply, struct cmd_error *err)
{
	const char *id = get_id(req, err);
	struct region *r;

	(void)s;
	(void)h;
	if (!id)
		return -1;
	r = region_table_find(ag->regions, id);
	if (!r)
		return cmd_fail(err, PROTO_E_NOT_FOUND, "no region %.64s", id);
	*reply = region_json(r);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static int cmd_region_detach(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			     json_t *req, json_t **reply, struct cmd_error *err)
{
	const char *id = get_id(req, err);
	struct region *r;
	bool populate;

	if (!id || get_bool(req, "populate", true, &populate, err))
		return -1;
	r = region_table_find(ag->regions, id);
	if (!r)
		return cmd_fail(err, PROTO_E_NOT_FOUND, "no region %.64s", id);
	pr_info(&ag->log, "region detach requested", SESSION_FIELDS(s), LF_STR("region", id),
		LF_BOOL("populate", populate));
	return attach_detach(ag, r, populate, s->ref, h->type, h->id, reply, err);
}

static int cmd_restore_create(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			      json_t *req, json_t **reply, struct cmd_error *err)
{
	(void)s;
	(void)h;
	return restore_create(ag, req, reply, err);
}

static int cmd_restore_get(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			   json_t *req, json_t **reply, struct cmd_error *err)
{
	const char *id = get_id(req, err);
	struct restore *rs;

	(void)s;
	(void)h;
	if (!id)
		return -1;
	rs = restore_find(ag, id);
	if (!rs)
		return cmd_fail(err, PROTO_E_NOT_FOUND, "no restore session %.64s", id);
	*reply = restore_json(rs);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static json_t *restore_item(const void *obj)
{
	return restore_json(obj);
}

static int cmd_restore_list(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			    json_t *req, json_t **reply, struct cmd_error *err)
{
	struct list_item *items;
	struct list_req l;
	size_t n = 0;
	int rc;

	(void)s;
	(void)h;
	if (get_list_req(req, &l, err))
		return -1;
	for (struct restore *rs = ag->restores; rs; rs = rs->next)
		n++;
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	n = 0;
	for (struct restore *rs = ag->restores; rs; rs = rs->next)
		items[n++] = (struct list_item){ rs->id, rs };
	rc = list_reply(&l, "restores", items, n, restore_item, reply, err);
	free(items);
	return rc;
}

static int cmd_restore_delete(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			      json_t *req, json_t **reply, struct cmd_error *err)
{
	const char *id = get_id(req, err);
	struct restore *rs;

	(void)h;
	if (!id)
		return -1;
	rs = restore_find(ag, id);
	if (!rs)
		return cmd_fail(err, PROTO_E_NOT_FOUND, "no restore session %.64s", id);
	pr_info(&ag->log, "restore session delete requested", SESSION_FIELDS(s), LF_STR("id", id));
	if (restore_delete(ag, rs, err))
		return -1;
	notify_restore(ag, id, true);
	*reply = json_object();
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static int cmd_migration(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			 json_t *req, json_t **reply, struct cmd_error *err)
{
	(void)s;
	return mig_command(ag, h->type, req, reply, err);
}

/* subscribe (PROTOCOL.md §1.11): change events on this connection from now on. */
static int cmd_subscribe(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
			 json_t *req, json_t **reply, struct cmd_error *err)
{
	json_t *interval = json_object_get(req, "stats_interval_ms");
	json_int_t ms = NOTIFY_STATS_DEFAULT_MS;
	uint64_t seq;

	(void)h;
	if (interval && !json_is_integer(interval))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"stats_interval_ms\" must be an integer");
	if (interval)
		ms = json_integer_value(interval);
	if (ms < NOTIFY_STATS_MIN_MS || ms > NOTIFY_STATS_MAX_MS)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"stats_interval_ms\" must be %d to %d",
				NOTIFY_STATS_MIN_MS, NOTIFY_STATS_MAX_MS);
	if (notify_subscribe(ag, s->ref, (unsigned)ms, &seq))
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	pr_info(&ag->log, "client subscribed to events", SESSION_FIELDS(s),
		LF_UINT("stats_interval_ms", (unsigned)ms), LF_UINT("seq", seq));
	*reply = json_pack("{s:I, s:I}", "seq", (json_int_t)seq, "stats_interval_ms", ms);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static const struct cmd cmd_table[] = {
	{ PROTO_T_HELLO, true, cmd_hello },
	{ PROTO_T_PING, false, cmd_ping },
	{ PROTO_T_SHUTDOWN, false, cmd_shutdown },
	{ PROTO_T_REGION_LIST, false, cmd_region_list },
	{ PROTO_T_REGION_GET, false, cmd_region_get },
	{ PROTO_T_REGION_DETACH, false, cmd_region_detach },
	{ PROTO_T_RESTORE_CREATE, false, cmd_restore_create },
	{ PROTO_T_RESTORE_GET, false, cmd_restore_get },
	{ PROTO_T_RESTORE_LIST, false, cmd_restore_list },
	{ PROTO_T_RESTORE_DELETE, false, cmd_restore_delete },
	{ PROTO_T_MIGRATION_IN, false, cmd_migration },
	{ PROTO_T_MIGRATION_OUT, false, cmd_migration },
	{ PROTO_T_MIGRATION_GET, false, cmd_migration },
	{ PROTO_T_MIGRATION_LIST, false, cmd_migration },
	{ PROTO_T_MIGRATION_SWITCHOVER, false, cmd_migration },
	{ PROTO_T_MIGRATION_PAUSE, false, cmd_migration },
	{ PROTO_T_MIGRATION_RESUME, false, cmd_migration },
	{ PROTO_T_MIGRATION_CANCEL, false, cmd_migration },
	{ PROTO_T_MIGRATION_DELETE, false, cmd_migration },
	{ PROTO_T_SNAPSHOT_TAKE, false, snap_take },
	{ PROTO_T_SNAPSHOT_VERIFY, false, imgjob_verify },
	{ PROTO_T_SNAPSHOT_DELETE, false, imgjob_delete },
	{ PROTO_T_SNAPSHOT_CONSOLIDATE, false, imgjob_consolidate },
	{ PROTO_T_SNAPSHOT_RESTORE, false, imgjob_restore },
	{ PROTO_T_SUBSCRIBE, false, cmd_subscribe },
};

/*
 * An unknown type is reported as UNKNOWN_TYPE even before hello: it is the
 * more useful answer (nothing the client does next will make it known).
 * Returns 0 with *reply, -1 with *err, or CMD_DEFERRED.
 */
int dispatch_command(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		     const uint8_t *payload, json_t **reply, struct cmd_error *err)
{
	const struct cmd *cmd = NULL;
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
		return cmd_fail(err, PROTO_E_UNKNOWN_TYPE, "unknown message type 0x%02x", h->type);
	if (!s->hello_done && !cmd->before_hello)
		return cmd_fail(err, PROTO_E_NOT_NEGOTIATED, "send hello before %s",
				proto_type_name(h->type));
	if (cmd_parse(h, payload, &req, err))
		return -1;
	ret = cmd->fn(ag, s, h, req, reply, err);
	json_decref(req);
	return ret;
}
