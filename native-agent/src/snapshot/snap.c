/*
 * Snapshot control messages; see snap.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"
#include "capture.h"
#include "image.h"
#include "inflight.h"
#include "job.h"
#include "region.h"
#include "restore.h"
#include "snap.h"
#include "snapchain.h"
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
static int check_path(struct agent *ag, json_t *v, const char *what, char *out, size_t out_len,
		      struct cmd_error *err)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *p, *slash;
	bool allowed = false;

	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must be an absolute path", what);
	p = json_string_value(v);
	slash = strrchr(p, '/');
	if (!slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..") ||
	    (size_t)(slash - p) >= sizeof(dir))
		return fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must name a file", what);
	memcpy(dir, p, (size_t)(slash - p));
	dir[slash - p] = '\0';
	if (!dir[0])
		strcpy(dir, "/");
	if (!realpath(dir, real)) {
		int e = errno;

		for (unsigned i = 0; i < ag->opts.n_snapshot_dirs && !allowed; i++)
			allowed = inside(dir, ag->opts.snapshot_dirs[i]);
		/* inside: the directory is missing (NOT_FOUND: nothing there to verify or delete) */
		return allowed ? fail(err, e == ENOENT ? PROTO_E_NOT_FOUND : PROTO_E_BAD_REQUEST,
				      "%s: %s", dir, strerror(e))
			       : fail(err, PROTO_E_PERMISSION_DENIED,
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
		return fail(err, PROTO_E_PERMISSION_DENIED,
			    "%s is outside the allowed snapshot directories", p);
	if ((size_t)snprintf(out, out_len, "%s/%s", strcmp(real, "/") ? real : "", slash + 1) >= out_len)
		return fail(err, PROTO_E_BAD_REQUEST, "\"%s\" is too long", what);
	return 0;
}

