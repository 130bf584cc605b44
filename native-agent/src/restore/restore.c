/*
 * Restore sessions; see restore.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "agent.h"
#include "conn.h"
#include "hsk.h"
#include "image.h"
#include "mono.h"
#include "region.h"
#include "restore.h"
#include "rws.h"
#include "srv.h"

#define LOG_COMP "restore"
#include "log.h"

#define RESTORE_MAX_FAULT_AROUND 512
#define RESTORE_MAX_DELAY_MS (86400 * 1000)

static const char *const state_names[] = { "WAITING", "ACTIVE", "COMPLETE", "FAILED" };
static const char *const ws_names[] = { "off", "record", "replay", "auto" };
static const char *const mode_names[] = { "copy", "clone" };

#define fail cmd_fail

static int ws_parse(const char *s, enum restore_ws *out)
{
	for (unsigned i = 0; i < sizeof(ws_names) / sizeof(ws_names[0]); i++) {
		if (!strcmp(s, ws_names[i])) {
			*out = (enum restore_ws)i;
			return 0;
		}
	}
	return -1;
}

static int mode_parse(const char *s, enum restore_mode *out)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*out = (enum restore_mode)i;
			return 0;
		}
	}
	return -1;
}

static const char *str_or(json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static char *path_in(const char *dir, const char *sub, const char *id, const char *ext)
{
	char *p;

	if (asprintf(&p, "%s/%s/%s%s", dir, sub, id, ext) < 0)
		return NULL;
	return p;
}

/* ---- JSON -------------------------------------------------------------- */

static uint64_t session_pages(const struct restore *s, bool present)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < s->n_regions; i++) {
		struct region *r = region_table_find(s->ag->regions, s->region_ids[i]);

		if (r)
			n += present ? region_stat(&r->st.present) : r->n_pages;
	}
	return n;
}

/*
 * Mode clone: the shared copy and what each clone holds.  A clone's private
 * bytes are the pages it wrote (the kernel's copy-on-write copies), its
 * shared bytes the pages of the shared copy it maps (PROTOCOL.md §1.8).
 */
static json_t *clone_json(const struct restore *s, bool live)
{
	json_t *clones = json_array(), *o;
	uint64_t sum_pss = 0, sum_priv = 0;
	bool ok = clones != NULL;

	/* what clones hold is read from their smaps (ms for a large region): asked for, never persisted */
	for (unsigned i = 0; ok && live && i < s->n_regions; i++) {
		struct region *r = region_table_find(s->ag->regions, s->region_ids[i]);
		struct share_usage u;

		if (!r || region_state(r) == REGION_DETACHED || r->pid <= 0 ||
		    share_usage(r->pid, region_start(r), r->length, &u))
			continue;
		sum_pss += u.pss;
		sum_priv += u.priv;
		ok = !json_array_append_new(clones, json_pack("{s:s, s:i, s:I, s:I, s:I}", "region",
							    r->id, "pid", (int)r->pid, "shared_bytes",
							    (json_int_t)u.shared, "private_bytes",
							    (json_int_t)u.priv, "pss_bytes",
							    (json_int_t)u.pss));
	}
	if (!ok) {
		json_decref(clones);
		return NULL;
	}
	o = json_pack("{s:s, s:{s:I, s:I, s:I, s:i, s:I}, s:o, s:I, s:I}", "memory",
		      share_memory_name(s->clone_memory), "shared_copy", "bytes",
		      (json_int_t)(s->share ? s->share->size : 0), "resident_bytes",
		      (json_int_t)(s->share ? share_resident(s->share) : 0), "page_size",
		      (json_int_t)(s->share ? s->share->page_size : 0), "sessions",
		      s->share ? s->share->refs : 0, "fill_us",
		      (json_int_t)(s->share ? s->share->fill_ns / 1000 : 0), "clones", clones,
		      "private_bytes", (json_int_t)sum_priv, "pss_bytes", (json_int_t)sum_pss);
	return o;
}

/* Time from the session's creation to at (mono ns) in units of unit_ns, or null before it happened. */
static json_t *since_created(const struct restore *s, uint64_t at, uint64_t unit_ns)
{
	if (!at || !s->created_ns)
		return json_null();
	return json_integer(at > s->created_ns ? (json_int_t)((at - s->created_ns) / unit_ns) : 0);
}

/*
 * Restore-to-run: from the restore request (the session's creation) to the
 * first region registered, the first fault served and COMPLETE, in ms; and
 * finer, in us, to the reply to the request too.  The first fault is the
 * earliest of the session's regions the agent still lists.
 */
static json_t *timing_json(const struct restore *s)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < s->n_regions; i++) {
		struct region *r = region_table_find(s->ag->regions, s->region_ids[i]);
		uint64_t t = r ? region_stat(&r->st.first_served_ns) : 0;

		if (t && (!first || t < first))
			first = t;
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "registered_ms",
			 since_created(s, s->first_region_ns, 1000000), "first_fault_ms",
			 since_created(s, first, 1000000), "complete_ms",
			 since_created(s, s->complete_ns, 1000000), "reply_us",
			 since_created(s, s->replied_ns, 1000), "registered_us",
			 since_created(s, s->first_region_ns, 1000), "first_fault_us",
			 since_created(s, first, 1000));
}

