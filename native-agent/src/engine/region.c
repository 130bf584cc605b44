/*
 * Regions: creation, statistics and their JSON form, and the table the
 * loop thread keeps them in.  See region.h for who may touch what.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitmap.h"
#include "bytes.h"
#include "hist.h"
#include "image.h"
#include "mono.h"
#include "region.h"
#include "track.h"

/* detached regions kept for listing, oldest dropped first */
#define REGION_KEEP_DETACHED 256

struct region *region_new(const char *id, const char *name, json_t *labels, uint64_t start,
			  uint64_t length, uint32_t page_size)
{
	struct region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (id)
		memcpy(r->id, id, JX_UUID_LEN + 1);
	else if (jx_uuid_new(r->id))
		goto free_region;
	r->ctl.mig_track_fd = r->ctl.mig_hold_fd = -1;
	r->w.removed_log = -1;
	r->name = strdup(name);
	if (!r->name)
		goto free_region;
	r->labels = labels ? json_incref(labels) : json_object();
	atomic_init(&r->start, start);
	r->length = length;
	r->page_size = page_size;
	r->n_pages = length / page_size;
	r->attached_ms = jx_now_ms();
	r->w.fault_around = 1;
	r->w.populate_after_ms = -1;
	r->w.present_map = bitmap_new(r->n_pages);
	if (!r->labels || !r->w.present_map)
		goto free_name;
	atomic_init(&r->state, REGION_ATTACHED);
	r->ctl.refs = 1;
	return r;

free_name:
	json_decref(r->labels);
	free(r->w.present_map);
	free(r->name);
free_region:
	free(r);
	return NULL;
}

/*
 * A new region for pages [first, first + n) of src now at new_start: the
 * moved part of a partial mremap, or the whole region in a forked child.
 * It keeps the backing and the page state; counters start from zero.
 * Called by the worker that serves src.
 */
struct region *region_clone(const struct region *src, uint64_t first_page, uint64_t n_pages,
			    uint64_t new_start)
{
	struct region *r = region_new(NULL, src->name, src->labels, new_start,
				      n_pages * src->page_size, src->page_size);
	uint64_t present = 0, gone = 0;

	if (!r)
		return NULL;
	r->pid = src->pid;
	r->uid = src->uid;
	memcpy(r->command, src->command, sizeof(r->command));
	r->modes = src->modes;
	r->features = src->features;
	r->source = src->source;
	r->kind = src->kind;
	if (src->image_path && !(r->image_path = strdup(src->image_path))) {
		region_put(r);
		return NULL;
	}
	r->image = src->image; /* the loop thread takes its reference on adoption */
	r->image_offset = src->image_offset + first_page * src->page_size;
	memcpy(r->restore_id, src->restore_id, sizeof(r->restore_id));
	r->w.fault_around = src->w.fault_around;
	r->w.populate_after_ms = src->w.populate_after_ms;
	r->w.clone = src->w.clone;
	r->w.staged = src->w.staged ? src->w.staged + first_page * src->page_size : NULL;
	if (src->w.clone_holes) {
		r->w.clone_holes = bitmap_new(n_pages);
		if (!r->w.clone_holes) {
			r->image = NULL; /* not ours to put */
			region_put(r);
			return NULL;
		}
		bitmap_copy(r->w.clone_holes, src->w.clone_holes, first_page, n_pages);
	}
	bitmap_copy(r->w.present_map, src->w.present_map, first_page, n_pages);
	if (src->w.removed_map) {
		r->w.removed_map = bitmap_new(n_pages);
		if (!r->w.removed_map) {
			r->image = NULL; /* not ours to put */
			region_put(r);
			return NULL;
		}
		bitmap_copy(r->w.removed_map, src->w.removed_map, first_page, n_pages);
	}
	/*
	 * A forked child has the parent's holes too: without them its region
	 * never completes, and the background populator retries unmapped pages
	 * for ever (at idle priority, where a loaded host starves its faults).
	 */
	if (src->w.gone_map) {
		r->w.gone_map = bitmap_new(n_pages);
		if (!r->w.gone_map) {
			r->image = NULL; /* not ours to put */
			region_put(r);
			return NULL;
		}
		bitmap_copy(r->w.gone_map, src->w.gone_map, first_page, n_pages);
		for (uint64_t i = 0; i < n_pages; i++)
			gone += bitmap_test(r->w.gone_map, i);
	}
	for (uint64_t i = 0; i < n_pages; i++)
		present += bitmap_test(r->w.present_map, i);
	atomic_init(&r->st.present, present);
	atomic_init(&r->st.gone, gone);
	return r;
}