static bool path_allowed(struct agent *ag, const char *path)
{
	json_t *v = json_string(path);
	struct cmd_error err;
	char out[PATH_MAX];
	bool ok = v && !check_path(ag, v, "path", out, sizeof(out), &err) && !strcmp(out, path);

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
		return fail(err, PROTO_E_INTERNAL, "statvfs %s: %s", dir, strerror(errno));
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < need)
		return fail(err, PROTO_E_NO_SPACE,
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
		return fail(err, PROTO_E_BAD_REQUEST,
			    "\"parent\" must be {\"snapshot_id\", \"path\"} for an incremental snapshot");
	if (!json_is_string(pid) || !jx_uuid_valid(json_string_value(pid)))
		return fail(err, PROTO_E_BAD_REQUEST, "\"parent.snapshot_id\" must be a lower-case UUID");
	if (check_path(ag, json_object_get(parent, "path"), "parent.path", path, sizeof(path), err))
		return -1;
	if (snapfile_open(&f, path, why, sizeof(why)))
		return fail(err, PROTO_E_BAD_REQUEST, "parent image refused: %s", why);
	snapimg_id_str(f.im.h.snapshot_id, idstr);
	if (strcmp(idstr, json_string_value(pid))) {
		snapfile_close(&f);
		return fail(err, PROTO_E_BAD_REQUEST, "parent image %s is snapshot %s, not %s", path,
			    idstr, json_string_value(pid));
	}
	if (f.im.h.page_size != r->page_size || f.im.h.page_count != r->n_pages) {
		snapfile_close(&f);
		return fail(err, PROTO_E_BAD_REQUEST,
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
		return fail(err, PROTO_E_BAD_REQUEST, "\"snapshot_id\" must be a lower-case UUID");
	if (!json_is_string(rid))
		return fail(err, PROTO_E_BAD_REQUEST, "\"region_id\" must be a string");
	if (kind && (!json_is_string(kind) || (strcmp(json_string_value(kind), "full") &&
					       strcmp(json_string_value(kind), "incremental"))))
		return fail(err, PROTO_E_BAD_REQUEST, "\"kind\" must be full or incremental");
	incremental = kind && !strcmp(json_string_value(kind), "incremental");
	if (quiesce && !json_is_boolean(quiesce))
		return fail(err, PROTO_E_BAD_REQUEST, "\"quiesce\" must be true or false");
	if (qto && (!json_is_integer(qto) || json_integer_value(qto) < 0 ||
		    json_integer_value(qto) > 600000))
		return fail(err, PROTO_E_BAD_REQUEST, "\"quiesce_timeout_ms\" must be 0..600000");
	if (!incremental && parent && !json_is_null(parent))
		return fail(err, PROTO_E_BAD_REQUEST, "a full snapshot has no \"parent\"");
	r = region_table_find(ag->regions, json_string_value(rid));
	if (!r)
		return fail(err, PROTO_E_NOT_FOUND, "no region %.64s", json_string_value(rid));
	if (region_state(r) != REGION_ATTACHED)
		return fail(err, PROTO_E_CONFLICT, "region %s is not attached", r->id);
	if (!r->hold)
		return fail(err, PROTO_E_CONFLICT,
			    "region %s was registered without a hold uffd (no wp mode, or a kernel"
			    " without WP_ASYNC/WP_UNPOPULATED): it cannot be snapshotted consistently",
			    r->id);
	/* a missing page of a lazily restored region is in its image, not zero: not capturable yet */
	if (r->kind == REGION_IMAGE && !r->ctl.complete)
		return fail(err, PROTO_E_CONFLICT,
			    "region %s is still being restored lazily (%llu of %llu pages present); take"
			    " the snapshot once its restore is COMPLETE", r->id,
			    (unsigned long long)region_stat(&r->st.present), (unsigned long long)r->n_pages);
	/* a migration drives the same hold uffd, and a migrated region's writers are held for good */
	if (agent_hold_driver(ag, r->id, "snapshot", mig, sizeof(mig)))
		return fail(err, PROTO_E_CONFLICT, "region %s is the source of migration %s", r->id, mig);
	if (check_path(ag, json_object_get(req, "path"), "path", path, sizeof(path), err))
		return -1;
	if (take_on(ag, path))
		return fail(err, PROTO_E_CONFLICT, "a snapshot is being written to %s", path);
	if (snap_taking(ag, r->id, NULL, 0))
		return fail(err, PROTO_E_CONFLICT, "a snapshot of region %s is being taken", r->id);
	if (!lstat(path, &st))
		return fail(err, PROTO_E_CONFLICT, "%s exists; delete it first", path);
	if (check_space(path, upper_bound(r), err))
		return -1;

	cap = calloc(1, sizeof(*cap));
	t = calloc(1, sizeof(*t));
	if (!cap || !t || !(t->path = strdup(path)) || jx_uuid_new(content)) {
		fail(err, PROTO_E_INTERNAL, "out of memory");
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
		fail(err, PROTO_E_INTERNAL, "cannot record the snapshot in the state directory: %s",
		     strerror(errno));
		goto free_take;
	}
	snprintf(t->snapshot_id, sizeof(t->snapshot_id), "%s", cap->req.snapshot_id);
	cap->w = snapw_start(&wcfg, why, sizeof(why));
	if (!cap->w) {
		fail(err, PROTO_E_INTERNAL, "%s", why);
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
		fail(err, PROTO_E_INTERNAL, "out of memory");
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

/* ---- jobs: verify, consolidate, restore --------------------------------------- */

enum snap_job_kind { SJ_VERIFY, SJ_CONSOLIDATE, SJ_RESTORE, SJ_EAGER };

struct snap_job {
	struct job j; /* first: a struct job * is a struct snap_job * */
	enum snap_job_kind kind;
	uint64_t key;
	char *path, *path2;      /* verify: path; consolidate: parent, child */
	char **chain;            /* restore: full image first */
	unsigned n_chain;
	json_t *create;          /* restore: the restore_create request to make at the end */
	struct image *im;        /* restore, eager: the chain opened (snapchain.h) */
	bool verify;             /* restore, eager: every page checked before anything is served */
	char inflight_id[JX_UUID_LEN + 1]; /* consolidate: its record in <state>/inflight */
	bool compress;
	int level;
	uint64_t buffer_bytes;
	/* eager: the attached region written into */
	char region_id[JX_UUID_LEN + 1];
	pid_t pid;
	uint64_t start, n_pages;
	uint32_t page_size;
	uint64_t installed;
	/* results */
	int ret;
	enum proto_err code;
	char detail[768];
	struct snapw_result res;
};

static void sj_free(struct snap_job *sj)
{
	free(sj->path);
	free(sj->path2);
	for (unsigned i = 0; i < sj->n_chain; i++)
		free(sj->chain[i]);
	free(sj->chain);
	json_decref(sj->create);
	image_put(sj->im);
	free(sj);
}

static bool sj_uses(const struct job *j, const void *key)
{
	const struct snap_job *sj = (const struct snap_job *)j;
	const char *p = key;

	if ((sj->path && !strcmp(sj->path, p)) || (sj->path2 && !strcmp(sj->path2, p)))
		return true;
	for (unsigned i = 0; i < sj->n_chain; i++) {
		if (!strcmp(sj->chain[i], p))
			return true;
	}
	return false;
}

static void run_verify(struct job *j)
{
	struct snap_job *sj = (struct snap_job *)j;

	sj->ret = snapfile_verify(sj->path, sj->detail, sizeof(sj->detail));
}

static void run_consolidate(struct job *j)
{
	struct snap_job *sj = (struct snap_job *)j;

	sj->ret = snapfile_consolidate(sj->path, sj->path2, sj->compress, sj->level, sj->buffer_bytes,
				       &sj->res, sj->detail, sizeof(sj->detail));
	sj->code = PROTO_E_BAD_REQUEST;
}

/*
 * The chain opened (headers and metadata checked; with "verify" every page
 * too) for the session to serve it directly (snapchain.h).  Job thread.
 */
static int open_chain(struct snap_job *sj)
{
	if (snapchain_open(sj->chain, sj->n_chain, &sj->im, sj->detail, sizeof(sj->detail))) {
		sj->code = errno == ENOMEM ? PROTO_E_INTERNAL : PROTO_E_BAD_REQUEST;
		return -1;
	}
	if (sj->verify && snapchain_verify(sj->im, sj->detail, sizeof(sj->detail))) {
		sj->code = PROTO_E_BAD_REQUEST;
		return -1;
	}
	return 0;
}

static void run_restore(struct job *j)
{
	struct snap_job *sj = (struct snap_job *)j;

	sj->ret = open_chain(sj);
}

/*
 * Eager restore: the chain read (every page checked) and written into the
 * attached region with process_vm_writev, the way a debugger writes
 * memory: present pages are overwritten, missing ones fault in through the
 * region's own handling (a write-protected page is lifted by its worker and
 * marked written, so the next incremental snapshot holds it).  The workload
 * should be paused by its owner meanwhile.
 */
static void run_eager(struct job *j)
{
	struct snap_job *sj = (struct snap_job *)j;
	uint64_t len = sj->n_pages * sj->page_size, off = 0;
	size_t blen = 1u << 20;
	uint8_t *buf = NULL;

	sj->ret = -1;
	if (open_chain(sj))
		return;
	sj->code = PROTO_E_BAD_REQUEST;
	if (sj->im->size != len) {
		snprintf(sj->detail, sizeof(sj->detail),
			 "the chain holds %llu bytes; region %s has %llu pages of %u bytes",
			 (unsigned long long)sj->im->size, sj->region_id,
			 (unsigned long long)sj->n_pages, sj->page_size);
		return;
	}
	buf = malloc(blen);
	if (!buf) {
		sj->code = PROTO_E_INTERNAL;
		snprintf(sj->detail, sizeof(sj->detail), "out of memory");
		return;
	}
	while (off < len) {
		size_t n = len - off < blen ? (size_t)(len - off) : blen;
		struct iovec local = { .iov_base = buf, .iov_len = n };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)(sj->start + off), .iov_len = n };
		ssize_t w;

		if (image_read(sj->im, off, buf, n)) {
			snprintf(sj->detail, sizeof(sj->detail), "reading the chain: %s",
				 image_change_why(sj->im)[0] ? image_change_why(sj->im) : strerror(errno));
			goto out;
		}
		w = process_vm_writev(sj->pid, &local, 1, &remote, 1, 0);
		if (w != (ssize_t)n) {
			sj->code = PROTO_E_CONFLICT;
			snprintf(sj->detail, sizeof(sj->detail),
				 "writing into region %s at offset %llu: %s (the workload exited or changed"
				 " its mappings?); %llu pages were written", sj->region_id,
				 (unsigned long long)off, w < 0 ? strerror(errno) : "short write",
				 (unsigned long long)(off / sj->page_size));
			goto out;
		}
		off += n;
	}
	sj->installed = len / sj->page_size;
	sj->ret = 0;
out:
	free(buf);
}

static void answer(struct agent *ag, struct snap_job *sj, json_t *body)
{
	if (body)
		defer_answer(&ag->defer, ag->hub, sj->key, body);
	else
		defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL, "out of memory");
	json_decref(body);
}

static void job_done(struct agent *ag, struct job *j)
{
	struct snap_job *sj = (struct snap_job *)j;
	struct cmd_error err = { 0 };
	char sum[24];
	json_t *reply = NULL;

	switch (sj->kind) {
	case SJ_VERIFY:
		pr_info(&ag->log, "snapshot verified", LF_STR("path", sj->path),
			LF_BOOL("intact", sj->ret == 0), LF_STR("detail", sj->detail));
		answer(ag, sj, json_pack("{s:b, s:s}", "intact", sj->ret == 0, "detail", sj->detail));
		break;
	case SJ_CONSOLIDATE:
		inflight_done(ag, sj->inflight_id); /* the .tmp is renamed into place or removed */
		if (sj->ret) {
			pr_warn(&ag->log, "snapshot consolidation failed", LF_STR("child", sj->path2),
				LF_STR("reason", sj->detail));
			defer_fail(&ag->defer, ag->hub, sj->key, sj->code, sj->detail);
			break;
		}
		snapimg_checksum_str(sj->res.checksum, sum);
		pr_info(&ag->log, "snapshot consolidated", LF_STR("parent", sj->path),
			LF_STR("child", sj->path2), LF_UINT("bytes", sj->res.size_bytes));
		answer(ag, sj, json_pack("{s:I, s:s, s:I, s:I, s:I}", "size_bytes",
					 (json_int_t)sj->res.size_bytes, "checksum", sum, "pages_present",
					 (json_int_t)sj->res.pages_present, "pages_zero",
					 (json_int_t)sj->res.pages_zero, "pages_absent",
					 (json_int_t)sj->res.pages_absent));
		break;
	case SJ_EAGER:
		if (sj->ret) {
			pr_warn(&ag->log, "eager snapshot restore failed", LF_STR("region", sj->region_id),
				LF_STR("reason", sj->detail));
			defer_fail(&ag->defer, ag->hub, sj->key, sj->code, sj->detail);
			break;
		}
		pr_info(&ag->log, "snapshot restored eagerly", LF_STR("region", sj->region_id),
			LF_UINT("pages", sj->installed));
		answer(ag, sj, json_pack("{s:s, s:I}", "region_id", sj->region_id, "installed_pages",
					 (json_int_t)sj->installed));
		break;
	case SJ_RESTORE:
		if (sj->ret) {
			pr_warn(&ag->log, "snapshot restore refused", LF_STR("reason", sj->detail));
			defer_fail(&ag->defer, ag->hub, sj->key, sj->code, sj->detail);
			break;
		}
		if (restore_create_chain(ag, sj->create, sj->chain, sj->n_chain, sj->im, &reply, &err)) {
			sj->im = NULL; /* taken, also on failure */
			defer_fail(&ag->defer, ag->hub, sj->key, err.code, err.message);
			break;
		}
		sj->im = NULL;
		answer(ag, sj, reply);
		break;
	}
	sj_free(sj);
}

static struct snap_job *sj_new(struct agent *ag, enum snap_job_kind kind, const struct cmd_session *s,
			       const struct proto_hdr *h, struct cmd_error *err)
{
	struct snap_job *sj = calloc(1, sizeof(*sj));

	if (!sj) {
		fail(err, PROTO_E_INTERNAL, "out of memory");
		return NULL;
	}
	sj->kind = kind;
	sj->j.done = job_done;
	sj->j.run = kind == SJ_VERIFY ? run_verify : kind == SJ_CONSOLIDATE ? run_consolidate
		    : kind == SJ_EAGER ? run_eager : run_restore;
	sj->key = defer_key(&ag->defer);
	if (defer_add(&ag->defer, sj->key, s->ref, h->type, h->id)) {
		free(sj);
		fail(err, PROTO_E_INTERNAL, "out of memory");
		return NULL;
	}
	return sj;
}

static int sj_start(struct agent *ag, struct snap_job *sj)
{
	if (job_start(ag, &sj->j)) {
		defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL, "cannot start a thread");
		sj_free(sj);
	}
	return CMD_DEFERRED;
}