/* live: with what each clone holds now (restore_get), else what a restart needs (persisted) */
static json_t *session_json(const struct restore *s, bool live)
{
	json_t *o = json_object(), *ids = json_array(), *ws;
	bool ok = o && ids;

	for (unsigned i = 0; ok && i < s->n_regions; i++)
		ok = !json_array_append_new(ids, json_string(s->region_ids[i]));
	if (!ok) {
		json_decref(o);
		json_decref(ids);
		return NULL;
	}
	ws = json_pack("{s:s, s:s?, s:I, s:I, s:I}", "mode", ws_names[s->ws_mode], "file", s->ws_file,
		       "recorded_pages", (json_int_t)s->recorded_pages, "replayed_pages",
		       (json_int_t)s->replayed_pages, "readahead_pages",
		       (json_int_t)s->readahead_pages);
	jx_put(o, "id", json_string(s->id), &ok);
	jx_put(o, "name", json_string(s->name), &ok);
	jx_put(o, "snapshot_id", s->snapshot_id[0] ? json_string(s->snapshot_id) : json_null(), &ok);
	jx_put(o, "labels", json_incref(s->labels), &ok);
	jx_put(o, "image", json_pack("{s:s, s:I, s:I}", "path", s->image_path, "size",
				     (json_int_t)(s->image ? s->image->size : 0), "offset",
				     (json_int_t)s->image_offset), &ok);
	if (s->chain) {
		json_t *chain = json_array();

		for (unsigned i = 0; chain && i < s->n_chain; i++) {
			if (json_array_append_new(chain, json_string(s->chain[i])))
				ok = false;
		}
		jx_put(o, "chain", chain, &ok);
	}
	jx_put(o, "socket", json_string(s->sock_path), &ok);
	jx_put(o, "state", json_string(state_names[s->state]), &ok);
	jx_put(o, "mode", json_string(mode_names[s->mode]), &ok);
	jx_put(o, "clone", s->mode == RESTORE_CLONE ? clone_json(s, live) : json_null(), &ok);
	jx_put(o, "created_at", jx_time(s->created_ms), &ok);
	jx_put(o, "options", json_pack("{s:i, s:I, s:s}", "fault_around_pages", (int)s->fault_around,
				       "populate_delay_ms", (json_int_t)s->populate_delay_ms,
				       "working_set", ws_names[s->ws_requested]), &ok);
	jx_put(o, "regions", ids, &ok);
	jx_put(o, "source", s->source < 0 ? json_null()
					  : json_string(s->source == REGION_SRC_FIRECRACKER ? "firecracker"
											  : "libfaultline"),
	       &ok);
	jx_put(o, "pages", json_pack("{s:I, s:I}", "total", (json_int_t)session_pages(s, false),
				     "present", (json_int_t)session_pages(s, true)), &ok);
	jx_put(o, "working_set", ws, &ok);
	jx_put(o, "timing", timing_json(s), &ok);
	jx_put(o, "error", s->error ? json_string(s->error) : json_null(), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *restore_json(const struct restore *s)
{
	return session_json(s, true);
}

/* ---- persistence ------------------------------------------------------- */

/* The image's content id in hex, or "" when it has none. */
static void content_hex(const struct image *im, char out[2 * sizeof(im->content_id) + 1])
{
	bool any = false;

	for (size_t i = 0; i < sizeof(im->content_id); i++) {
		any |= im->content_id[i] != 0;
		sprintf(out + 2 * i, "%02x", im->content_id[i]);
	}
	if (!any)
		out[0] = '\0';
}

static void sync_cancel(struct restore *s)
{
	if (s->sync_armed) {
		loop_timer_fini(&s->ag->loop, &s->sync);
		s->sync_armed = false;
	}
}

typedef int afile_fn(const char *path, const void *buf, size_t len, mode_t mode);

/*
 * What a restarted agent needs; pages and counters are rebuilt by serving.
 * how: afile_write (on disk when it returns), afile_create (the same, for
 * the session's first save) or afile_stage (save_soon).
 */
static void save_as(struct restore *s, afile_fn *how)
{
	json_t *o = session_json(s, false);
	char *path = path_in(s->ag->opts.state_dir, "restore", s->id, ".json"), *text = NULL;

	if (o) {
		json_object_set_new(o, "working_set_saved", json_boolean(s->ws_saved));
		json_object_set_new(o, "image_resolved", s->image ? json_string(s->image->path)
								  : json_null());
		/* a restarted agent serves the same file or nothing (reopen()) */
		if (s->image) {
			char cid[2 * sizeof(s->image->content_id) + 1];

			content_hex(s->image, cid);
			json_object_set_new(o, "image_identity",
					    json_pack("{s:I, s:I, s:I, s:s?}", "size", (json_int_t)s->image->size,
						      "mtime_ns", (json_int_t)s->image->mtime_ns, "ino",
						      (json_int_t)s->image->ino, "content_id",
						      cid[0] ? cid : NULL));
		}
		text = json_dumps(o, JSON_COMPACT);
	}
	if (how != afile_stage)
		sync_cancel(s); /* this one is the newer content */
	if (!path || !text || how(path, text, strlen(text), 0600))
		pr_perror(&s->ag->log, "cannot persist restore session", LF_STR("id", s->id));
	free(text);
	free(path);
	json_decref(o);
}

static void save(struct restore *s)
{
	save_as(s, afile_write);
}

static void sync_due(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	save(t->opaque); /* cancels the timer */
}

/*
 * Where a workload waits for the agent's answer (a registration): the file
 * is replaced at once without waiting for the disk, which a restarted agent
 * reads (a crash of the agent loses nothing), and written durably once the
 * answer is out, a millisecond later on the loop, for a crash of the host.
 * Without a timer (no fd) it is written durably at once.
 */
static void save_soon(struct restore *s)
{
	if (!s->sync_armed) {
		s->sync_armed = !loop_timer_init(&s->ag->loop, &s->sync, sync_due, s);
		if (s->sync_armed && loop_timer_arm(&s->sync, 1, 0))
			sync_cancel(s);
	}
	save_as(s, s->sync_armed ? afile_stage : afile_write);
}

static void set_state_as(struct restore *s, enum restore_state st, bool soon)
{
	if (s->state == st)
		return;
	pr_info(&s->ag->log, st == RESTORE_COMPLETE ? "session complete" : "session state",
		LF_STR("id", s->id), LF_STR("from", state_names[s->state]),
		LF_STR("to", state_names[st]));
	s->state = st;
	if (soon)
		save_soon(s);
	else
		save(s);
	if (s->ag->restore_changed)
		s->ag->restore_changed(s->ag, s->id, false);
}

static void set_state(struct restore *s, enum restore_state st)
{
	set_state_as(s, st, false);
}

void restore_fail(struct restore *s, const char *why)
{
	free(s->error);
	s->error = strdup(why);
	pr_err(&s->ag->log, "session failed", LF_STR("id", s->id), LF_STR("error", why));
	if (s->state == RESTORE_FAILED)
		save(s);
	else
		set_state(s, RESTORE_FAILED);
}

/* Before attach: how the session's options apply to a new region. */
int restore_region_setup(const struct restore *s, struct region *r, bool waits)
{
	r->w.fault_around = s->fault_around ? s->fault_around : 1;
	r->w.populate_after_ms = s->populate_delay_ms;
	r->w.record = s->ws_mode == WS_RECORD && !s->ws_saved;
	r->w.clone = s->mode == RESTORE_CLONE;
	if (r->w.clone && s->share)
		r->w.clone_holes = share_holes_of(s->share, r->image_offset, r->length, r->page_size);
	return rws_prefetch(s, r, waits);
}

/* adopted: born from a region of the session (fork child, moved part), not a new workload */
void restore_region_added(struct restore *s, struct region *r, bool adopted)
{
	bool known = false;

	for (unsigned i = 0; i < s->n_regions; i++)
		known |= !strcmp(s->region_ids[i], r->id);
	if (!known && s->n_regions < RESTORE_MAX_REGIONS)
		memcpy(s->region_ids[s->n_regions++], r->id, JX_UUID_LEN + 1);
	if (s->source < 0)
		s->source = (int)r->source;
	if (!s->first_region_ns)
		s->first_region_ns = mono_now_ns();
	/*
	 * The workload waits (its registration is answered after this): the
	 * file names the region before the answer, so that an agent restarted
	 * after a crash keeps the region's record of removed pages
	 * (attach_sweep_removed), and it is on disk a moment later.
	 */
	if (!adopted && (s->state == RESTORE_WAITING || s->state == RESTORE_COMPLETE))
		set_state_as(s, RESTORE_ACTIVE, true);
	else
		save_soon(s);
}

void restore_region_ready(struct restore *s, struct region *r)
{
	s->replayed_pages += region_stat(&r->st.installed[RP_PREFETCH]);
	s->readahead_pages += region_stat(&r->st.readahead);
}

static bool all_complete(const struct restore *s, unsigned *attached)
{
	bool all = true;

	*attached = 0;
	for (unsigned i = 0; i < s->n_regions; i++) {
		struct region *r = region_table_find(s->ag->regions, s->region_ids[i]);

		if (!r || region_state(r) == REGION_DETACHED)
			continue;
		(*attached)++;
		all &= r->ctl.complete;
	}
	return all && *attached;
}

void restore_region_complete(struct restore *s, struct region *r, struct wset_rec *rec)
{
	unsigned attached;

	(void)r;
	rws_keep(s, rec);
	if (s->state != RESTORE_ACTIVE || !all_complete(s, &attached))
		return;
	if (rws_save(s))
		save(s);
	if (!s->complete_ns)
		s->complete_ns = mono_now_ns();
	set_state(s, RESTORE_COMPLETE);
}

void restore_region_detached(struct restore *s, struct region *r, struct wset_rec *rec)
{
	unsigned attached;

	(void)r;
	rws_keep(s, rec);
	all_complete(s, &attached);
	if (attached)
		return;
	/* the workload is done: what it touched is the working set */
	if (rws_save(s))
		save(s);
	if (s->state == RESTORE_ACTIVE)
		set_state(s, RESTORE_WAITING);
}

/* ---- create, open, delete ---------------------------------------------- */

static void session_free(struct restore *s)
{
	sync_cancel(s);
	s->ag->handoff_ops.close(s->srv);
	for (unsigned i = 0; i < s->n_recs; i++)
		wset_rec_free(&s->recs[i]);
	free(s->recs);
	wset_free(&s->replay);
	share_put(&s->ag->shares, s->share);
	image_put(s->image);
	json_decref(s->labels);
	free(s->name);
	free(s->image_path);
	for (unsigned i = 0; i < s->n_chain; i++)
		free(s->chain[i]);
	free(s->chain);
	free(s->ws_file);
	free(s->error);
	free(s->sock_path);
	free(s);
}

/* Opens the image, settles the working-set mode and the socket. */
static int session_open(struct restore *s, struct cmd_error *err)
{
	struct agent *ag = s->ag;
	enum image_err ie;
	char why[512];

	char *dirs[OPTS_MAX_IMAGE_DIRS + 1];

	if (s->chain && !s->image) {
		/* reopened at start: its paths were checked when the session was made */
		if (!ag->open_chain || ag->open_chain(s->chain, s->n_chain, &s->image, why, sizeof(why)))
			return fail(err, PROTO_E_BAD_REQUEST, "%s", ag->open_chain ? why : "no chain reader");
	} else if (!s->image) {
		/* flat images of snapshot chains left by older agents are allowed too */
		memcpy(dirs, ag->opts.image_dirs, ag->opts.n_image_dirs * sizeof(dirs[0]));
		dirs[ag->opts.n_image_dirs] = ag->snap_restore_dir;
		ie = image_open(s->image_path, dirs,
				ag->opts.n_image_dirs + (ag->snap_restore_dir != NULL), &s->image, why,
				sizeof(why));
		if (ie != IMAGE_OK)
			return fail(err, ie == IMAGE_DENIED ? PROTO_E_PERMISSION_DENIED
				    : ie == IMAGE_INVALID ? PROTO_E_BAD_REQUEST : PROTO_E_INTERNAL, "%s",
				    why);
	}
	if (s->image_offset >= s->image->size)
		return fail(err, PROTO_E_BAD_REQUEST, "\"image_offset\" %llu is beyond the image (%llu bytes)",
			    (unsigned long long)s->image_offset, (unsigned long long)s->image->size);
	if (s->mode == RESTORE_CLONE) {
		s->share = share_get(&ag->shares, s->image, s->clone_memory, &ag->log, why, sizeof(why));
		if (!s->share)
			return fail(err, PROTO_E_INTERNAL, "%s", why);
		if (s->image_offset % s->share->page_size)
			return fail(err, PROTO_E_BAD_REQUEST,
				    "\"image_offset\" must be a multiple of the shared copy's page size %u",
				    s->share->page_size);
	}
	if (s->ws_mode != WS_OFF && !s->ws_file) {
		bool found = s->ws_mode != WS_RECORD && rws_find(s);

		if (s->ws_mode == WS_REPLAY && !found)
			return fail(err, PROTO_E_BAD_REQUEST, "no working set is recorded for %s",
				    s->image->path);
		s->ws_mode = found ? WS_REPLAY : WS_RECORD;
		/* never beside a chain's images: the snapshot directories are the service's */
		if (!found && !s->chain)
			s->ws_file = rws_path(ag, s->image, true);
		if (!s->ws_file)
			s->ws_file = rws_path(ag, s->image, false);
	} else if (s->ws_mode == WS_REPLAY && !rws_find(s)) {
		s->ws_mode = WS_OFF; /* reopened after the recording vanished */
	}
	s->sock_path = path_in(ag->opts.state_dir, "restore", s->id, ".sock");
	if (!s->sock_path)
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	if (strlen(s->sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(err, PROTO_E_INTERNAL,
			    "the session socket path %s is %zu bytes, more than the %zu a Unix socket address holds:"
			    " run the agent with a shorter --state-dir",
			    s->sock_path, strlen(s->sock_path), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	s->srv = ag->handoff_ops.open_restore(ag, s->sock_path, s);
	if (!s->srv)
		return fail(err, PROTO_E_INTERNAL, "cannot open the session socket %s: %s", s->sock_path,
			    strerror(errno));
	return 0;
}

static int get_int(json_t *req, const char *key, json_int_t lo, json_int_t hi, json_int_t dflt,
		   json_int_t *out, struct cmd_error *err)
{
	json_t *v = json_object_get(req, key);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must be an integer in %lld..%lld", key,
			    (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

static int create(struct agent *ag, json_t *req, char *const *chain, unsigned n_chain,
		  struct image **im, json_t **reply, struct cmd_error *err);

/* restore_create: a session serving an image file. */
int restore_create(struct agent *ag, json_t *req, json_t **reply, struct cmd_error *err)
{
	return create(ag, req, NULL, 0, NULL, reply, err);
}

/*
 * A session serving a snapshot chain (snapshot_restore) that the caller
 * checked the paths of and opened as im; im's reference is taken, also
 * when the session cannot be made.
 */
int restore_create_chain(struct agent *ag, json_t *req, char *const *chain, unsigned n_chain,
			 struct image *im, json_t **reply, struct cmd_error *err)
{
	int ret = create(ag, req, chain, n_chain, &im, reply, err);

	image_put(im); /* NULL once the session took it */
	return ret;
}

/* Copies of the paths of a chain into s; -1 when out of memory. */
static int set_chain(struct restore *s, char *const *chain, unsigned n_chain)
{
	s->chain = calloc(n_chain, sizeof(*s->chain));
	if (!s->chain)
		return -1;
	for (; s->n_chain < n_chain; s->n_chain++) {
		s->chain[s->n_chain] = strdup(chain[s->n_chain]);
		if (!s->chain[s->n_chain])
			return -1;
	}
	return 0;
}

static int create(struct agent *ag, json_t *req, char *const *chain, unsigned n_chain,
		  struct image **im, json_t **reply, struct cmd_error *err)
{
	json_t *id = json_object_get(req, "id"), *name = json_object_get(req, "name");
	json_t *labels = json_object_get(req, "labels"), *image = json_object_get(req, "image");
	json_t *ws = json_object_get(req, "working_set"), *snap = json_object_get(req, "snapshot_id");
	json_t *mode = json_object_get(req, "mode"), *mem = json_object_get(req, "clone_memory");
	json_int_t off, around, delay;
	struct restore *s;
	const char *k;
	json_t *v;

	if (id && (!json_is_string(id) || !jx_uuid_valid(json_string_value(id))))
		return fail(err, PROTO_E_BAD_REQUEST, "\"id\" must be a lower-case UUID");
	if (id && restore_find(ag, json_string_value(id)))
		return fail(err, PROTO_E_CONFLICT, "restore session %s exists", json_string_value(id));
	if (name && (!json_is_string(name) || !json_string_length(name)))
		return fail(err, PROTO_E_BAD_REQUEST, "\"name\" must be a non-empty string");
	if (snap && !json_is_null(snap) && (!json_is_string(snap) || !jx_uuid_valid(json_string_value(snap))))
		return fail(err, PROTO_E_BAD_REQUEST, "\"snapshot_id\" must be a lower-case UUID");
	if (labels && !json_is_object(labels))
		return fail(err, PROTO_E_BAD_REQUEST, "\"labels\" must be an object of strings");
	if (labels && json_object_size(labels) > HSK_LABELS_MAX)
		return fail(err, PROTO_E_BAD_REQUEST, "at most %d labels", HSK_LABELS_MAX);
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v))
			return fail(err, PROTO_E_BAD_REQUEST, "\"labels\" must be an object of strings");
		/* the service's limits (Kubernetes'): what it would refuse is refused here too */
		if (!hsk_label_ok(k, json_string_value(v)))
			return fail(err, PROTO_E_BAD_REQUEST, "label \"%.32s\" is not a valid label", k);
	}
	if (!json_is_string(image) || json_string_value(image)[0] != '/')
		return fail(err, PROTO_E_BAD_REQUEST, "\"image\" must be an absolute path");
	if (get_int(req, "image_offset", 0, INT64_MAX, 0, &off, err) ||
	    get_int(req, "fault_around_pages", 0, RESTORE_MAX_FAULT_AROUND, 16, &around, err) ||
	    get_int(req, "populate_delay_ms", -1, RESTORE_MAX_DELAY_MS, 1000, &delay, err))
		return -1;
	if (off % 4096)
		return fail(err, PROTO_E_BAD_REQUEST, "\"image_offset\" must be a multiple of 4096");
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	s->ag = ag;
	s->source = -1;
	s->created_ms = jx_now_ms();
	s->created_ns = mono_now_ns();
	s->image_offset = (uint64_t)off;
	s->fault_around = (unsigned)around;
	s->populate_delay_ms = delay;
	s->ws_requested = WS_AUTO;
	if (ws && (!json_is_string(ws) || ws_parse(json_string_value(ws), &s->ws_requested))) {
		free(s);
		return fail(err, PROTO_E_BAD_REQUEST,
			    "\"working_set\" must be one of off, record, replay, auto");
	}
	s->ws_mode = s->ws_requested;
	if ((mode && (!json_is_string(mode) || mode_parse(json_string_value(mode), &s->mode))) ||
	    (mem && (!json_is_string(mem) ||
		     share_memory_parse(json_string_value(mem), &s->clone_memory)))) {
		free(s);
		return fail(err, PROTO_E_BAD_REQUEST, mode && !json_is_string(mode) ? "\"mode\" must be a string"
			    : "\"mode\" must be copy or clone, \"clone_memory\" shmem or hugetlbfs");
	}
	if (mem && s->mode != RESTORE_CLONE) {
		free(s);
		return fail(err, PROTO_E_BAD_REQUEST, "\"clone_memory\" applies to \"mode\": \"clone\" only");
	}
	s->name = strdup(name ? json_string_value(name) : "restore");
	s->labels = labels ? json_incref(labels) : json_object();
	s->image_path = strdup(json_string_value(image));
	if (id)
		memcpy(s->id, json_string_value(id), JX_UUID_LEN + 1);
	if (json_is_string(snap))
		memcpy(s->snapshot_id, json_string_value(snap), JX_UUID_LEN + 1);
	if (im) {
		s->image = *im;
		*im = NULL;
	}
	if ((!id && jx_uuid_new(s->id)) || !s->name || !s->labels || !s->image_path ||
	    (chain && set_chain(s, chain, n_chain))) {
		session_free(s);
		return fail(err, PROTO_E_INTERNAL, "cannot set the session up: %s", strerror(errno));
	}
	if (session_open(s, err)) {
		session_free(s);
		return -1;
	}
	/* a new file: one journal commit (afile.h), and a workload may be about to connect */
	save_as(s, afile_create);
	s->replied_ns = mono_now_ns();
	s->next = ag->restores;
	ag->restores = s;
	pr_info(&ag->log, "restore session created", LF_STR("id", s->id),
		LF_STR("image", s->image->path), LF_STR("working_set", ws_names[s->ws_mode]),
		LF_STR("mode", mode_names[s->mode]), LF_STR("socket", s->sock_path));
	*reply = restore_json(s);
	return *reply ? 0 : fail(err, PROTO_E_INTERNAL, "out of memory");
}

struct restore *restore_find(struct agent *ag, const char *id)
{
	for (struct restore *s = ag->restores; s; s = s->next) {
		if (!strcmp(s->id, id))
			return s;
	}
	return NULL;
}

int restore_delete(struct agent *ag, struct restore *s, struct cmd_error *err)
{
	struct restore **pp;
	char *path;

	for (unsigned i = 0; i < s->n_regions; i++) {
		struct region *r = region_table_find(ag->regions, s->region_ids[i]);

		if (r && region_state(r) != REGION_DETACHED && !r->ctl.complete)
			return fail(err, PROTO_E_CONFLICT,
				    "region %s is still being restored; detach it first", r->id);
	}
	for (unsigned i = 0; i < s->n_regions; i++) {
		struct region *r = region_table_find(ag->regions, s->region_ids[i]);

		if (r)
			r->ctl.session = NULL; /* complete regions stay attached on their own */
		/* the record of a region no agent serves now would never go otherwise */
		if ((!r || region_state(r) == REGION_DETACHED) && ag->removed_dir)
			region_removed_forget(ag->removed_dir, s->region_ids[i]);
	}
	rws_save(s); /* the session file goes, the recording stays with the image */
	for (pp = &ag->restores; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	path = path_in(ag->opts.state_dir, "restore", s->id, ".json");
	if (!path || unlink(path))
		pr_perror(&ag->log, "cannot remove persisted session", LF_STR("id", s->id));
	free(path);
	pr_info(&ag->log, "restore session deleted", LF_STR("id", s->id));
	/* a flat image of a snapshot chain (made by agents before chains were served) */
	if (s->image && ag->snap_restore_dir &&
	    !strncmp(s->image->path, ag->snap_restore_dir, strlen(ag->snap_restore_dir)) &&
	    s->image->path[strlen(ag->snap_restore_dir)] == '/' && unlink(s->image->path))
		pr_pwarn(&ag->log, "cannot remove the flat image of a snapshot restore",
			 LF_STR("path", s->image->path));
	session_free(s);
	return 0;
}

/* ---- agent start and stop ---------------------------------------------- */

static void reopen(struct agent *ag, const char *file)
{
	json_t *o = json_load_file(file, JSON_REJECT_DUPLICATES, NULL), *v;
	struct cmd_error err = { 0 };
	struct restore *s = calloc(1, sizeof(*s));
	const char *state, *id;
	struct { uint64_t size, mtime_ns, ino; char content[40]; } was = { 0 };
	char cid[40];
	bool has_identity, chain_bad = false;
	size_t i;

	id = json_string_value(json_object_get(o, "id"));
	if (!s || !id || !jx_uuid_valid(id) ||
	    !json_is_string(json_object_get(json_object_get(o, "image"), "path"))) {
		pr_warn(&ag->log, "persisted session unreadable, skipped", LF_STR("file", file));
		json_decref(o);
		free(s);
		return;
	}
	s->ag = ag;
	memcpy(s->id, id, JX_UUID_LEN + 1);
	v = json_object_get(o, "snapshot_id");
	if (json_is_string(v) && jx_uuid_valid(json_string_value(v)))
		memcpy(s->snapshot_id, json_string_value(v), JX_UUID_LEN + 1);
	s->name = strdup(str_or(json_object_get(o, "name"), "restore"));
	v = json_object_get(o, "labels");
	s->labels = json_is_object(v) ? json_incref(v) : json_object();
	s->image_path = strdup(str_or(json_object_get(json_object_get(o, "image"), "path"), ""));
	v = json_object_get(o, "chain");
	if (json_is_array(v) && json_array_size(v) && json_array_size(v) <= 256) {
		json_t *p;

		s->chain = calloc(json_array_size(v), sizeof(*s->chain));
		json_array_foreach(v, i, p) {
			if (s->chain && json_is_string(p) && (s->chain[s->n_chain] = strdup(json_string_value(p))))
				s->n_chain++;
		}
		chain_bad = s->n_chain != json_array_size(v);
	} else if (v) {
		chain_bad = true;
	}
	v = json_object_get(o, "image");
	s->image_offset = (uint64_t)json_integer_value(json_object_get(v, "offset"));
	v = json_object_get(o, "options");
	/* the file is the agent's own, but bounds are cheap */
	s->fault_around = (unsigned)json_integer_value(json_object_get(v, "fault_around_pages"));
	if (s->fault_around > RESTORE_MAX_FAULT_AROUND)
		s->fault_around = RESTORE_MAX_FAULT_AROUND;
	s->populate_delay_ms = json_integer_value(json_object_get(v, "populate_delay_ms"));
	if (s->populate_delay_ms < -1 || s->populate_delay_ms > RESTORE_MAX_DELAY_MS)
		s->populate_delay_ms = -1;
	s->image_offset &= ~(uint64_t)4095;
	ws_parse(str_or(json_object_get(v, "working_set"), "off"), &s->ws_requested);
	mode_parse(str_or(json_object_get(o, "mode"), "copy"), &s->mode);
	share_memory_parse(str_or(json_object_get(json_object_get(o, "clone"), "memory"), "shmem"),
			   &s->clone_memory);
	v = json_object_get(o, "working_set");
	ws_parse(str_or(json_object_get(v, "mode"), "off"), &s->ws_mode);
	if (json_is_string(json_object_get(v, "file")))
		s->ws_file = strdup(json_string_value(json_object_get(v, "file")));
	s->recorded_pages = (uint64_t)json_integer_value(json_object_get(v, "recorded_pages"));
	s->ws_saved = json_is_true(json_object_get(o, "working_set_saved"));
	s->source = -1;
	if (json_is_string(json_object_get(o, "source")))
		s->source = !strcmp(json_string_value(json_object_get(o, "source")), "firecracker")
				    ? REGION_SRC_FIRECRACKER : REGION_SRC_LIBFAULTLINE;
	jx_parse_time(str_or(json_object_get(o, "created_at"), ""), &s->created_ms);
	json_array_foreach(json_object_get(o, "regions"), i, v) {
		if (json_is_string(v) && jx_uuid_valid(json_string_value(v)) &&
		    s->n_regions < RESTORE_MAX_REGIONS)
			memcpy(s->region_ids[s->n_regions++], json_string_value(v), JX_UUID_LEN + 1);
	}
	state = str_or(json_object_get(o, "state"), "WAITING");
	for (unsigned k = 0; k < sizeof(state_names) / sizeof(state_names[0]); k++) {
		if (!strcmp(state, state_names[k]))
			s->state = (enum restore_state)k;
	}
	if (json_is_string(json_object_get(o, "error")))
		s->error = strdup(json_string_value(json_object_get(o, "error")));
	v = json_object_get(o, "image_identity");
	has_identity = json_is_object(v);
	was.size = (uint64_t)json_integer_value(json_object_get(v, "size"));
	was.mtime_ns = (uint64_t)json_integer_value(json_object_get(v, "mtime_ns"));
	was.ino = (uint64_t)json_integer_value(json_object_get(v, "ino"));
	snprintf(was.content, sizeof(was.content), "%s", str_or(json_object_get(v, "content_id"), ""));
	json_decref(o);
	if (!s->name || !s->labels || !s->image_path) {
		session_free(s);
		return;
	}
	if (chain_bad)
		fail(&err, PROTO_E_INTERNAL, "the snapshot chain of the persisted session is unreadable");
	if (chain_bad || session_open(s, &err)) {
		/* kept, so that clients see why; it serves nothing */
		if (!s->sock_path)
			s->sock_path = path_in(ag->opts.state_dir, "restore", s->id, ".sock");
		restore_fail(s, err.message);
	} else if (has_identity && s->state != RESTORE_FAILED && was.content[0]) {
		/* a snapshot chain: the same memory, whatever consolidation did to its files */
		content_hex(s->image, cid);
		if (strcmp(cid, was.content)) {
			char why[512];

			snprintf(why, sizeof(why), "the snapshot chain of %.300s holds other memory than when"
				 " the session began (content id %s, was %s): it is not served",
				 s->image->path, cid[0] ? cid : "none", was.content);
			restore_fail(s, why);
		}
	} else if (has_identity && s->state != RESTORE_FAILED &&
		   (s->image->size != was.size || s->image->mtime_ns != was.mtime_ns ||
		    s->image->ino != was.ino)) {
		char why[512];

		snprintf(why, sizeof(why), "the image %.300s changed while the agent was down (size %llu, "
			 "was %llu; mtime %llu ns, was %llu ns): it is not served", s->image->path,
			 (unsigned long long)s->image->size, (unsigned long long)was.size,
			 (unsigned long long)s->image->mtime_ns, (unsigned long long)was.mtime_ns);
		restore_fail(s, why);
	}
	s->next = ag->restores;
	ag->restores = s;
	pr_info(&ag->log, "restore session reopened", LF_STR("id", s->id),
		LF_STR("state", state_names[s->state]));
}

/* Whether path is the image a session serves (as requested or resolved). */
static bool image_in_use(struct agent *ag, const char *path, const char *resolved)
{
	for (struct restore *s = ag->restores; s; s = s->next) {
		if ((s->image_path && !strcmp(s->image_path, path)) ||
		    (s->image && (!strcmp(s->image->path, path) || !strcmp(s->image->path, resolved))))
			return true;
	}
	return false;
}

/*
 * At start, after the sessions are reopened: a flat image of a snapshot
 * chain no session serves is left by an agent killed while flattening (or
 * between flattening and opening the session).  No job runs yet, so every
 * such file is garbage: removed, and logged.
 */
static void restore_sweep_flat_images(struct agent *ag)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2], resolved[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	DIR *d;

	if (!ag->snap_restore_dir)
		return;
	if (!realpath(ag->snap_restore_dir, dir)) {
		pr_pwarn(&ag->log, "cannot resolve the snapshot restore directory",
			 LF_STR("path", ag->snap_restore_dir));
		return;
	}
	d = opendir(dir);
	if (!d) {
		pr_pwarn(&ag->log, "cannot read the snapshot restore directory", LF_STR("path", dir));
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ag->snap_restore_dir, de->d_name);
		snprintf(resolved, sizeof(resolved), "%s/%s", dir, de->d_name);
		if (image_in_use(ag, path, resolved))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0))
			pr_pwarn(&ag->log, "cannot remove a flat image no session serves",
				 LF_STR("path", resolved));
		else
			pr_info(&ag->log, "flat image no session serves removed", LF_STR("path", resolved));
	}
	closedir(d);
}

int restore_init(struct agent *ag)
{
	char *dir = NULL, *ws = NULL;
	struct dirent *de;
	DIR *d;
	int ret = -1;

	if (asprintf(&dir, "%s/restore", ag->opts.state_dir) < 0 ||
	    asprintf(&ws, "%s/worksets", ag->opts.state_dir) < 0) {
		pr_perror(&ag->log, "out of memory");
		goto free_paths;
	}
	if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(ws, 0700) && errno != EEXIST)) {
		pr_perror(&ag->log, "cannot create session directories", LF_STR("path", dir));
		goto free_paths;
	}
	d = opendir(dir);
	if (!d) {
		pr_perror(&ag->log, "cannot read session directory", LF_STR("path", dir));
		goto free_paths;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *file;

		if (n != JX_UUID_LEN + 5 || strcmp(de->d_name + JX_UUID_LEN, ".json"))
			continue;
		if (asprintf(&file, "%s/%s", dir, de->d_name) < 0)
			continue;
		reopen(ag, file);
		free(file);
	}
	closedir(d);
	restore_sweep_flat_images(ag);
	ret = 0;
