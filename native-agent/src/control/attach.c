/*
 * Regions on the loop thread; see attach.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "attach.h"
#include "fault.h"
#include "image.h"
#include "keep.h"
#include "mig.h"
#include "notify.h"
#include "region.h"
#include "restore.h"
#include "snap.h"
#include "srv.h"

#define LOG_COMP "region"
#include "log.h"

#define fail cmd_fail

/* anonymous regions (general handoff socket): zero pages installed per fault */
#define ATTACH_ANON_FAULT_AROUND 16

static uint32_t base_page(void)
{
	return (uint32_t)sysconf(_SC_PAGESIZE);
}

/* The descriptor must be a userfaultfd: anything else is refused before use. */
static bool is_uffd(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strcmp(target, "anon_inode:[userfaultfd]");
}

static void read_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, len - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	out[n] = '\0';
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
}

/* waits: the workload waits for the reply, so the replay may be reordered. */
/*
 * The labels a region gets: the workload's, and over them the restore session's, which the
 * operator chose when creating the session (PROTOCOL.md §1.8 restore_create). New reference.
 */
static json_t *session_labels(json_t *workload, const struct restore *s)
{
	json_t *merged = workload ? json_deep_copy(workload) : json_object();

	if (merged && s && s->labels && json_object_update(merged, s->labels)) {
		json_decref(merged);
		return NULL;
	}
	return merged;
}