static bool busy(struct agent *ag, const char *path)
{
	return take_on(ag, path) || job_busy(ag, sj_uses, path);
}

int snap_verify(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		json_t **reply, struct cmd_error *err)
{
	char path[PATH_MAX];
	struct snap_job *sj;
	struct stat st;

	(void)reply;
	if (check_path(ag, json_object_get(req, "path"), "path", path, sizeof(path), err))
		return -1;
	if (lstat(path, &st))
		return fail(err, PROTO_E_NOT_FOUND, "%s: %s", path, strerror(errno));
	sj = sj_new(ag, SJ_VERIFY, s, h, err);
	if (!sj)
		return -1;
	sj->path = strdup(path);
	if (!sj->path) {
		defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL, "out of memory");
		sj_free(sj);
		return CMD_DEFERRED;
	}
	return sj_start(ag, sj);
}

int snap_consolidate(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		     json_t *req, json_t **reply, struct cmd_error *err)
{
	char parent[PATH_MAX], child[PATH_MAX];
	struct snap_job *sj;

	(void)reply;
	if (check_path(ag, json_object_get(req, "parent_path"), "parent_path", parent, sizeof(parent),
		       err) ||
	    check_path(ag, json_object_get(req, "child_path"), "child_path", child, sizeof(child), err))
		return -1;
	if (!strcmp(parent, child))
		return fail(err, PROTO_E_BAD_REQUEST, "an image cannot be consolidated into itself");
	if (busy(ag, parent) || busy(ag, child))
		return fail(err, PROTO_E_CONFLICT, "%s or %s is being written", parent, child);
	sj = sj_new(ag, SJ_CONSOLIDATE, s, h, err);
	if (!sj)
		return -1;
	sj->path = strdup(parent);
	sj->path2 = strdup(child);
	sj->compress = ag->opts.snapshot_compress != 0;
	sj->level = (int)ag->opts.snapshot_compress;
	sj->buffer_bytes = ag->opts.snapshot_buffer_bytes;
	if (!sj->path || !sj->path2) {
		defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL, "out of memory");
		sj_free(sj);
		return CMD_DEFERRED;
	}
	/* the child is rewritten to <child>.tmp: a killed agent's is removed by the next one */
	if (jx_uuid_new(sj->inflight_id) || inflight_note(ag, sj->inflight_id, child)) {
		defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL,
			   "cannot record the consolidation in the state directory");
		sj_free(sj);
		return CMD_DEFERRED;
	}
	return sj_start(ag, sj);
}

