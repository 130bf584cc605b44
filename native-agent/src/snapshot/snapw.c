/*
 * The snapshot image writer; see snapw.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <zstd.h>

#include "snapw.h"

#define SNAPW_RECS 4096
#define SNAPW_WBUF (UINT64_C(1) << 20)
/*
 * Page cache kept dirty by the writer is written back a window at a time,
 * window = buffer / SNAPW_WINDOW_DIV within [MIN, MAX], with at most
 * SNAPW_WINDOWS_IN_FLIGHT windows not yet known to be on disk (half the
 * buffer: enough queued I/O for a disk with high latency, since what is in
 * flight over the latency is the most it can write).  The writer waits for
 * the disk only when more are, one window at a time, and only after it has
 * handed the ring space back, so one wait holds a write fault that waits
 * for room for about one window's disk time (waiting for a whole 64 MiB
 * window at once held writers for ~80 ms).
 */
#define SNAPW_WINDOW_DIV 16u
#define SNAPW_WINDOW_MIN (UINT64_C(1) << 20)
#define SNAPW_WINDOW_MAX (UINT64_C(16) << 20)
#define SNAPW_WINDOWS_IN_FLIGHT 8u
/* ring memory faulted in ahead of use by snapw_grow(), off the write-fault path */
#define SNAPW_GROW_PAGES_BYTES (UINT64_C(2) << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum rec_kind { REC_DATA, REC_ZERO, REC_END };

struct rec {
	enum rec_kind kind;
	uint32_t skip;   /* ring pages left unused before slot (wrap) */
	uint64_t first;
	uint64_t n;
	uint64_t slot;   /* ring page of the data */
};

struct snapw {
	struct snapw_cfg cfg;
	char *path, *tmp;
	int fd;
	uint32_t ps;
	uint64_t pages;
	uint32_t chunk_pages;
	uint8_t *ring;
	uint64_t cap; /* ring pages */
	struct rec recs[SNAPW_RECS];
	/* written by the producer */
	_Atomic uint64_t prod_pages, prod_recs;
	uint32_t pend_skip;
	uint64_t head;      /* next ring page to fill; back to 0 whenever the ring is empty */
	uint64_t touched;   /* ring pages [0, touched) have been faulted in */
	uint64_t peak_used; /* most ring pages in use at once */
	bool unpublished;   /* committed without waking the writer thread yet */
	uint8_t quiesced;
	uint64_t created_ms;
	/* written by the writer thread */
	_Atomic uint64_t cons_pages, cons_recs;
	_Atomic bool done;
	_Atomic bool stop;
	int data_fd, space_fd, done_fd;
	pthread_t thread;
	bool started;
	/* writer thread only until done */
	uint8_t *map;
	uint64_t *sums;
	struct snapimg_chunk *chunks;
	uint64_t n_chunks, cap_chunks;
	bool any_zstd;
	uint8_t *wbuf;
	size_t wlen;
	uint64_t wbuf_off;  /* file offset of wbuf[0] */
	uint64_t synced;    /* written back and dropped from the page cache up to here */
	uint64_t started_sync;
	uint64_t window;    /* bytes per writeback window */
	ZSTD_CCtx *zc;
	uint8_t *zbuf;
	size_t zcap;
	bool renamed;
	int err;
	char why[512];
	struct snapw_result res;
};

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

static void drain_fd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/* ---- producer ------------------------------------------------------------ */

uint64_t snapw_ring_pages(const struct snapw *w)
{
	return w->cap;
}

uint64_t snapw_free_pages(const struct snapw *w)
{
	uint64_t used = atomic_load_explicit(&w->prod_pages, memory_order_relaxed) -
			atomic_load_explicit(&w->cons_pages, memory_order_acquire);

	return w->cap - used;
}

static bool rec_room(const struct snapw *w)
{
	return atomic_load_explicit(&w->prod_recs, memory_order_relaxed) -
		       atomic_load_explicit(&w->cons_recs, memory_order_acquire) <
	       SNAPW_RECS;
}

/*
 * n contiguous ring pages to copy into, or NULL when there is no room now
 * (space_fd becomes readable when the writer frees some).  At most half the
 * ring, so that a wrap never needs more than the whole.
 */