/* peer: the workload; ref: the connection it registered on (zero: none, a kept uffd) */
static struct region *new_region(const char *id, const char *name, json_t *labels,
				 const struct conn_peer *peer, struct conn_ref ref, uint64_t start,
				 uint64_t length, uint32_t ps, struct restore *s, uint64_t image_off,
				 bool waits)
{
	struct region *r = region_new(id, name, labels, start, length, ps);

	if (!r)
		return NULL;
	r->pid = peer->pid;
	r->uid = peer->uid;
	read_comm(r->pid, r->command, sizeof(r->command));
	r->ctl.conn = ref;
	r->ctl.session = s;
	if (s) {
		r->kind = REGION_IMAGE;
		r->image = image_get(s->image);
		r->image_path = strdup(s->image->path);
		r->image_offset = image_off;
		if (!r->image_path) {
			region_put(r);
			return NULL;
		}
		memcpy(r->restore_id, s->id, sizeof(r->restore_id));
		if (restore_region_setup(s, r, waits)) {
			region_put(r);
			return NULL;
		}
	} else {
		r->kind = REGION_ANON;
		r->w.fault_around = ATTACH_ANON_FAULT_AROUND;
	}
	return r;
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Hands the uffd and regions to the engine; the regions enter the table. */
static int start_serving(struct agent *ag, struct region **regs, unsigned n, int fd, int hold_fd,
			 pid_t pid)
{
	int pidfd = pidfd_of(pid);

	if (pidfd < 0) {
		close(fd);
		if (hold_fd >= 0)
			close(hold_fd);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		/* image regions: removed pages must read zero across a restart too */
		if (regs[i]->kind == REGION_IMAGE &&
		    region_removed_open(regs[i], ag->removed_dir, regs[i]->resumed))
			pr_pwarn(&ag->log, "removed pages of the region will not survive an agent restart",
				 LF_STR("id", regs[i]->id));
	}
	if (fault_attach(ag->engine, fd, hold_fd, pidfd, pid, regs, n))
		return -1;
	for (unsigned i = 0; i < n; i++) {
		region_table_add(ag->regions, regs[i]);
		if (regs[i]->ctl.session)
			restore_region_added(regs[i]->ctl.session, regs[i], false);
		notify_region(ag, regs[i], "region_attached");
		pr_info(&ag->log, "region attached", LF_STR("id", regs[i]->id),
			LF_STR("name", regs[i]->name), LF_INT("pid", pid),
			LF_HEX("start", region_start(regs[i])), LF_UINT("length", regs[i]->length),
			LF_UINT("page_size", regs[i]->page_size),
			LF_STR("backing", regs[i]->kind == REGION_IMAGE ? "image" : "anonymous"),
			LF_UINT("prefetch_runs", regs[i]->w.n_prefetch), LF_UINT("worker", regs[i]->ctl.worker));
	}
	return 0;
}

static json_t *register_reply(const struct region *r)
{
	return json_pack("{s:s, s:o}", "id", r->id, "backing", region_backing_json(r));
}

/* A region the agent still serves, registered again (the connection broke). */
static int reclaim(struct agent *ag, struct region *r, struct conn *c, int fd, json_t **reply,
		   struct cmd_error *err)
{
	close(fd); /* the agent holds this uffd already */
	if (r->pid != conn_peer(c)->pid)
		return fail(err, PROTO_E_CONFLICT, "region %s belongs to another process", r->id);
	r->ctl.conn = conn_ref(c);
	pr_info(&ag->log, "region re-registered on a new connection", LF_STR("id", r->id));
	*reply = register_reply(r);
	return *reply ? 0 : fail(err, PROTO_E_INTERNAL, "out of memory");
}

static void forget(struct agent *ag, struct region *r)
{
	for (struct region **pp = &ag->regions->head; *pp; pp = &(*pp)->ctl.next) {
		if (*pp == r) {
			*pp = r->ctl.next;
			ag->regions->n_detached--;
			region_put(r);
			return;
		}
	}
}

/* Both uffds of a refused registration go; the workload keeps its copies. */
static int refuse(int fd, int hold_fd, struct cmd_error *err, enum proto_err code, const char *why)
{
	close(fd);
	if (hold_fd >= 0)
		close(hold_fd);
	return fail(err, code, "%s", why);
}

/*
 * region_register (PROTOCOL.md §2.1).  The reply waits until the worker
 * serves the region and has installed its working set, if one is replayed.
 * hold_fd: the hold uffd of a write-protect-managed region, or -1.
 */
int attach_register(struct agent *ag, struct conn *c, struct restore *s, const struct proto_hdr *h,
		    json_t *req, int fd, int hold_fd, json_t **reply, struct cmd_error *err)
{
	struct hsk_register hr;
	struct region *r, *old = NULL;
	json_t *labels;
	uint64_t off = s ? s->image_offset : 0;
	char why[256];

	if (hsk_parse_register(req, base_page(), &hr, why, sizeof(why)))
		return refuse(fd, hold_fd, err, PROTO_E_BAD_REQUEST, why);
	if (!is_uffd(fd) || (hold_fd >= 0 && !is_uffd(hold_fd)))
		return refuse(fd, hold_fd, err, PROTO_E_BAD_REQUEST,
			      "a descriptor sent is not a userfaultfd");
	if (hr.resume && (old = region_table_find(ag->regions, hr.resume_id))) {
		if (region_state(old) != REGION_DETACHED) {
			if (hold_fd >= 0)
				close(hold_fd);
			return reclaim(ag, old, c, fd, reply, err);
		}
		forget(ag, old);
	}
	if (region_table_overlap(ag->regions, conn_peer(c)->pid, hr.start, hr.length))
		return refuse(fd, hold_fd, err, PROTO_E_CONFLICT,
			      "the range overlaps a registered region of this process");
	/*
	 * A clone maps the shared copy (clone_memory) and registers in minor mode,
	 * with missing for the copy's holes (install.c) or without (older clients).
	 */
	if (s && s->mode == RESTORE_CLONE && hr.modes != REGION_MODE_MINOR &&
	    hr.modes != (REGION_MODE_MINOR | REGION_MODE_MISSING))
		return refuse(fd, hold_fd, err, PROTO_E_BAD_REQUEST,
			      "this restore session serves clones: map its shared memory (clone_memory) over "
			      "the region and register it in mode \"minor\" (and \"missing\") only");
	if (s && s->mode == RESTORE_COPY && (hr.modes & REGION_MODE_MINOR))
		return refuse(fd, hold_fd, err, PROTO_E_BAD_REQUEST,
			      "mode \"minor\" is for clone sessions; this one copies pages (missing mode)");
	if (s && (!s->image || s->image->size < off || s->image->size - off < hr.length))
		return refuse(fd, hold_fd, err, PROTO_E_BAD_REQUEST,
			      s->image ? "the region is larger than the image" : "the session has no image");
	labels = session_labels(hr.labels, s);
	r = labels ? new_region(hr.resume ? hr.resume_id : NULL, hr.name, labels, conn_peer(c), conn_ref(c),
					 hr.start, hr.length,
				hr.page_size, s, off, true)
		   : NULL;
	json_decref(labels);
	if (!r)
		return refuse(fd, hold_fd, err, PROTO_E_INTERNAL, "out of memory");
	r->modes = hr.modes;
	r->features = hr.features;
	r->hold = hold_fd >= 0;
	r->hold_features = hr.hold_features;
	r->resumed = hr.resume;
	if (hr.resume && hold_fd >= 0)
		mig_region_resumed(ag, r, fd, hold_fd);
	r->source = REGION_SRC_LIBFAULTLINE;
	if (hold_fd >= 0) {
		/* a migration drives both uffds itself (mig_src.c); the engine keeps its own */
		r->ctl.mig_track_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		r->ctl.mig_hold_fd = fcntl(hold_fd, F_DUPFD_CLOEXEC, 0);
	}
	r->ctl.register_key = defer_key(&ag->defer);
	if (defer_add(&ag->defer, r->ctl.register_key, conn_ref(c), h->type, h->id)) {
		region_put(r);
		return refuse(fd, hold_fd, err, PROTO_E_INTERNAL, "out of memory");
	}
	if (start_serving(ag, &r, 1, fd, hold_fd, r->pid)) {
		int e = errno;

		defer_fail(&ag->defer, ag->hub, r->ctl.register_key, PROTO_E_INTERNAL,
			   e == ESRCH ? "the workload is gone" : "cannot serve the region");
		region_put(r);
		return CMD_DEFERRED; /* already answered */
	}
	return CMD_DEFERRED;
}

/*
 * Firecracker's handshake (PROTOCOL.md §2.2): one region per guest memory
 * region, all on the one uffd, named <session>-<index>.  Firecracker
 * requested UFFD_FEATURE_EVENT_REMOVE only, which is what its uffd carries.
 */
/*
 * The regions of one Firecracker uffd: one per guest memory region, named
 * <session>-<index>, with the ids given (a kept uffd served again) or new.
 * Firecracker requested UFFD_FEATURE_EVENT_REMOVE only, which is what its
 * uffd carries.  Returns how many were made in regs (all n, or -1).
 */
static int firecracker_regions(struct agent *ag, const struct conn_peer *peer, struct conn_ref ref,
			       struct restore *s, const struct hsk_fc_region *m,
			       const char *const *ids, unsigned n, struct region **regs, char *why,
			       size_t why_len)
{
	unsigned made = 0;

	for (unsigned i = 0; i < n; i++) {
		char name[HSK_NAME_MAX + 1];

		if (m[i].offset > s->image->size || s->image->size - m[i].offset < m[i].size ||
		    s->image->size - m[i].offset - m[i].size < s->image_offset) {
			snprintf(why, why_len, "guest region %u lies beyond the image", i);
			goto put_regions;
		}
		if (region_table_overlap(ag->regions, peer->pid, m[i].base, m[i].size)) {
			snprintf(why, why_len, "guest region %u overlaps a registered region", i);
			goto put_regions;
		}
		snprintf(name, sizeof(name), "%.100s-%u", s->name, i);
		regs[i] = new_region(ids ? ids[i] : NULL, name, s->labels, peer, ref, m[i].base,
				     m[i].size, m[i].page_size, s, s->image_offset + m[i].offset, false);
		if (!regs[i]) {
			snprintf(why, why_len, "out of memory");
			goto put_regions;
		}
		made++;
		regs[i]->modes = REGION_MODE_MISSING;
		regs[i]->features = UFFD_FEATURE_EVENT_REMOVE;
		regs[i]->source = REGION_SRC_FIRECRACKER;
	}
	return (int)made;

put_regions:
	for (unsigned i = 0; i < made; i++)
		region_put(regs[i]);
	return -1;
}

/*
 * Firecracker's handshake (PROTOCOL.md §2.2), all regions on the one uffd.
 * Firecracker never hands its uffd over again, so a duplicate is kept
 * outside the agent (keep.h) before the regions are served.
 */
int attach_firecracker(struct agent *ag, struct conn *c, struct restore *s,
		       const struct hsk_fc_region *m, unsigned n, int fd, char *why, size_t why_len)
{
	struct region *regs[HSK_FC_MAX_REGIONS];
	int made;

	if (!is_uffd(fd)) {
		snprintf(why, why_len, "the descriptor sent is not a userfaultfd");
		goto close_fd;
	}
	if (!s->image) {
		snprintf(why, why_len, "the session failed: %s", s->error ? s->error : "no image");
		goto close_fd;
	}
	if (s->mode == RESTORE_CLONE) {
		/* docs/restore.md "Clones and Firecracker": nothing of the copy can reach its memory */
		snprintf(why, why_len, "restore session %s serves clones: Firecracker maps guest memory "
			 "anonymous (missing faults only), never a shared copy; copy sessions serve it",
			 s->id);
		goto close_fd;
	}
	made = firecracker_regions(ag, conn_peer(c), conn_ref(c), s, m, NULL, n, regs, why, why_len);
	if (made < 0)
		goto close_fd;
	if (keep_firecracker(ag, s, conn_peer(c)->pid, fd, regs, n))
		pr_warn(&ag->log, "Firecracker's uffd is not kept: the guest will hang if the agent "
				  "restarts", LF_STR("session", s->id));
	if (start_serving(ag, regs, n, fd, -1, conn_peer(c)->pid)) {
		snprintf(why, why_len, "cannot serve the regions: %s", strerror(errno));
		if (regs[0]->ctl.kept[0])
			keep_release(ag, regs[0]);
		for (unsigned i = 0; i < n; i++)
			region_put(regs[i]);
		return -1;
	}
	return 0;

close_fd:
	close(fd);
	return -1;
}

/*
 * A kept uffd taken back by a restarted agent: the same regions under the
 * same ids.  The worker wakes every thread blocked in them at start (faults
 * the dead agent read but never answered are raised again); pages present
 * show up as EEXIST and are counted present.
 */
int attach_kept_firecracker(struct agent *ag, const struct keep_record *rec, struct restore *s,
			    int fd)
{
	const struct conn_peer peer = { .pid = rec->pid, .uid = 0 };
	struct hsk_fc_region m[KEEP_MAX_REGIONS];
	const char *ids[KEEP_MAX_REGIONS];
	struct region *regs[KEEP_MAX_REGIONS];
	char why[160];
	int made;

	if (!s->image || !is_uffd(fd)) {
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < rec->n; i++) {
		m[i] = rec->regions[i].m;
		ids[i] = rec->regions[i].id;
	}
	made = firecracker_regions(ag, &peer, (struct conn_ref){ 0 }, s, m, ids, rec->n, regs, why,
				   sizeof(why));
	if (made < 0) {
		pr_err(&ag->log, "a kept uffd's regions cannot be rebuilt", LF_STR("name", rec->name),
		       LF_STR("reason", why));
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < rec->n; i++) {
		regs[i]->resumed = true;
		snprintf(regs[i]->ctl.kept, sizeof(regs[i]->ctl.kept), "%s", rec->name);
	}
	if (start_serving(ag, regs, rec->n, fd, -1, rec->pid)) {
		for (unsigned i = 0; i < rec->n; i++)
			region_put(regs[i]);
		return -1;
	}
	return 0;
}

/* region_unregister: the workload is done with its region. */
int attach_unregister(struct agent *ag, const struct conn_peer *peer, json_t *req,
		      struct cmd_error *err)
{
	json_t *id = json_object_get(req, "id");
	struct region *r = json_is_string(id) ? region_table_find(ag->regions, json_string_value(id))
					      : NULL;

	if (!json_is_string(id))
		return fail(err, PROTO_E_BAD_REQUEST, "\"id\" must be a string");
	if (!r || r->pid != peer->pid)
		return fail(err, PROTO_E_NOT_FOUND, "no region %.64s of this process",
			    json_string_value(id));
	if (region_state(r) == REGION_DETACHED)
		return 0;
	region_set_state(r, REGION_DETACHING);
	notify_region(ag, r, "region_state");
	if (fault_release(ag->engine, r))
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	return 0;
}

static json_t *detach_reply(const struct region *r)
{
	return json_pack("{s:s, s:s, s:I}", "id", r->id, "state", "DETACHED", "populated_pages",
			 (json_int_t)r->ctl.populated);
}

/* region_detach (PROTOCOL.md §1.8); answered when the worker let go. */
int attach_detach(struct agent *ag, struct region *r, bool populate, struct conn_ref ref,
		  uint8_t type, uint64_t id, json_t **reply, struct cmd_error *err)
{
	if (region_state(r) == REGION_DETACHED) {
		*reply = detach_reply(r);
		return *reply ? 0 : fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	if (!r->ctl.detach_key) {
		r->ctl.detach_key = defer_key(&ag->defer);
		if (fault_detach(ag->engine, r, populate)) {
			r->ctl.detach_key = 0;
			return fail(err, PROTO_E_INTERNAL, "out of memory");
		}
		region_set_state(r, REGION_DETACHING);
		notify_region(ag, r, "region_state");
	}
	if (defer_add(&ag->defer, r->ctl.detach_key, ref, type, id))
		return fail(err, PROTO_E_INTERNAL, "out of memory");
	return CMD_DEFERRED;
}

/* ---- completions from the engine --------------------------------------- */

static void tell_workload(struct agent *ag, struct region *r)
{
	struct conn *c = srv_hub_find(ag->hub, r->ctl.conn);
	json_t *body;
	uint64_t id;

	if (!c)
		return;
	body = json_pack("{s:s, s:I}", "id", r->id, "populated_pages", (json_int_t)r->ctl.populated);
	if (!body || conn_request(c, PROTO_T_REGION_DETACHED, body, &id))
		pr_pwarn(&ag->log, "cannot tell the workload its region was released",
			 LF_STR("id", r->id));
	json_decref(body);
}

static void on_detached(struct agent *ag, struct fault_done *d)
{
	struct region *r = d->r;
	json_t *body;

	region_set_state(r, REGION_DETACHED);
	r->ctl.detached_ms = jx_now_ms();
	r->ctl.populated = d->populated;
	snprintf(r->ctl.detach_reason, sizeof(r->ctl.detach_reason), "%s", d->reason);
	pr_info(&ag->log, "region detached", LF_STR("id", r->id), LF_STR("reason", d->reason),
		LF_UINT("populated_pages", d->populated),
		LF_UINT("present", region_stat(&r->st.present)), LF_UINT("pages", r->n_pages));
	if (r->ctl.register_key) {
		char msg[160];

		snprintf(msg, sizeof(msg), "the region ended before it was served: %s", d->reason);
		defer_fail(&ag->defer, ag->hub, r->ctl.register_key, PROTO_E_INTERNAL, msg);
		r->ctl.register_key = 0;
	}
	if (r->ctl.detach_key) {
		body = detach_reply(r);
		if (body)
			defer_answer(&ag->defer, ag->hub, r->ctl.detach_key, body);
		else
			defer_fail(&ag->defer, ag->hub, r->ctl.detach_key, PROTO_E_INTERNAL,
				   "out of memory");
		json_decref(body);
		r->ctl.detach_key = 0;
	}
	if (strcmp(d->reason, "unregistered by the workload") && strcmp(d->reason, "workload exited"))
		tell_workload(ag, r);
	if (r->ctl.session)
		restore_region_detached(r->ctl.session, r, &d->rec);
	keep_release(ag, r);
	region_removed_forget(ag->removed_dir, r->id);
	notify_region(ag, r, "region_state");
	region_table_detached(ag->regions, r);
}

static void on_done(struct agent *ag, struct fault_done *d)
{
	struct region *r = d->r;
	json_t *body;

	switch (d->kind) {
	case FAULT_READY:
		if (r->ctl.session)
			restore_region_ready(r->ctl.session, r);
		if (!r->ctl.register_key)
			break;
		body = register_reply(r);
		if (body)
			defer_answer(&ag->defer, ag->hub, r->ctl.register_key, body);
		else
			defer_fail(&ag->defer, ag->hub, r->ctl.register_key, PROTO_E_INTERNAL,
				   "out of memory");
		json_decref(body);
		r->ctl.register_key = 0;
		break;
	case FAULT_COMPLETE:
		r->ctl.complete = true;
		pr_info(&ag->log, "region complete", LF_STR("id", r->id), LF_UINT("pages", r->n_pages));
		if (r->ctl.session)
			restore_region_complete(r->ctl.session, r, &d->rec);
		notify_region(ag, r, "region_state");
		break;
	case FAULT_DETACHED:
		on_detached(ag, d);
		break;
	case FAULT_ADOPT:
		/* born in the worker: it shares the parent's image without a reference yet */
		if (r->image)
			image_get(r->image);
		r->ctl.session = d->parent->ctl.session;
		r->ctl.worker = d->parent->ctl.worker;
		region_table_add(ag->regions, r);
		if (r->ctl.session)
			restore_region_added(r->ctl.session, r, true);
		notify_region(ag, r, "region_attached");
		pr_info(&ag->log, "region adopted", LF_STR("id", r->id), LF_STR("from", d->parent->id),
			LF_HEX("start", region_start(r)), LF_UINT("length", r->length));
		break;
	case FAULT_CAPTURE_AT_T:
	case FAULT_CAPTURE_DONE:
		snap_capture_done(ag, d);
		break;
	case FAULT_ERROR:
		pr_err(&ag->log, "region failed", LF_STR("id", r->id), LF_STR("reason", d->reason));
		if (r->ctl.session)
			restore_fail(r->ctl.session, d->reason);
		break;
	}
	wset_rec_free(&d->rec);
}

static void completions_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct agent *ag = h->opaque;
	struct fault_done done[32];
	unsigned n;

	(void)lp;
	(void)events;
	do {
		n = fault_take(ag->engine, done, 32);
		for (unsigned i = 0; i < n; i++)
			on_done(ag, &done[i]);
	} while (n == 32);
}

int attach_start(struct agent *ag)
{
	struct fault_cfg cfg = {
		.workers = ag->opts.workers,
		.spin_us = ag->opts.spin_us,
		.chunk_pages = ag->opts.populate_chunk_pages,
		.track_granule = ag->opts.track_granule,
		.install_helpers = ag->opts.install_helpers,
	};

	ag->engine = fault_start(&ag->log, &cfg);
	if (!ag->engine)
		return -1;
	ag->engine_h.fn = completions_ready;
	ag->engine_h.opaque = ag;
	if (loop_add(&ag->loop, fault_notify_fd(ag->engine), EPOLLIN, &ag->engine_h)) {
		pr_perror(&ag->log, "cannot watch the fault engine");
		fault_stop(ag->engine, NULL, NULL);
		ag->engine = NULL;
		return -1;
	}
	return 0;
}

/* Captures the stopping workers hand back are answered (they failed). */
static void drain(void *arg, struct fault_done *d)
{
	if (d->kind == FAULT_CAPTURE_DONE)
		snap_capture_done(arg, d);
	wset_rec_free(&d->rec);
}

/* Workers stop first; what they reported last is still applied. */
void attach_stop(struct agent *ag)
{
	if (!ag->engine)
		return;
	loop_del(&ag->loop, fault_notify_fd(ag->engine), &ag->engine_h);
	fault_stop(ag->engine, drain, ag);
	ag->engine = NULL;
}

/*
 * At start, after the sessions were reopened: records of removed pages
 * whose region no session knows any more (the session was deleted while
 * no agent ran) are of no use.
 */
void attach_sweep_removed(struct agent *ag)
{
	struct dirent *de;
	DIR *d = opendir(ag->removed_dir);

	while (d && (de = readdir(d))) {
		char id[JX_UUID_LEN + 1];
		size_t len = strlen(de->d_name);

		if (len != JX_UUID_LEN + 8 || strcmp(de->d_name + JX_UUID_LEN, ".removed"))
			continue;
		memcpy(id, de->d_name, JX_UUID_LEN);
		id[JX_UUID_LEN] = '\0';
		if (!restore_knows_region(ag, id) && !region_table_find(ag->regions, id) &&
		    !unlinkat(dirfd(d), de->d_name, 0))
			pr_info(&ag->log, "record of removed pages of a gone region deleted",
				LF_STR("region", id));
	}
	if (d)
		closedir(d);
}