free_paths:
	free(dir);
	free(ws);
	return ret;
}

/* Agent stop: recordings in progress are saved (partial but useful). */
void restore_fini(struct agent *ag)
{
	while (ag->restores) {
		struct restore *s = ag->restores;

		ag->restores = s->next;
		for (unsigned i = 0; i < s->n_regions; i++) {
			struct region *r = region_table_find(ag->regions, s->region_ids[i]);

			if (r && r->ctl.session == s && r->w.rec.n)
				rws_keep(s, &r->w.rec);
		}
		if (rws_save(s) || s->sync_armed)
			save(s);
		session_free(s);
	}
}

/* Whether a session (persisted, so also one of a previous agent) served region_id. */
bool restore_knows_region(struct agent *ag, const char *region_id)
{
	for (struct restore *s = ag->restores; s; s = s->next) {
		for (unsigned i = 0; i < s->n_regions; i++) {
			if (!strcmp(s->region_ids[i], region_id))
				return true;
		}
	}
	return false;
}

/*
 * clone_memory (PROTOCOL.md §2.5): a read-only descriptor of the shared
 * copy for a workload of a clone session, which maps it MAP_PRIVATE over
 * its region before registering it in minor mode.  Returns the descriptor.
 */
int restore_clone_fd(const struct restore *s, json_t **reply, struct cmd_error *err)
{
	int fd;

	if (s->mode != RESTORE_CLONE)
		return fail(err, PROTO_E_CONFLICT,
			    "restore session %s copies pages (mode copy): it has no shared memory to map",
			    s->id);
	if (!s->share)
		return fail(err, PROTO_E_CONFLICT, "the session failed: %s",
			    s->error ? s->error : "no shared copy");
	fd = share_open_readonly(s->share);
	if (fd < 0)
		return fail(err, PROTO_E_INTERNAL, "cannot open the shared copy: %s", strerror(errno));
	*reply = json_pack("{s:s, s:I, s:I, s:I, s:I}", "memory", share_memory_name(s->share->memory),
			   "offset", (json_int_t)s->image_offset, "image_size",
			   (json_int_t)s->image->size, "size", (json_int_t)s->share->size, "page_size",
			   (json_int_t)s->share->page_size);
	if (!*reply) {
		close(fd);
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	return fd;
}