uint8_t *snapw_reserve(struct snapw *w, uint32_t n_pages)
{
	uint64_t prod = atomic_load_explicit(&w->prod_pages, memory_order_relaxed);
	uint64_t cons = atomic_load_explicit(&w->cons_pages, memory_order_acquire);
	uint64_t skip;

	if (!n_pages || n_pages > w->cap / 2 || !rec_room(w))
		return NULL;
	/*
	 * An empty ring starts again at its beginning: the pages in use are
	 * [head - used, head) wrapping at cap, so with none in use any head is
	 * right, and the memory the ring touches follows the most it ever held
	 * rather than its capacity.
	 */
	if (prod == cons)
		w->head = 0;
	skip = w->cap - w->head < n_pages ? w->cap - w->head : 0;
	if (prod + skip + n_pages - cons > w->cap)
		return NULL;
	w->pend_skip = (uint32_t)skip;
	return w->ring + (skip ? 0 : w->head) * w->ps;
}

static void push(struct snapw *w, const struct rec *r, uint64_t pages_used, bool wake)
{
	uint64_t k = atomic_load_explicit(&w->prod_recs, memory_order_relaxed);
	uint64_t prod = atomic_load_explicit(&w->prod_pages, memory_order_relaxed) + pages_used;
	uint64_t used = prod - atomic_load_explicit(&w->cons_pages, memory_order_acquire);

	w->recs[k % SNAPW_RECS] = *r;
	atomic_store_explicit(&w->prod_pages, prod, memory_order_release);
	atomic_store_explicit(&w->prod_recs, k + 1, memory_order_release);
	if (used > w->peak_used)
		w->peak_used = used;
	w->unpublished = true;
	if (wake)
		snapw_publish(w);
}

static void commit(struct snapw *w, uint64_t first_page, uint32_t n_pages, bool wake)
{
	uint64_t slot = w->pend_skip ? 0 : w->head;
	struct rec r = { .kind = REC_DATA, .skip = w->pend_skip, .first = first_page, .n = n_pages,
			 .slot = slot };

	w->head = slot + n_pages == w->cap ? 0 : slot + n_pages;
	if (slot + n_pages > w->touched)
		w->touched = slot + n_pages;
	push(w, &r, w->pend_skip + (uint64_t)n_pages, wake);
	w->pend_skip = 0;
}

/* The pages just reserved hold pages [first_page, first_page + n_pages). */
void snapw_commit(struct snapw *w, uint64_t first_page, uint32_t n_pages)
{
	commit(w, first_page, n_pages, true);
}

/*
 * The same without waking the writer thread: a write fault lifts its
 * protection first and calls snapw_publish() after, so the eventfd write
 * (and the wake-up of a thread on another CPU) is not part of its stall.
 */
void snapw_commit_later(struct snapw *w, uint64_t first_page, uint32_t n_pages)
{
	commit(w, first_page, n_pages, false);
}

/* Wakes the writer thread for what was committed since the last wake. */
void snapw_publish(struct snapw *w)
{
	if (!w->unpublished)
		return;
	w->unpublished = false;
	signal_fd(w->data_fd);
}

/*
 * Faults in up to 2 MiB of ring memory ahead of where the ring is used,
 * so that a write fault copying into it rarely takes the agent's own page
 * faults.  Called by the producer between its background steps; the ring
 * grows this way only as far as it is being used (plus the 2 MiB).
 */
void snapw_grow(struct snapw *w)
{
	uint64_t prod = atomic_load_explicit(&w->prod_pages, memory_order_relaxed);
	uint64_t used = prod - atomic_load_explicit(&w->cons_pages, memory_order_acquire);
	uint64_t ahead = SNAPW_GROW_PAGES_BYTES / w->ps ? SNAPW_GROW_PAGES_BYTES / w->ps : 1;
	uint64_t want = w->head + ahead > used + ahead ? w->head + ahead : used + ahead;

	if (want > w->cap)
		want = w->cap;
	if (want <= w->touched)
		return;
	/* best effort: without it the pages are faulted in when first copied into */
	if (!madvise(w->ring + w->touched * w->ps, (want - w->touched) * w->ps, MADV_POPULATE_WRITE))
		w->touched = want;
}

