/*
 * snapshot_take and the paths of snapshot requests; see snap.h.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "agent.h"
#include "capture.h"
#include "inflight.h"
#include "snap.h"
#include "snapfile.h"

#define LOG_COMP "snapshot"
#include "log.h"

/* capture tunables (docs/snapshots.md "How a capture works") */
#define SNAP_ROUND_CHUNK_PAGES 4096u /* pages protected per step of a non-final round */
#define SNAP_FINAL_PAGES 256u        /* a round this small is the final one */
#define SNAP_MAX_ROUNDS 8u
#define SNAP_STEP_PAGES 2048u        /* pages the background saves per step */
#define SNAP_QUIESCE_TIMEOUT_MS 5000u

/* A snapshot_take being captured by a fault worker. */
struct take {
	struct take *next;
	struct capture *cap; /* the worker's until FAULT_CAPTURE_DONE */
	uint64_t key;        /* deferred reply */
	char region_id[JX_UUID_LEN + 1];
	char snapshot_id[JX_UUID_LEN + 1]; /* recorded in flight (inflight.h) */
	char *path;
	bool incremental;
	bool quiesce_asked;
	uint64_t pages_total;
	/* quiesce (PROTOCOL.md §2.1): BEGIN sent, its reply awaited until the timer fires */
	struct agent *ag;
	struct conn_ref qconn;
	uint64_t qid;
	bool q_waiting, q_end_due, timer_on;
	struct loop_timer qtimer;
};

/* ---- paths ----------------------------------------------------------------- */

static bool inside(const char *path, const char *dir)
{
	char real[PATH_MAX];
	size_t n;

	if (!realpath(dir, real))
		return false;
	n = strlen(real);
	if (n == 1)
		return true;
	return !strncmp(path, real, n) && path[n] == '/';
}

/*
 * A snapshot path: absolute, its directory inside an allowed snapshot
 * directory after resolving symlinks (the file itself may not exist yet;
 * it is opened with O_NOFOLLOW).  out: the directory resolved + the name.
 */
int snap_check_path(struct agent *ag, json_t *v, const char *what, char *out, size_t out_len,
		    struct cmd_error *err)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *p, *slash;
	bool allowed = false;

	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must be an absolute path", what);
	p = json_string_value(v);
	slash = strrchr(p, '/');
	if (!slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..") ||
	    (size_t)(slash - p) >= sizeof(dir))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must name a file", what);
	memcpy(dir, p, (size_t)(slash - p));
	dir[slash - p] = '\0';
	if (!dir[0])
		strcpy(dir, "/");
	if (!realpath(dir, real)) {
		int e = errno;

		for (unsigned i = 0; i < ag->opts.n_snapshot_dirs && !allowed; i++)
			allowed = inside(dir, ag->opts.snapshot_dirs[i]);
		/* inside: the directory is missing (NOT_FOUND: nothing there to verify or delete) */
		return allowed ? cmd_fail(err, e == ENOENT ? PROTO_E_NOT_FOUND : PROTO_E_BAD_REQUEST,
				      "%s: %s", dir, strerror(e))
			       : cmd_fail(err, PROTO_E_PERMISSION_DENIED,
				      "%s is outside the allowed snapshot directories", p);
	}
	for (unsigned i = 0; i < ag->opts.n_snapshot_dirs && !allowed; i++)
		allowed = inside(real, ag->opts.snapshot_dirs[i]) ||
			  !strcmp(real, ag->opts.snapshot_dirs[i]);
	if (!allowed) {
		/* the directory itself may be the allowed one, spelled through a symlink */
		for (unsigned i = 0; i < ag->opts.n_snapshot_dirs && !allowed; i++) {
			char d[PATH_MAX];

			allowed = realpath(ag->opts.snapshot_dirs[i], d) && !strcmp(d, real);
		}
	}
	if (!allowed)
		return cmd_fail(err, PROTO_E_PERMISSION_DENIED,
			    "%s is outside the allowed snapshot directories", p);
	if ((size_t)snprintf(out, out_len, "%s/%s", strcmp(real, "/") ? real : "", slash + 1) >= out_len)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"%s\" is too long", what);
	return 0;
}