int snap_delete(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		json_t **reply, struct cmd_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	bool removed, removed_tmp;

	(void)h;
	if (check_path(ag, json_object_get(req, "path"), "path", path, sizeof(path), err)) {
		if (err->code != PROTO_E_NOT_FOUND)
			return -1;
		/* its directory is gone, so is the image: deleting is idempotent */
		*reply = json_pack("{s:b, s:b}", "existed", false, "tmp_removed", false);
		return *reply ? 0 : fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	if (busy(ag, path))
		return fail(err, PROTO_E_CONFLICT, "%s is being written or read", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	removed = !unlink(path);
	if (!removed && errno != ENOENT)
		return fail(err, PROTO_E_INTERNAL, "removing %s: %s", path, strerror(errno));
	removed_tmp = !unlink(tmp);
	if (!removed_tmp && errno != ENOENT)
		return fail(err, PROTO_E_INTERNAL, "removing %s: %s", tmp, strerror(errno));
	pr_info(&ag->log, "snapshot deleted", LF_UINT("conn", s->conn), LF_STR("path", path),
		LF_BOOL("existed", removed), LF_BOOL("tmp_removed", removed_tmp));
	*reply = json_pack("{s:b, s:b}", "existed", removed, "tmp_removed", removed_tmp);
	return *reply ? 0 : fail(err, PROTO_E_INTERNAL, "out of memory");
}

/* Where restores of snapshot chains keep their flat images: <state-dir>/snaprestore. */
const char *snap_restore_dir(struct agent *ag)
{
	return ag->snap_restore_dir;
}

int snap_restore(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		 json_t **reply, struct cmd_error *err)
{
	json_t *chain = json_object_get(req, "chain"), *mode = json_object_get(req, "mode");
	json_t *id = json_object_get(req, "id"), *verify = json_object_get(req, "verify"), *create = NULL;
	char sid[JX_UUID_LEN + 1], path[PATH_MAX];
	json_t *v;
	struct snap_job *sj;
	size_t i;

	(void)reply;
	if (!json_is_array(chain) || !json_array_size(chain) || json_array_size(chain) > 256)
		return fail(err, PROTO_E_BAD_REQUEST,
			    "\"chain\" must be an array of 1 to 256 image paths, the full image first");
	json_t *rid = json_object_get(req, "region_id");
	struct region *r = NULL;
	bool eager = mode && json_is_string(mode) && !strcmp(json_string_value(mode), "eager");

	json_t *rmode = json_object_get(req, "restore_mode");

	if (mode && !eager && (!json_is_string(mode) || strcmp(json_string_value(mode), "lazy")))
		return fail(err, PROTO_E_BAD_REQUEST, "\"mode\" must be lazy or eager");
	/* the session's own mode (restore_create's "mode"), checked before the chain is read */
	if (rmode && (!json_is_string(rmode) || (strcmp(json_string_value(rmode), "copy") &&
						 strcmp(json_string_value(rmode), "clone"))))
		return fail(err, PROTO_E_BAD_REQUEST, "\"restore_mode\" must be copy or clone");
	if (rmode && eager)
		return fail(err, PROTO_E_BAD_REQUEST, "\"restore_mode\" is for lazy restores (a session)");
	if (eager) {
		if (!json_is_string(rid))
			return fail(err, PROTO_E_BAD_REQUEST, "an eager restore needs \"region_id\"");
		r = region_table_find(ag->regions, json_string_value(rid));
		if (!r)
			return fail(err, PROTO_E_NOT_FOUND, "no region %.64s", json_string_value(rid));
		if (region_state(r) != REGION_ATTACHED)
			return fail(err, PROTO_E_CONFLICT, "region %s is not attached", r->id);
		for (struct take *t = ag->takes; t; t = t->next) {
			if (!strcmp(t->region_id, r->id))
				return fail(err, PROTO_E_CONFLICT, "a snapshot of region %s is being taken", r->id);
		}
	}
	if (verify && !json_is_boolean(verify))
		return fail(err, PROTO_E_BAD_REQUEST, "\"verify\" must be true or false");
	if (id && (!json_is_string(id) || !jx_uuid_valid(json_string_value(id))))
		return fail(err, PROTO_E_BAD_REQUEST, "\"id\" must be a lower-case UUID");
	if (id && restore_find(ag, json_string_value(id)))
		return fail(err, PROTO_E_CONFLICT, "restore session %s exists", json_string_value(id));
	/* checked again by restore_create, but refused before the chain is flattened */
	v = json_object_get(req, "snapshot_id");
	if (v && !json_is_null(v) && (!json_is_string(v) || !jx_uuid_valid(json_string_value(v))))
		return fail(err, PROTO_E_BAD_REQUEST, "\"snapshot_id\" must be a lower-case UUID");
	json_array_foreach(chain, i, v) {
		if (check_path(ag, v, "chain[]", path, sizeof(path), err))
			return -1;
	}
	if (id)
		snprintf(sid, sizeof(sid), "%s", json_string_value(id));
	else if (jx_uuid_new(sid))
		return fail(err, PROTO_E_INTERNAL, "cannot make an id");
	/* the session is made once the chain is open; its image is the newest of the chain */
	check_path(ag, json_array_get(chain, json_array_size(chain) - 1), "chain[]", path, sizeof(path),
		   err);
	create = json_deep_copy(req);
	if (!create || json_object_del(create, "chain") ||
	    json_object_set_new(create, "id", json_string(sid)) ||
	    json_object_set_new(create, "image", json_string(path))) {
		json_decref(create);
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	json_object_del(create, "mode");
	json_object_del(create, "verify");
	if (rmode && (json_object_set(create, "mode", rmode) || json_object_del(create, "restore_mode"))) {
		json_decref(create);
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	sj = sj_new(ag, eager ? SJ_EAGER : SJ_RESTORE, s, h, err);
	if (!sj) {
		json_decref(create);
		return -1;
	}
	sj->create = create;
	sj->verify = json_is_true(verify);
	if (eager) {
		snprintf(sj->region_id, sizeof(sj->region_id), "%s", r->id);
		sj->pid = r->pid;
		sj->start = region_start(r);
		sj->n_pages = r->n_pages;
		sj->page_size = r->page_size;
	}
	sj->chain = calloc(json_array_size(chain), sizeof(char *));
	if (!sj->chain) {
		defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL, "out of memory");
		sj_free(sj);
		return CMD_DEFERRED;
	}
	json_array_foreach(chain, i, v) {
		struct cmd_error e2;

		check_path(ag, v, "chain[]", path, sizeof(path), &e2);
		sj->chain[i] = strdup(path);
		sj->n_chain++;
		if (!sj->chain[i]) {
			defer_fail(&ag->defer, ag->hub, sj->key, PROTO_E_INTERNAL, "out of memory");
			sj_free(sj);
			return CMD_DEFERRED;
		}
	}
	pr_info(&ag->log, "snapshot restore requested", LF_STR("id", sid),
		LF_UINT("chain", sj->n_chain), LF_STR("newest", sj->chain[sj->n_chain - 1]));
	return sj_start(ag, sj);
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