/* Most ring bytes in use at once, and ring bytes faulted in, so far. */
uint64_t snapw_peak_bytes(const struct snapw *w)
{
	return w->peak_used * w->ps;
}

uint64_t snapw_resident_bytes(const struct snapw *w)
{
	return w->touched * w->ps;
}

/* Pages known to be zero without reading them (never populated). -1: no room now. */
int snapw_zero(struct snapw *w, uint64_t first_page, uint64_t n_pages)
{
	struct rec r = { .kind = REC_ZERO, .first = first_page, .n = n_pages };

	if (!rec_room(w))
		return -1;
	push(w, &r, 0, true);
	return 0;
}

int snapw_space_fd(const struct snapw *w)
{
	return w->space_fd;
}

int snapw_done_fd(const struct snapw *w)
{
	return w->done_fd;
}

/*
 * Everything is committed: the writer completes the image, and done_fd
 * becomes readable.  -1 when no record slot is free now (wait on space_fd).
 */
int snapw_finish(struct snapw *w, uint8_t quiesced, uint64_t created_ms)
{
	struct rec r = { .kind = REC_END };

	if (!rec_room(w))
		return -1;
	w->quiesced = quiesced;
	w->created_ms = created_ms;
	push(w, &r, 0, true);
	return 0;
}

bool snapw_done(struct snapw *w)
{
	return atomic_load_explicit(&w->done, memory_order_acquire);
}

/* After done: the errno of the failure, 0 when it succeeded. */
int snapw_err(struct snapw *w)
{
	return snapw_done(w) ? w->err : 0;
}

/* After done: 0 with the image's numbers, or -1 with why it failed. */
int snapw_result(struct snapw *w, struct snapw_result *out, char *why, size_t why_len)
{
	if (!snapw_done(w) || w->err) {
		snprintf(why, why_len, "%s", snapw_done(w) ? w->why : "the image is not complete");
		return -1;
	}
	*out = w->res;
	return 0;
}

/* ---- writer thread --------------------------------------------------------- */

static void set_error(struct snapw *w, int err, const char *what)
{
	struct statvfs vfs;
	char dir[PATH_MAX];
	int n;

	if (w->err)
		return;
	w->err = err;
	snprintf(dir, sizeof(dir), "%s", w->path);
	if (err == ENOSPC && !statvfs(dirname(dir), &vfs))
		n = snprintf(w->why, sizeof(w->why), "%s %.200s: no space left on device (%llu bytes"
			     " free in %.200s)", what, w->tmp,
			     (unsigned long long)vfs.f_bavail * vfs.f_frsize, dir);
	else
		n = snprintf(w->why, sizeof(w->why), "%s %.200s: %s", what, w->tmp, strerror(err));
	(void)n;
}

/*
 * Written data leaves the page cache a window at a time: writeback of each
 * window starts as soon as it is written (no waiting), and settle() waits
 * for the oldest ones and drops them.  The final fsync then has little
 * left to do, and a snapshot of a large region does not push the
 * workload's own pages out of memory.
 */
static void writeback(struct snapw *w, uint64_t end)
{
	while (end - w->started_sync >= w->window) {
		sync_file_range(w->fd, (off64_t)w->started_sync, (off64_t)w->window,
				SYNC_FILE_RANGE_WRITE);
		w->started_sync += w->window;
	}
}

/*
 * Waits for the disk while more than SNAPW_WINDOWS_IN_FLIGHT windows are
 * not known to be written back.  Called between records, after the ring
 * space of the last one was handed back, so a producer waiting for room
 * gets it before the writer thread waits here.
 */
static void settle(struct snapw *w)
{
	while (w->started_sync - w->synced > SNAPW_WINDOWS_IN_FLIGHT * w->window) {
		sync_file_range(w->fd, (off64_t)w->synced, (off64_t)w->window,
				SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					SYNC_FILE_RANGE_WAIT_AFTER);
		posix_fadvise(w->fd, (off_t)w->synced, (off_t)w->window, POSIX_FADV_DONTNEED);
		w->synced += w->window;
	}
}