static bool path_allowed(struct agent *ag, const char *path)
{
	json_t *v = json_string(path);
	struct cmd_error err;
	char out[PATH_MAX];
	bool ok = v && !snap_check_path(ag, v, "path", out, sizeof(out), &err) && !strcmp(out, path);

	json_decref(v);
	return ok;
}

void snap_recover(struct agent *ag)
{
	inflight_recover(ag, path_allowed);
}

static bool same_path(const struct take *t, const char *path)
{
	return !strcmp(t->path, path);
}

static struct take *take_on(struct agent *ag, const char *path)
{
	for (struct take *t = ag->takes; t; t = t->next) {
		if (same_path(t, path))
			return t;
	}
	return NULL;
}

bool snap_writing(struct agent *ag, const char *path)
{
	return take_on(ag, path) != NULL;
}

/* ---- snapshot_take ----------------------------------------------------------- */

/* The largest image a region can give: every page stored, and the metadata. */
static uint64_t upper_bound(const struct region *r)
{
	return SNAPIMG_DATA_OFFSET + r->length +
	       (r->length / (SNAPIMG_MAX_CHUNK_PAGES * (uint64_t)r->page_size) + 1) *
		       (SNAPIMG_CHUNK_HDR_LEN + SNAPIMG_INDEX_LEN) +
	       snapimg_map_len(r->n_pages) + 8 * r->n_pages;
}

static int check_space(const char *path, uint64_t need, struct cmd_error *err)
{
	char dir[PATH_MAX];
	struct statvfs sv;
	uint64_t avail;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (statvfs(dir, &sv))
		return cmd_fail(err, PROTO_E_INTERNAL, "statvfs %s: %s", dir, strerror(errno));
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < need)
		return cmd_fail(err, PROTO_E_NO_SPACE,
			    "not enough free space in %s: %llu bytes available, the image may need up"
			    " to %llu", dir, (unsigned long long)avail, (unsigned long long)need);
	return 0;
}

static int parse_parent(struct agent *ag, json_t *parent, struct region *r,
			struct snapimg_hdr *hdr, struct cap_req *cq, struct cmd_error *err)
{
	json_t *pid = json_object_get(parent, "snapshot_id");
	char path[PATH_MAX], why[512], idstr[37];
	struct snapfile f;

	if (!json_is_object(parent))
		return cmd_fail(err, PROTO_E_BAD_REQUEST,
			    "\"parent\" must be {\"snapshot_id\", \"path\"} for an incremental snapshot");
	if (!json_is_string(pid) || !jx_uuid_valid(json_string_value(pid)))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"parent.snapshot_id\" must be a lower-case UUID");
	if (snap_check_path(ag, json_object_get(parent, "path"), "parent.path", path, sizeof(path), err))
		return -1;
	if (snapfile_open(&f, path, why, sizeof(why)))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "parent image refused: %s", why);
	snapimg_id_str(f.im.h.snapshot_id, idstr);
	if (strcmp(idstr, json_string_value(pid))) {
		snapfile_close(&f);
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "parent image %s is snapshot %s, not %s", path,
			    idstr, json_string_value(pid));
	}
	if (f.im.h.page_size != r->page_size || f.im.h.page_count != r->n_pages) {
		snapfile_close(&f);
		return cmd_fail(err, PROTO_E_BAD_REQUEST,
			    "parent image %s has %llu pages of %u bytes; region %s has %llu of %u", path,
			    (unsigned long long)f.im.h.page_count, f.im.h.page_size, r->id,
			    (unsigned long long)r->n_pages, r->page_size);
	}
	memcpy(hdr->parent_id, f.im.h.snapshot_id, SNAPIMG_ID_LEN);
	memcpy(hdr->parent_content_id, f.im.h.content_id, SNAPIMG_ID_LEN);
	snprintf(cq->parent_id, sizeof(cq->parent_id), "%s", idstr);
	snapfile_close(&f);
	return 0;
}