static void region_free_maps(struct region *r)
{
	/* still tracked: the agent stopped while the region was attached */
	if (r->w.wp) {
		track_fini(r->w.wp);
		free(r->w.wp);
		r->w.wp = NULL;
	}
	free(r->w.present_map);
	free(r->w.removed_map);
	free(r->w.gone_map);
	free(r->w.clone_holes);
	r->w.present_map = r->w.removed_map = r->w.gone_map = r->w.clone_holes = NULL;
	free(r->w.prefetch);
	r->w.prefetch = NULL;
	wset_rec_free(&r->w.rec);
}

void region_put(struct region *r)
{
	if (!r || --r->ctl.refs)
		return;
	region_free_maps(r);
	if (r->w.removed_log >= 0)
		close(r->w.removed_log);
	if (r->ctl.mig_track_fd >= 0)
		close(r->ctl.mig_track_fd);
	if (r->ctl.mig_hold_fd >= 0)
		close(r->ctl.mig_hold_fd);
	image_put(r->image);
	free(r->image_path);
	json_decref(r->labels);
	free(r->name);
	free(r);
}

enum region_state region_state(const struct region *r)
{
	return (enum region_state)atomic_load_explicit(&r->state, memory_order_relaxed);
}

void region_set_state(struct region *r, enum region_state s)
{
	atomic_store_explicit(&r->state, (int)s, memory_order_relaxed);
}

uint64_t region_start(const struct region *r)
{
	return atomic_load_explicit(&r->start, memory_order_relaxed);
}

static const char *region_state_name(enum region_state s)
{
	switch (s) {
	case REGION_ATTACHED:
		return "ATTACHED";
	case REGION_DETACHING:
		return "DETACHING";
	case REGION_DETACHED:
		return "DETACHED";
	}
	return "UNKNOWN";
}

/* Worker only: one fault's latency into the log2 histogram. */
void region_latency(struct region *r, uint64_t ns)
{
	/* restore-to-run (restore.c "timing"): once per region, off the common path */
	if (!region_stat(&r->st.lat_count))
		atomic_store_explicit(&r->st.first_served_ns, mono_now_ns(), memory_order_relaxed);
	region_stat_add(&r->st.lat_count, 1);
	region_stat_add(&r->st.lat_sum, ns);
	region_stat_add(&r->st.lat_hist[hist_bucket(ns)], 1);
	if (ns > region_stat(&r->st.lat_max))
		atomic_store_explicit(&r->st.lat_max, ns, memory_order_relaxed);
}

/*
 * Counters are read one by one while the worker may add to them, so the
 * answer is as of "about now", never torn.
 */
uint64_t region_percentile(const struct region *r, double q)
{
	uint64_t hist[HIST_BUCKETS];

	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		hist[b] = region_stat(&r->st.lat_hist[b]);
	return hist_quantile(hist, q, region_stat(&r->st.lat_max));
}

static json_t *region_modes_json(unsigned modes)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	if ((modes & REGION_MODE_MISSING) && json_array_append_new(a, json_string("missing")))
		goto fail;
	if ((modes & REGION_MODE_WP) && json_array_append_new(a, json_string("wp")))
		goto fail;
	if ((modes & REGION_MODE_MINOR) && json_array_append_new(a, json_string("minor")))
		goto fail;
	return a;
fail:
	json_decref(a);
	return NULL;
}

json_t *region_backing_json(const struct region *r)
{
	json_t *b = json_object();
	bool ok = b != NULL;

	if (!ok)
		return NULL;
	if (r->kind == REGION_ANON) {
		jx_put(b, "kind", json_string("anonymous"), &ok);
	} else if (r->kind == REGION_STAGED) {
		jx_put(b, "kind", json_string("migration"), &ok);
	} else {
		jx_put(b, "kind", json_string("image"), &ok);
		jx_put(b, "path", json_string(r->image_path), &ok);
		jx_put(b, "offset", json_integer((json_int_t)r->image_offset), &ok);
		jx_put(b, "restore_id", r->restore_id[0] ? json_string(r->restore_id) : json_null(),
		       &ok);
	}
	if (!ok) {
		json_decref(b);
		return NULL;
	}
	return b;
}

