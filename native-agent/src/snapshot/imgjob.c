/*
 * Jobs on whole snapshot images (PROTOCOL.md §1.10), run on job threads
 * (job.h) and answered from the loop thread: snapshot_verify,
 * snapshot_consolidate, snapshot_restore (a lazy session served from the
 * chain, or an eager write into an attached region) and snapshot_delete.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"
#include "image.h"
#include "imgjob.h"
#include "inflight.h"
#include "job.h"
#include "region.h"
#include "restore.h"
#include "snap.h"
#include "snapchain.h"
#include "snapfile.h"

#define LOG_COMP "snapshot"
#include "log.h"

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
		cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
		return NULL;
	}
	sj->kind = kind;
	sj->j.done = job_done;
	sj->j.run = kind == SJ_VERIFY ? run_verify : kind == SJ_CONSOLIDATE ? run_consolidate
		    : kind == SJ_EAGER ? run_eager : run_restore;
	sj->key = defer_key(&ag->defer);
	if (defer_add(&ag->defer, sj->key, s->ref, h->type, h->id)) {
		free(sj);
		cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
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
	return snap_writing(ag, path) || job_busy(ag, sj_uses, path);
}

int imgjob_verify(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		json_t **reply, struct cmd_error *err)
{
	char path[PATH_MAX];
	struct snap_job *sj;
	struct stat st;

	(void)reply;
	if (snap_check_path(ag, json_object_get(req, "path"), "path", path, sizeof(path), err))
		return -1;
	if (lstat(path, &st))
		return cmd_fail(err, PROTO_E_NOT_FOUND, "%s: %s", path, strerror(errno));
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

int imgjob_consolidate(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		     json_t *req, json_t **reply, struct cmd_error *err)
{
	char parent[PATH_MAX], child[PATH_MAX];
	struct snap_job *sj;

	(void)reply;
	if (snap_check_path(ag, json_object_get(req, "parent_path"), "parent_path", parent, sizeof(parent),
		       err) ||
	    snap_check_path(ag, json_object_get(req, "child_path"), "child_path", child, sizeof(child), err))
		return -1;
	if (!strcmp(parent, child))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "an image cannot be consolidated into itself");
	if (busy(ag, parent) || busy(ag, child))
		return cmd_fail(err, PROTO_E_CONFLICT, "%s or %s is being written", parent, child);
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

int imgjob_delete(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		json_t **reply, struct cmd_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	bool removed, removed_tmp;

	(void)h;
	if (snap_check_path(ag, json_object_get(req, "path"), "path", path, sizeof(path), err)) {
		if (err->code != PROTO_E_NOT_FOUND)
			return -1;
		/* its directory is gone, so is the image: deleting is idempotent */
		*reply = json_pack("{s:b, s:b}", "existed", false, "tmp_removed", false);
		return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	if (busy(ag, path))
		return cmd_fail(err, PROTO_E_CONFLICT, "%s is being written or read", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	removed = !unlink(path);
	if (!removed && errno != ENOENT)
		return cmd_fail(err, PROTO_E_INTERNAL, "removing %s: %s", path, strerror(errno));
	removed_tmp = !unlink(tmp);
	if (!removed_tmp && errno != ENOENT)
		return cmd_fail(err, PROTO_E_INTERNAL, "removing %s: %s", tmp, strerror(errno));
	pr_info(&ag->log, "snapshot deleted", LF_UINT("conn", s->conn), LF_STR("path", path),
		LF_BOOL("existed", removed), LF_BOOL("tmp_removed", removed_tmp));
	*reply = json_pack("{s:b, s:b}", "existed", removed, "tmp_removed", removed_tmp);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

int imgjob_restore(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
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
		return cmd_fail(err, PROTO_E_BAD_REQUEST,
			    "\"chain\" must be an array of 1 to 256 image paths, the full image first");
	json_t *rid = json_object_get(req, "region_id");
	struct region *r = NULL;
	bool eager = mode && json_is_string(mode) && !strcmp(json_string_value(mode), "eager");

	json_t *rmode = json_object_get(req, "restore_mode");

	if (mode && !eager && (!json_is_string(mode) || strcmp(json_string_value(mode), "lazy")))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"mode\" must be lazy or eager");
	/* the session's own mode (restore_create's "mode"), checked before the chain is read */
	if (rmode && (!json_is_string(rmode) || (strcmp(json_string_value(rmode), "copy") &&
						 strcmp(json_string_value(rmode), "clone"))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"restore_mode\" must be copy or clone");
	if (rmode && eager)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"restore_mode\" is for lazy restores (a session)");
	if (eager) {
		if (!json_is_string(rid))
			return cmd_fail(err, PROTO_E_BAD_REQUEST, "an eager restore needs \"region_id\"");
		r = region_table_find(ag->regions, json_string_value(rid));
		if (!r)
			return cmd_fail(err, PROTO_E_NOT_FOUND, "no region %.64s", json_string_value(rid));
		if (region_state(r) != REGION_ATTACHED)
			return cmd_fail(err, PROTO_E_CONFLICT, "region %s is not attached", r->id);
		if (snap_taking(ag, r->id, NULL, 0))
			return cmd_fail(err, PROTO_E_CONFLICT, "a snapshot of region %s is being taken", r->id);
	}
	if (verify && !json_is_boolean(verify))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"verify\" must be true or false");
	if (id && (!json_is_string(id) || !jx_uuid_valid(json_string_value(id))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"id\" must be a lower-case UUID");
	if (id && restore_find(ag, json_string_value(id)))
		return cmd_fail(err, PROTO_E_CONFLICT, "restore session %s exists", json_string_value(id));
	/* checked again by restore_create, but refused before the chain is flattened */
	v = json_object_get(req, "snapshot_id");
	if (v && !json_is_null(v) && (!json_is_string(v) || !jx_uuid_valid(json_string_value(v))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"snapshot_id\" must be a lower-case UUID");
	json_array_foreach(chain, i, v) {
		if (snap_check_path(ag, v, "chain[]", path, sizeof(path), err))
			return -1;
	}
	if (id)
		snprintf(sid, sizeof(sid), "%s", json_string_value(id));
	else if (jx_uuid_new(sid))
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot make an id");
	/* the session is made once the chain is open; its image is the newest of the chain */
	snap_check_path(ag, json_array_get(chain, json_array_size(chain) - 1), "chain[]", path, sizeof(path),
		   err);
	create = json_deep_copy(req);
	if (!create || json_object_del(create, "chain") ||
	    json_object_set_new(create, "id", json_string(sid)) ||
	    json_object_set_new(create, "image", json_string(path))) {
		json_decref(create);
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	json_object_del(create, "mode");
	json_object_del(create, "verify");
	if (rmode && (json_object_set(create, "mode", rmode) || json_object_del(create, "restore_mode"))) {
		json_decref(create);
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
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

		snap_check_path(ag, v, "chain[]", path, sizeof(path), &e2);
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