static void take_free(struct agent *ag, struct take *t)
{
	for (struct take **pp = &ag->takes; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	if (t->timer_on)
		loop_timer_fini(&ag->loop, &t->qtimer);
	inflight_done(ag, t->snapshot_id);
	free(t->path);
	free(t);
}

/* A take that never reached its worker: answered, its writer (and .tmp) gone. */
static void take_abort(struct agent *ag, struct take *t, enum proto_err code, const char *why)
{
	defer_fail(&ag->defer, ag->hub, t->key, code, why);
	snapw_free(t->cap->w);
	free(t->cap);
	take_free(ag, t);
}

/* The capture goes to the region's worker (after quiesce BEGIN was answered or timed out). */
static void start_capture(struct agent *ag, struct take *t)
{
	struct region *r = region_table_find(ag->regions, t->region_id);

	if (!r || region_state(r) != REGION_ATTACHED) {
		take_abort(ag, t, PROTO_E_CONFLICT, "the region was released before its snapshot started");
		return;
	}
	if (fault_strategy(ag->engine, r, &cap_strategy, t->cap))
		take_abort(ag, t, PROTO_E_INTERNAL, "out of memory");
}

/* quiesce END: the workload may resume its I/O (after T, or when the capture ended early). */
static void quiesce_end(struct agent *ag, struct take *t)
{
	struct conn *c;
	json_t *body;
	uint64_t id;

	if (!t->q_end_due)
		return;
	t->q_end_due = false;
	c = srv_hub_find(ag->hub, t->qconn);
	body = json_pack("{s:s, s:s}", "phase", "end", "region_id", t->region_id);
	if (!c || !body || conn_request(c, PROTO_T_QUIESCE, body, &id))
		pr_warn(&ag->log, "cannot tell the workload to resume after its snapshot",
			LF_STR("region", t->region_id));
	json_decref(body);
}

static void quiesce_timeout(struct loop *lp, struct loop_timer *tm)
{
	struct take *t = tm->opaque;

	(void)lp;
	if (!t->q_waiting)
		return;
	t->q_waiting = false;
	t->q_end_due = true; /* it may quiesce late: tell it to resume in any case */
	t->cap->req.quiesced = SNAPIMG_Q_TIMEOUT;
	pr_warn(&t->ag->log, "the workload did not confirm quiesce in time",
		LF_STR("snapshot", t->cap->req.snapshot_id), LF_STR("region", t->region_id));
	loop_timer_arm(&t->qtimer, 0, 0);
	start_capture(t->ag, t);
}

/*
 * quiesce BEGIN on the connection that registered the region.  A region
 * without one (Firecracker, or its connection is gone) cannot confirm:
 * "no", at once.
 */
static void quiesce_begin(struct agent *ag, struct take *t, struct region *r, uint64_t timeout_ms)
{
	struct conn *c = srv_hub_find(ag->hub, r->ctl.conn);
	json_t *body = json_pack("{s:s, s:s, s:I}", "phase", "begin", "region_id", r->id, "timeout_ms",
				 (json_int_t)timeout_ms);

	t->cap->req.quiesced = SNAPIMG_Q_NO;
	if (c && body && r->source == REGION_SRC_LIBFAULTLINE &&
	    !loop_timer_init(&ag->loop, &t->qtimer, quiesce_timeout, t)) {
		t->timer_on = true;
		if (conn_request(c, PROTO_T_QUIESCE, body, &t->qid))
			c = NULL;
	} else {
		c = NULL;
	}
	json_decref(body);
	if (!c) {
		start_capture(ag, t);
		return;
	}
	t->qconn = r->ctl.conn;
	t->q_waiting = true;
	loop_timer_arm(&t->qtimer, timeout_ms ? timeout_ms : 1, 0);
}

/* A workload's reply to quiesce (handoff.c): BEGIN answered, the capture starts. */
void snap_quiesce_reply(struct agent *ag, struct conn *c, const struct proto_hdr *h,
			const uint8_t *payload)
{
	struct conn_ref ref = conn_ref(c);
	json_t *body;

	for (struct take *t = ag->takes; t; t = t->next) {
		if (!t->q_waiting || t->qid != h->id || t->qconn.server != ref.server ||
		    t->qconn.serial != ref.serial)
			continue;
		body = h->length ? json_loadb((const char *)payload, h->length, 0, NULL) : NULL;
		t->q_waiting = false;
		loop_timer_arm(&t->qtimer, 0, 0);
		if (!(h->flags & PROTO_F_ERROR) && json_is_true(json_object_get(body, "quiesced"))) {
			t->cap->req.quiesced = SNAPIMG_Q_YES;
			t->q_end_due = true;
		}
		pr_info(&ag->log, "quiesce answered", LF_STR("snapshot", t->cap->req.snapshot_id),
			LF_STR("region", t->region_id),
			LF_BOOL("quiesced", t->cap->req.quiesced == SNAPIMG_Q_YES),
			LF_STR("reason", json_is_string(json_object_get(body, "reason"))
						 ? json_string_value(json_object_get(body, "reason")) : ""));
		json_decref(body);
		start_capture(ag, t);
		return;
	}
}

int snap_take(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
	      json_t **reply, struct cmd_error *err)
{
	json_t *sid = json_object_get(req, "snapshot_id"), *rid = json_object_get(req, "region_id");
	json_t *kind = json_object_get(req, "kind"), *parent = json_object_get(req, "parent");
	json_t *quiesce = json_object_get(req, "quiesce");
	json_t *qto = json_object_get(req, "quiesce_timeout_ms");
	struct snapw_cfg wcfg = { .compress = ag->opts.snapshot_compress != 0,
				  .level = (int)ag->opts.snapshot_compress,
				  .buffer_bytes = ag->opts.snapshot_buffer_bytes };
	char path[PATH_MAX], content[JX_UUID_LEN + 1], why[512], mig[JX_UUID_LEN + 1];
	struct capture *cap = NULL;
	struct take *t = NULL;
	struct region *r;
	struct stat st;
	bool incremental;

	(void)reply;
	if (!json_is_string(sid) || !jx_uuid_valid(json_string_value(sid)))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"snapshot_id\" must be a lower-case UUID");
	if (!json_is_string(rid))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"region_id\" must be a string");
	if (kind && (!json_is_string(kind) || (strcmp(json_string_value(kind), "full") &&
					       strcmp(json_string_value(kind), "incremental"))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"kind\" must be full or incremental");
	incremental = kind && !strcmp(json_string_value(kind), "incremental");
	if (quiesce && !json_is_boolean(quiesce))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"quiesce\" must be true or false");
	if (qto && (!json_is_integer(qto) || json_integer_value(qto) < 0 ||
		    json_integer_value(qto) > 600000))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"quiesce_timeout_ms\" must be 0..600000");
	if (!incremental && parent && !json_is_null(parent))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "a full snapshot has no \"parent\"");
	r = region_table_find(ag->regions, json_string_value(rid));
	if (!r)
		return cmd_fail(err, PROTO_E_NOT_FOUND, "no region %.64s", json_string_value(rid));
	if (region_state(r) != REGION_ATTACHED)
		return cmd_fail(err, PROTO_E_CONFLICT, "region %s is not attached", r->id);
	if (!r->hold)
		return cmd_fail(err, PROTO_E_CONFLICT,
			    "region %s was registered without a hold uffd (no wp mode, or a kernel"
			    " without WP_ASYNC/WP_UNPOPULATED): it cannot be snapshotted consistently",
			    r->id);
	/* a missing page of a lazily restored region is in its image, not zero: not capturable yet */
	if (r->kind == REGION_IMAGE && !r->ctl.complete)
		return cmd_fail(err, PROTO_E_CONFLICT,
			    "region %s is still being restored lazily (%llu of %llu pages present); take"
			    " the snapshot once its restore is COMPLETE", r->id,
			    (unsigned long long)region_stat(&r->st.present), (unsigned long long)r->n_pages);
	/* a migration drives the same hold uffd, and a migrated region's writers are held for good */
	if (agent_hold_driver(ag, r->id, "snapshot", mig, sizeof(mig)))
		return cmd_fail(err, PROTO_E_CONFLICT, "region %s is the source of migration %s", r->id, mig);
	if (snap_check_path(ag, json_object_get(req, "path"), "path", path, sizeof(path), err))
		return -1;
	if (take_on(ag, path))
		return cmd_fail(err, PROTO_E_CONFLICT, "a snapshot is being written to %s", path);
	if (snap_taking(ag, r->id, NULL, 0))
		return cmd_fail(err, PROTO_E_CONFLICT, "a snapshot of region %s is being taken", r->id);
	if (!lstat(path, &st))
		return cmd_fail(err, PROTO_E_CONFLICT, "%s exists; delete it first", path);
	if (check_space(path, upper_bound(r), err))
		return -1;

	cap = calloc(1, sizeof(*cap));
	t = calloc(1, sizeof(*t));
	if (!cap || !t || !(t->path = strdup(path)) || jx_uuid_new(content)) {
		cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
		goto free_take;
	}
	wcfg.path = path;
	wcfg.hdr.flags = incremental ? SNAPIMG_F_INCREMENTAL : 0;
	wcfg.hdr.page_size = r->page_size;
	wcfg.hdr.page_count = r->n_pages;
	wcfg.hdr.region_start = region_start(r);
	snapimg_id_parse(json_string_value(sid), wcfg.hdr.snapshot_id);
	snapimg_id_parse(content, wcfg.hdr.content_id);
	snprintf(cap->req.snapshot_id, sizeof(cap->req.snapshot_id), "%s", json_string_value(sid));
	cap->req.incremental = incremental;
	if (incremental && parse_parent(ag, parent, r, &wcfg.hdr, &cap->req, err))
		goto free_take;
	t->quiesce_asked = quiesce && json_is_true(quiesce);
	cap->req.quiesced = SNAPIMG_Q_NOT_ASKED;
	cap->req.hold = (struct hold_cfg){ .chunk_pages = SNAP_ROUND_CHUNK_PAGES,
					   .final_pages = SNAP_FINAL_PAGES,
					   .max_rounds = SNAP_MAX_ROUNDS };
	/* recorded before its .tmp exists: a new agent removes what this one leaves */
	if (inflight_note(ag, cap->req.snapshot_id, path)) {
		cmd_fail(err, PROTO_E_INTERNAL, "cannot record the snapshot in the state directory: %s",
		     strerror(errno));
		goto free_take;
	}
	snprintf(t->snapshot_id, sizeof(t->snapshot_id), "%s", cap->req.snapshot_id);
	cap->w = snapw_start(&wcfg, why, sizeof(why));
	if (!cap->w) {
		cmd_fail(err, PROTO_E_INTERNAL, "%s", why);
		goto free_take;
	}
	/* write faults always find room for their own granule; the background keeps off it
	 * (more of it once the writer outpaces the disk: capture.c) */
	cap->req.reserve_pages = snapw_ring_pages(cap->w) / 4;
	cap->res.buffer_bytes = snapw_ring_pages(cap->w) * r->page_size;
	cap->req.step_pages = SNAP_STEP_PAGES;
	t->cap = cap;
	t->incremental = incremental;
	t->pages_total = r->n_pages;
	snprintf(t->region_id, sizeof(t->region_id), "%s", r->id);
	t->key = defer_key(&ag->defer);
	if (defer_add(&ag->defer, t->key, s->ref, h->type, h->id)) {
		cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
		goto free_writer;
	}
	t->ag = ag;
	t->next = ag->takes;
	ag->takes = t;
	pr_info(&ag->log, "snapshot requested", LF_STR("snapshot", cap->req.snapshot_id),
		LF_STR("region", r->id), LF_STR("path", path),
		LF_STR("kind", incremental ? "incremental" : "full"),
		LF_BOOL("quiesce", t->quiesce_asked));
	if (t->quiesce_asked)
		quiesce_begin(ag, t, r, qto ? (uint64_t)json_integer_value(qto) : SNAP_QUIESCE_TIMEOUT_MS);
	else
		start_capture(ag, t);
	return CMD_DEFERRED;