static int flush(struct snapw *w)
{
	size_t off = 0;

	while (off < w->wlen && !w->err) {
		ssize_t n = pwrite(w->fd, w->wbuf + off, w->wlen - off, (off_t)(w->wbuf_off + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			set_error(w, errno, "writing");
		else
			off += (size_t)n;
	}
	w->wbuf_off += w->wlen;
	w->wlen = 0;
	writeback(w, w->wbuf_off);
	return w->err ? -1 : 0;
}

static int emit(struct snapw *w, const void *p, size_t len)
{
	while (len) {
		size_t n = SNAPW_WBUF - w->wlen < len ? SNAPW_WBUF - w->wlen : len;

		memcpy(w->wbuf + w->wlen, p, n);
		w->wlen += n;
		p = (const uint8_t *)p + n;
		len -= n;
		if (w->wlen == SNAPW_WBUF && flush(w))
			return -1;
	}
	return 0;
}

static int add_chunk(struct snapw *w, uint64_t first, uint32_t n, const uint8_t *data)
{
	struct snapimg_chunk_hdr ch = { .first_page = first, .n_pages = n };
	size_t bytes = (size_t)n * w->ps;
	const uint8_t *stored = data;
	uint8_t hbuf[SNAPIMG_CHUNK_HDR_LEN];

	if (w->n_chunks == w->cap_chunks) {
		uint64_t cap = w->cap_chunks ? w->cap_chunks * 2 : 1024;
		struct snapimg_chunk *c = realloc(w->chunks, cap * sizeof(*c));

		if (!c) {
			set_error(w, ENOMEM, "indexing");
			return -1;
		}
		w->chunks = c;
		w->cap_chunks = cap;
	}
	ch.stored_len = (uint32_t)bytes;
	if (w->zc) {
		size_t z = ZSTD_compressCCtx(w->zc, w->zbuf, w->zcap, data, bytes, w->cfg.level);

		if (!ZSTD_isError(z) && z < bytes) {
			stored = w->zbuf;
			ch.stored_len = (uint32_t)z;
			ch.flags = SNAPIMG_CF_ZSTD;
			w->any_zstd = true;
		}
	}
	ch.checksum = snapimg_hash(stored, ch.stored_len);
	w->chunks[w->n_chunks++] = (struct snapimg_chunk){ .offset = w->wbuf_off + w->wlen,
							   .first_page = first, .n_pages = n,
							   .stored_len = ch.stored_len };
	snapimg_encode_chunk_hdr(&ch, hbuf);
	return emit(w, hbuf, sizeof(hbuf)) || emit(w, stored, ch.stored_len) ? -1 : 0;
}

/* Zero pages become map entries; runs of present pages become chunks. */
static int take_data(struct snapw *w, const struct rec *r)
{
	const uint8_t *data = w->ring + r->slot * w->ps;
	uint64_t i = 0;

	while (i < r->n) {
		uint64_t j = i;

		if (snapimg_all_zero(data + i * w->ps, w->ps)) {
			snapimg_map_set(w->map, r->first + i, SNAPIMG_ZERO);
			i++;
			continue;
		}
		while (j < r->n && j - i < w->chunk_pages && !snapimg_all_zero(data + j * w->ps, w->ps)) {
			w->sums[r->first + j] = snapimg_hash(data + j * w->ps, w->ps);
			snapimg_map_set(w->map, r->first + j, SNAPIMG_PRESENT);
			j++;
		}
		if (add_chunk(w, r->first + i, (uint32_t)(j - i), data + i * w->ps))
			return -1;
		i = j;
	}
	return 0;
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct snapimg_chunk *x = a, *y = b;

	return x->first_page < y->first_page ? -1 : x->first_page > y->first_page;
}

static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* The metadata, then the header, then fsync and rename (see snapw.h). */
static int complete(struct snapw *w)
{
	struct snapimg_hdr *h = &w->cfg.hdr;
	uint8_t buf[SNAPIMG_HDR_LEN];
	uint64_t count[3] = { 0 }, data_end;

	if (flush(w))
		return -1;
	for (uint64_t p = 0; p < w->pages; p++)
		count[snapimg_map_get(w->map, p)]++;
	if (!(h->flags & SNAPIMG_F_INCREMENTAL) && count[SNAPIMG_ABSENT]) {
		snprintf(w->why, sizeof(w->why), "internal error: %llu pages of a full image were never"
			 " saved", (unsigned long long)count[SNAPIMG_ABSENT]);
		w->err = EIO;
		return -1;
	}
	qsort(w->chunks, w->n_chunks, sizeof(*w->chunks), cmp_chunk);
	for (uint64_t c = 1; c < w->n_chunks; c++) {
		if (w->chunks[c].first_page < w->chunks[c - 1].first_page + w->chunks[c - 1].n_pages) {
			snprintf(w->why, sizeof(w->why), "internal error: page %llu saved twice",
				 (unsigned long long)w->chunks[c].first_page);
			w->err = EIO;
			return -1;
		}
	}
	data_end = w->wbuf_off;
	h->flags |= w->any_zstd ? SNAPIMG_F_COMPRESSED : 0;
	h->pages_present = count[SNAPIMG_PRESENT];
	h->pages_zero = count[SNAPIMG_ZERO];
	h->pages_absent = count[SNAPIMG_ABSENT];
	h->chunk_count = w->n_chunks;
	h->quiesced = w->quiesced;
	h->created_ms = w->created_ms;
	snapimg_layout(h, data_end);
	h->meta_checksum = snapimg_meta_checksum(w->map, w->sums, w->pages, w->chunks, w->n_chunks);
	if (emit(w, w->map, snapimg_map_len(w->pages)))
		return -1;
	for (uint64_t p = 0; p < w->pages; p++) {
		uint8_t le[8];

		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(w->sums[p] >> (8 * i));
		if (emit(w, le, 8))
			return -1;
	}
	for (uint64_t c = 0; c < w->n_chunks; c++) {
		uint8_t e[SNAPIMG_INDEX_LEN];

		snapimg_encode_index(&w->chunks[c], e);
		if (emit(w, e, sizeof(e)))
			return -1;
	}
	if (flush(w))
		return -1;
	snapimg_encode_hdr(h, buf);
	if (pwrite(w->fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		set_error(w, errno ? errno : EIO, "writing the header of");
		return -1;
	}
	if (fsync(w->fd)) {
		set_error(w, errno, "fsync of");
		return -1;
	}
	if (rename(w->tmp, w->path)) {
		set_error(w, errno, "renaming");
		return -1;
	}
	w->renamed = true;
	sync_dir(w->path);
	w->res = (struct snapw_result){ .size_bytes = h->file_size,
					.pages_present = h->pages_present,
					.pages_zero = h->pages_zero,
					.pages_absent = h->pages_absent,
					.checksum = h->header_checksum,
					.chunks = w->n_chunks };
	return 0;
}

static void release(struct snapw *w, const struct rec *r)
{
	atomic_store_explicit(&w->cons_pages,
			      atomic_load_explicit(&w->cons_pages, memory_order_relaxed) + r->skip +
				      (r->kind == REC_DATA ? r->n : 0),
			      memory_order_release);
	atomic_store_explicit(&w->cons_recs, atomic_load_explicit(&w->cons_recs, memory_order_relaxed) + 1,
			      memory_order_release);
	signal_fd(w->space_fd);
}

static void *writer_main(void *arg)
{
	struct snapw *w = arg;

	prctl(PR_SET_NAME, "fl-snapw");
	for (;;) {
		uint64_t k = atomic_load_explicit(&w->cons_recs, memory_order_relaxed);
		struct rec r;

		if (atomic_load(&w->stop))
			break;
		if (k == atomic_load_explicit(&w->prod_recs, memory_order_acquire)) {
			drain_fd(w->data_fd);
			continue;
		}
		r = w->recs[k % SNAPW_RECS];
		if (r.kind == REC_END) {
			if (!w->err)
				complete(w);
			release(w, &r);
			break;
		}
		if (!w->err && r.kind == REC_DATA)
			take_data(w, &r);
		else if (!w->err)
			for (uint64_t p = r.first; p < r.first + r.n; p++)
				snapimg_map_set(w->map, p, SNAPIMG_ZERO);
		/* after an error the ring is still drained, so the producer never waits forever */
		release(w, &r);
		if (!w->err)
			settle(w);
	}
	atomic_store_explicit(&w->done, true, memory_order_release);
	signal_fd(w->done_fd);
	signal_fd(w->space_fd);
	return NULL;
}

/* ---- start and free -------------------------------------------------------- */

struct snapw *snapw_start(const struct snapw_cfg *cfg, char *why, size_t why_len)
{
	struct snapw *w = calloc(1, sizeof(*w));
	uint64_t bytes;
	int err;

	if (!w) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	w->cfg = *cfg;
	w->fd = w->data_fd = w->space_fd = w->done_fd = -1;
	w->ps = cfg->hdr.page_size;
	w->pages = cfg->hdr.page_count;
	w->chunk_pages = w->ps >= (256u << 10) ? 1 : (256u << 10) / w->ps;
	if (w->chunk_pages > SNAPIMG_MAX_CHUNK_PAGES)
		w->chunk_pages = SNAPIMG_MAX_CHUNK_PAGES;
	w->cap = cfg->buffer_bytes / w->ps;
	if (w->cap < 2 * (uint64_t)w->chunk_pages)
		w->cap = 2 * (uint64_t)w->chunk_pages;
	w->path = strdup(cfg->path);
	if (w->path && asprintf(&w->tmp, "%s.tmp", cfg->path) < 0)
		w->tmp = NULL;
	bytes = w->cap * w->ps;
	w->window = cfg->buffer_bytes / SNAPW_WINDOW_DIV;
	w->window = w->window < SNAPW_WINDOW_MIN ? SNAPW_WINDOW_MIN
		    : w->window > SNAPW_WINDOW_MAX ? SNAPW_WINDOW_MAX : w->window;
	/* faulted in as it is used (snapw_grow), so memory follows the write rate up to the bound */
	w->ring = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->map = calloc(snapimg_map_len(w->pages), 1);
	w->sums = calloc(w->pages, sizeof(uint64_t));
	w->wbuf = malloc(SNAPW_WBUF);
	if (!w->path || !w->tmp || w->ring == MAP_FAILED || !w->map || !w->sums || !w->wbuf) {
		if (w->ring == MAP_FAILED)
			w->ring = NULL;
		snprintf(why, why_len, "out of memory for a %llu-byte snapshot buffer",
			 (unsigned long long)bytes);
		goto free_w;
	}
	if (cfg->compress) {
		w->zc = ZSTD_createCCtx();
		w->zcap = ZSTD_compressBound((size_t)w->chunk_pages * w->ps);
		w->zbuf = malloc(w->zcap);
		if (!w->zc || !w->zbuf) {
			snprintf(why, why_len, "out of memory for compression");
			goto free_w;
		}
	}
	w->data_fd = eventfd(0, EFD_CLOEXEC);
	w->space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->data_fd < 0 || w->space_fd < 0 || w->done_fd < 0) {
		snprintf(why, why_len, "eventfd: %s", strerror(errno));
		goto free_w;
	}
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		snprintf(why, why_len, "cannot create %s: %s", w->tmp, strerror(errno));
		goto free_w;
	}
	w->wbuf_off = SNAPIMG_DATA_OFFSET;
	w->synced = w->started_sync = 0;
	err = pthread_create(&w->thread, NULL, writer_main, w);
	if (err) {
		snprintf(why, why_len, "cannot start the image writer: %s", strerror(err));
		goto free_w;
	}
	w->started = true;
	return w;

free_w:
	snapw_free(w);
	return NULL;
}

/* Stops the writer if it still runs (an aborted capture) and removes an incomplete file. */
void snapw_free(struct snapw *w)
{
	if (!w)
		return;
	if (w->started) {
		atomic_store(&w->stop, true);
		signal_fd(w->data_fd);
		pthread_join(w->thread, NULL);
	}
	if (w->fd >= 0) {
		close(w->fd);
		if (!w->renamed)
			unlink(w->tmp);
	}
	if (w->ring)
		munmap(w->ring, w->cap * w->ps);
	ZSTD_freeCCtx(w->zc);
	free(w->zbuf);
	free(w->map);
	free(w->sums);
	free(w->chunks);
	free(w->wbuf);
	free(w->path);
	free(w->tmp);
	if (w->data_fd >= 0)
		close(w->data_fd);
	if (w->space_fd >= 0)
		close(w->space_fd);
	if (w->done_fd >= 0)
		close(w->done_fd);
	free(w);
}