static json_t *counters(const _Atomic uint64_t *c, const char *const *names, unsigned n)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	for (unsigned i = 0; ok && i < n; i++)
		jx_put(o, names[i], json_integer((json_int_t)region_stat(&c[i])), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *stats_json(const struct region *r)
{
	static const char *const faults[] = { "missing", "wp", "minor" };
	static const char *const events[] = { "remove", "unmap", "remap", "fork" };
	static const char *const paths[] = { "demand", "fault_around", "prefetch", "background",
					     "detach" };
	json_t *s = json_object(), *lat = json_object(), *buckets = json_array(), *retries;
	bool ok = s && lat && buckets;

	for (unsigned b = 0; ok && b < HIST_BUCKETS; b++)
		ok = !json_array_append_new(buckets,
					    json_integer((json_int_t)region_stat(&r->st.lat_hist[b])));
	if (!ok) {
		json_decref(s);
		json_decref(lat);
		json_decref(buckets);
		return NULL;
	}
	jx_put(lat, "count", json_integer((json_int_t)region_stat(&r->st.lat_count)), &ok);
	jx_put(lat, "sum", json_integer((json_int_t)region_stat(&r->st.lat_sum)), &ok);
	jx_put(lat, "max", json_integer((json_int_t)region_stat(&r->st.lat_max)), &ok);
	jx_put(lat, "p50", json_integer((json_int_t)region_percentile(r, 0.50)), &ok);
	jx_put(lat, "p99", json_integer((json_int_t)region_percentile(r, 0.99)), &ok);
	jx_put(lat, "buckets", buckets, &ok);
	jx_put(s, "faults", counters(r->st.faults, faults, RF_N), &ok);
	jx_put(s, "events", counters(r->st.events, events, RE_N), &ok);
	jx_put(s, "installed", counters(r->st.installed, paths, RP_N), &ok);
	jx_put(s, "zero_pages", json_integer((json_int_t)region_stat(&r->st.zero_pages)), &ok);
	jx_put(s, "bytes_installed", json_integer((json_int_t)region_stat(&r->st.bytes)), &ok);
	jx_put(s, "latency_ns", lat, &ok);
	jx_put(s, "blocked_ns", json_integer((json_int_t)region_stat(&r->st.lat_sum)), &ok);
	retries = json_pack("{s:I, s:I, s:I}", "eexist", (json_int_t)region_stat(&r->st.eexist),
			    "eagain", (json_int_t)region_stat(&r->st.eagain), "refault",
			    (json_int_t)region_stat(&r->st.refaults));
	jx_put(s, "retries", retries, &ok);
	if (!ok) {
		json_decref(s);
		return NULL;
	}
	return s;
}

json_t *region_json(const struct region *r)
{
	json_t *o = json_object(), *owner, *pages;
	enum region_state st = region_state(r);
	bool ok = o != NULL;

	if (!ok)
		return NULL;
	owner = json_pack("{s:i, s:I, s:s}", "pid", (int)r->pid, "uid", (json_int_t)r->uid,
			  "command", r->command);
	pages = json_pack("{s:I, s:I, s:I}", "total", (json_int_t)r->n_pages, "present",
			  (json_int_t)region_stat(&r->st.present), "gone",
			  (json_int_t)region_stat(&r->st.gone));
	jx_put(o, "id", json_string(r->id), &ok);
	jx_put(o, "name", json_string(r->name), &ok);
	jx_put(o, "labels", json_incref(r->labels), &ok);
	jx_put(o, "owner", owner, &ok);
	jx_put(o, "start", json_integer((json_int_t)region_start(r)), &ok);
	jx_put(o, "length", json_integer((json_int_t)r->length), &ok);
	jx_put(o, "page_size", json_integer((json_int_t)r->page_size), &ok);
	jx_put(o, "modes", region_modes_json(r->modes), &ok);
	jx_put(o, "source", json_string(r->source == REGION_SRC_FIRECRACKER ? "firecracker"
									    : "libfaultline"),
	       &ok);
	jx_put(o, "backing", region_backing_json(r), &ok);
	jx_put(o, "state", json_string(region_state_name(st)), &ok);
	jx_put(o, "attached_at", jx_time(r->attached_ms), &ok);
	if (st == REGION_DETACHED) {
		jx_put(o, "detached_at", jx_time(r->ctl.detached_ms), &ok);
		jx_put(o, "detach_reason", json_string(r->ctl.detach_reason), &ok);
	}
	jx_put(o, "pages", pages, &ok);
	jx_put(o, "stats", stats_json(r), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- table (loop thread) ----------------------------------------------- */

void region_table_add(struct region_table *t, struct region *r)
{
	r->ctl.next = t->head;
	t->head = r;
}

struct region *region_table_find(const struct region_table *t, const char *id)
{
	for (struct region *r = t->head; r; r = r->ctl.next) {
		if (!strcmp(r->id, id))
			return r;
	}
	return NULL;
}

/* An attached region of pid that intersects [start, start + length). */
struct region *region_table_overlap(const struct region_table *t, pid_t pid, uint64_t start,
				    uint64_t length)
{
	for (struct region *r = t->head; r; r = r->ctl.next) {
		uint64_t rs = region_start(r);

		if (r->pid != pid || region_state(r) == REGION_DETACHED)
			continue;
		if (start < rs + r->length && rs < start + length)
			return r;
	}
	return NULL;
}

/*
 * Called once per region when it becomes DETACHED: what only serving
 * needed goes (bitmaps, the image mapping), then the history is trimmed.
 */
void region_table_detached(struct region_table *t, struct region *r)
{
	struct region **pp, **oldest = NULL;

	region_free_maps(r);
	if (r->ctl.mig_track_fd >= 0)
		close(r->ctl.mig_track_fd);
	if (r->ctl.mig_hold_fd >= 0)
		close(r->ctl.mig_hold_fd);
	image_put(r->image);
	r->image = NULL;
	if (++t->n_detached <= REGION_KEEP_DETACHED)
		return;
	/* the list is newest first, so the last detached one is the oldest */
	for (pp = &t->head; *pp; pp = &(*pp)->ctl.next) {
		if (region_state(*pp) == REGION_DETACHED)
			oldest = pp;
	}
	if (oldest) {
		struct region *old = *oldest;

		*oldest = old->ctl.next;
		t->n_detached--;
		region_put(old);
	}
}

void region_table_fini(struct region_table *t)
{
	while (t->head) {
		struct region *r = t->head;

		t->head = r->ctl.next;
		region_put(r);
	}
	t->n_detached = 0;
}

/*
 * Worker only, before a resumed region is served: the pages the workload
 * has (installed by an agent before a restart) are read from its pagemap
 * (present or swapped), so that the page map is right from the start:
 * a restore completes, and background work skips them.  Best effort: a
 * page not learnt here is found by EEXIST when installed.
 */
int region_learn_present(struct region *r)
{
	enum { BATCH = 512 };
	uint64_t ents[BATCH], start = region_start(r), learnt = 0;
	char path[64];
	int fd;

	if (r->page_size != (uint32_t)sysconf(_SC_PAGESIZE) || !r->w.present_map)
		return -1; /* huge pages: pagemap has one entry per base page; not worth it here */
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)r->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (uint64_t p = 0; p < r->n_pages; p += BATCH) {
		uint64_t n = r->n_pages - p < BATCH ? r->n_pages - p : BATCH;
		ssize_t got = pread(fd, ents, n * sizeof(ents[0]),
				    (off_t)((start / r->page_size + p) * sizeof(ents[0])));

		if (got < 0) {
			close(fd);
			return -1;
		}
		for (uint64_t i = 0; i < (uint64_t)got / sizeof(ents[0]); i++) {
			/* bit 63 present, bit 62 swapped */
			if (ents[i] >> 62)
				learnt += bitmap_set(r->w.present_map, p + i, 1);
		}
	}
	close(fd);
	region_stat_add(&r->st.present, learnt);
	return 0;
}

/*
 * Pages the workload removed (MADV_DONTNEED, a balloon) must read zero,
 * never image bytes, also after an agent restart; the REMOVE event that
 * announced them is gone with the agent that read it.  So an image
 * region's worker appends each removed range to <dir>/<id>.removed (16
 * bytes: first page and count, little-endian), and a region resumed after
 * a restart reads them back before it is served.  A write() survives the
 * agent's death (the page cache has it), and a host crash ends the
 * workload too, so no fsync is needed.
 */
int region_removed_open(struct region *r, const char *dir, bool resumed)
{
	char path[PATH_MAX];
	uint8_t rec[16];
	int fd;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s.removed", dir, r->id) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0600);
	if (fd < 0)
		return -1;
	if (resumed) {
		uint64_t learnt = 0;

		if (!r->w.removed_map && !(r->w.removed_map = bitmap_new(r->n_pages))) {
			close(fd);
			return -1;
		}
		while (pread(fd, rec, sizeof(rec), (off_t)(learnt * sizeof(rec))) == (ssize_t)sizeof(rec)) {
			uint64_t first = bytes_get_le(rec, 8), n = bytes_get_le(rec + 8, 8);

			/* a record that does not fit is not ours: ignore it rather than guess */
			if (first < r->n_pages && n && n <= r->n_pages - first)
				bitmap_set(r->w.removed_map, first, n);
			learnt++;
		}
	}
	r->w.removed_log = fd;
	return 0;
}

/* Worker: a REMOVE of [first, first + n) was applied to the page map. */
void region_removed_note(struct region *r, uint64_t first, uint64_t n)
{
	uint8_t rec[16];
	ssize_t w;

	if (r->w.removed_log < 0)
		return;
	bytes_put_le(rec, first, 8);
	bytes_put_le(rec + 8, n, 8);
	do
		w = write(r->w.removed_log, rec, sizeof(rec));
	while (w < 0 && errno == EINTR);
}

/* Loop thread, once region id ended for good: its record goes. */
void region_removed_forget(const char *dir, const char *id)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s.removed", dir, id) < (int)sizeof(path))
		unlink(path);
}