free_writer:
	snapw_free(cap->w);
free_take:
	if (t && t->snapshot_id[0])
		inflight_done(ag, t->snapshot_id);
	if (t)
		free(t->path);
	free(t);
	free(cap);
	return -1;
}

static const char *quiesce_name(uint8_t q)
{
	switch (q) {
	case SNAPIMG_Q_YES:
		return "yes";
	case SNAPIMG_Q_NO:
		return "no";
	case SNAPIMG_Q_TIMEOUT:
		return "timeout";
	}
	return NULL;
}

static json_t *take_reply(const struct take *t, const struct capture *c)
{
	const struct cap_result *res = &c->res;
	char sum[24];
	const char *q = quiesce_name(c->req.quiesced);

	snapimg_checksum_str(res->img.checksum, sum);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:{s:I, s:I, s:I},"
			 " s:I, s:{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}}",
			 "snapshot_id", c->req.snapshot_id, "region_id", t->region_id, "path", t->path,
			 "kind", t->incremental ? "incremental" : "full",
			 "size_bytes", (json_int_t)res->img.size_bytes,
			 "pages_total", (json_int_t)t->pages_total,
			 "pages_present", (json_int_t)res->img.pages_present,
			 "pages_zero", (json_int_t)res->img.pages_zero,
			 "pages_absent", (json_int_t)res->img.pages_absent, "checksum", sum,
			 "quiesced", q ? json_string(q) : json_null(), "taken_at", jx_time(res->t_ms),
			 "writer_stall", "max_us", (json_int_t)(res->stall_max_ns / 1000),
			 "p999_us", (json_int_t)(res->stall_p999_ns / 1000),
			 "count", (json_int_t)res->stall_count,
			 "duration_ms", (json_int_t)res->duration_ms,
			 "capture", "rounds", (int)res->rounds,
			 "round1_pages", (json_int_t)res->round1_pages,
			 "final_round_pages", (json_int_t)res->final_pages,
			 "final_round_us", (json_int_t)(res->final_ns / 1000),
			 "copied_on_fault", (json_int_t)res->copied_on_fault,
			 "faults_before_t", (json_int_t)res->faults_before_t,
			 "faults_after_t", (json_int_t)res->faults_after_t,
			 "saved_ahead", (json_int_t)res->saved_ahead,
			 "buffer", "bytes", (json_int_t)res->buffer_bytes,
			 "peak_bytes", (json_int_t)res->buffer_peak_bytes,
			 "resident_bytes", (json_int_t)res->buffer_resident_bytes);
}

/* FAULT_CAPTURE_AT_T and FAULT_CAPTURE_DONE, on the loop thread (also while the engine stops). */
void snap_capture_done(struct agent *ag, struct fault_done *d)
{
	struct take **pp, *t = NULL;
	struct capture *c = d->cap;
	json_t *body;

	for (pp = &ag->takes; *pp; pp = &(*pp)->next) {
		if ((*pp)->cap == c) {
			t = *pp;
			break;
		}
	}
	if (t)
		quiesce_end(ag, t); /* at T, or at the end of a capture that never reached it */
	if (d->kind != FAULT_CAPTURE_DONE)
		return;
	if (!t) {
		/* not ours (cannot happen): still free what the worker handed back */
		snapw_free(c->w);
		free(c);
		return;
	}
	if (c->res.error[0]) {
		pr_warn(&ag->log, "snapshot failed", LF_STR("snapshot", c->req.snapshot_id),
			LF_STR("region", t->region_id), LF_STR("reason", c->res.error));
		defer_fail(&ag->defer, ag->hub, t->key, (enum proto_err)c->res.code, c->res.error);
	} else {
		body = take_reply(t, c);
		if (body)
			defer_answer(&ag->defer, ag->hub, t->key, body);
		else
			defer_fail(&ag->defer, ag->hub, t->key, PROTO_E_INTERNAL, "out of memory");
		json_decref(body);
	}
	/* an image that was not renamed into place is removed with its .tmp */
	snapw_free(c->w);
	free(c);
	take_free(ag, t);
}

void snap_fini(struct agent *ag)
{
	/* the engine stopped first and handed every capture back (attach_stop); what is left
	 * waited for a quiesce answer and never reached a worker */
	while (ag->takes)
		take_abort(ag, ag->takes, PROTO_E_INTERNAL, "the agent is stopping");
}

bool snap_taking(struct agent *ag, const char *region_id, char *snapshot_id, size_t len)
{
	for (struct take *o = ag->takes; o; o = o->next) {
		if (!strcmp(o->region_id, region_id)) {
			if (len) /* the capture is the worker's now; its id is not needed */
				snapshot_id[0] = '\0';
			return true;
		}
	}
	return false;
}
