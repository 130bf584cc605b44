/*
 * Working-set files; the format is specified in PROTOCOL.md §4 and here:
 *
 *   off size field
 *     0    4 magic "FLWS"
 *     4    2 version (1)
 *     6    2 header length (64)
 *     8    4 unit: bytes per page of the entries (4096)
 *    12    4 flags (0)
 *    16    8 image size
 *    24    8 image mtime, ns since the epoch
 *    32    8 image sample hash: XXH64 (seed 0) of its first 4 KiB followed
 *            by its last 4 KiB (the whole image when smaller than 8 KiB)
 *    40    8 number of entries n
 *    48    8 created, ms since the epoch
 *    56    8 reserved (0)
 *    64 16*n entries in first-touch order: u64 first page, u32 pages, u32 0
 *  64+16n  8 XXH64 (seed 0) of every byte before it
 * All integers little-endian.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "afile.h"
#include "bytes.h"
#include "image.h"
#include "wset.h"

static const uint8_t magic[4] = { 'F', 'L', 'W', 'S' };

int wset_rec_add(struct wset_rec *r, uint64_t ts_ns, uint64_t page, uint32_t count)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct wset_rec_entry *e = realloc(r->e, cap * sizeof(*e));

		if (!e)
			return -1;
		r->e = e;
		r->cap = cap;
	}
	r->e[r->n++] = (struct wset_rec_entry){ .ts_ns = ts_ns, .page = page, .count = count };
	return 0;
}

void wset_rec_free(struct wset_rec *r)
{
	free(r->e);
	memset(r, 0, sizeof(*r));
}

static int cmp_ts(const void *a, const void *b)
{
	const struct wset_rec_entry *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

/* Merges the recordings of a session's regions into one first-touch order. */
int wset_from_recs(struct wset *w, struct wset_rec *const *recs, unsigned n_recs)
{
	struct wset_rec_entry *all;
	size_t n = 0, k = 0;

	for (unsigned i = 0; i < n_recs; i++)
		n += recs[i]->n;
	w->runs = NULL;
	w->n = 0;
	if (!n)
		return 0;
	if (n > WSET_MAX_RUNS)
		n = WSET_MAX_RUNS;
	all = malloc(n * sizeof(*all));
	w->runs = malloc(n * sizeof(*w->runs));
	if (!all || !w->runs) {
		free(all);
		free(w->runs);
		w->runs = NULL;
		return -1;
	}
	for (unsigned i = 0; i < n_recs; i++) {
		for (size_t j = 0; j < recs[i]->n && k < n; j++)
			all[k++] = recs[i]->e[j];
	}
	qsort(all, n, sizeof(*all), cmp_ts);
	for (size_t i = 0; i < n; i++)
		w->runs[i] = (struct wset_run){ .page = all[i].page, .count = all[i].count };
	w->n = n;
	free(all);
	return 0;
}

size_t wset_encoded_len(uint64_t n_runs)
{
	return WSET_HDR_LEN + (size_t)n_runs * WSET_ENTRY_LEN + WSET_TRAILER_LEN;
}

void wset_encode(const struct wset *w, uint8_t *out)
{
	uint8_t *p = out + WSET_HDR_LEN;

	memset(out, 0, WSET_HDR_LEN);
	memcpy(out, magic, sizeof(magic));
	bytes_put_le(out + 4, WSET_VERSION, 2);
	bytes_put_le(out + 6, WSET_HDR_LEN, 2);
	bytes_put_le(out + 8, WSET_PAGE, 4);
	bytes_put_le(out + 16, w->ident.image_size, 8);
	bytes_put_le(out + 24, w->ident.image_mtime_ns, 8);
	bytes_put_le(out + 32, w->ident.sample_hash, 8);
	bytes_put_le(out + 40, w->n, 8);
	bytes_put_le(out + 48, w->created_ms, 8);
	for (uint64_t i = 0; i < w->n; i++, p += WSET_ENTRY_LEN) {
		bytes_put_le(p, w->runs[i].page, 8);
		bytes_put_le(p + 8, w->runs[i].count, 4);
		bytes_put_le(p + 12, 0, 4);
	}
	bytes_put_le(p, XXH64(out, (size_t)(p - out), 0), 8);
}

#define FAIL(...)                                   \
	do {                                        \
		snprintf(why, why_len, __VA_ARGS__); \
		errno = EINVAL;                     \
		return -1;                          \
	} while (0)

/* Everything is checked before anything is trusted; runs must lie inside the image. */
int wset_decode(const uint8_t *buf, size_t len, struct wset *out, char *why, size_t why_len)
{
	uint64_t n, pages;

	memset(out, 0, sizeof(*out));
	if (len < WSET_HDR_LEN + WSET_TRAILER_LEN || memcmp(buf, magic, sizeof(magic)))
		FAIL("not a working-set file");
	if (bytes_get_le(buf + 4, 2) != WSET_VERSION)
		FAIL("working-set version %u not supported", (unsigned)bytes_get_le(buf + 4, 2));
	if (bytes_get_le(buf + 6, 2) != WSET_HDR_LEN || bytes_get_le(buf + 8, 4) != WSET_PAGE ||
	    bytes_get_le(buf + 12, 4) || bytes_get_le(buf + 56, 8))
		FAIL("unexpected working-set header");
	n = bytes_get_le(buf + 40, 8);
	if (n > WSET_MAX_RUNS || len != wset_encoded_len(n))
		FAIL("working-set length does not match its %llu entries", (unsigned long long)n);
	if (XXH64(buf, len - WSET_TRAILER_LEN, 0) != bytes_get_le(buf + len - WSET_TRAILER_LEN, 8))
		FAIL("working-set checksum mismatch");
	out->ident.image_size = bytes_get_le(buf + 16, 8);
	out->ident.image_mtime_ns = bytes_get_le(buf + 24, 8);
	out->ident.sample_hash = bytes_get_le(buf + 32, 8);
	out->created_ms = bytes_get_le(buf + 48, 8);
	pages = out->ident.image_size / WSET_PAGE + (out->ident.image_size % WSET_PAGE != 0);
	if (n) {
		out->runs = malloc((size_t)n * sizeof(*out->runs));
		if (!out->runs) {
			snprintf(why, why_len, "out of memory");
			return -1;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = buf + WSET_HDR_LEN + i * WSET_ENTRY_LEN;
		uint64_t page = bytes_get_le(e, 8);
		uint32_t count = (uint32_t)bytes_get_le(e + 8, 4);

		if (!count || bytes_get_le(e + 12, 4) || page >= pages || count > pages - page) {
			wset_free(out);
			FAIL("working-set entry %llu outside the image", (unsigned long long)i);
		}
		out->runs[i] = (struct wset_run){ .page = page, .count = count };
	}
	out->n = n;
	return 0;
}

void wset_ident_of(struct image *im, struct wset_ident *id)
{
	XXH64_state_t st;
	size_t edge = im->size < 8192 ? (size_t)im->size : 4096;
	uint8_t buf[4096];

	/* an unreadable edge samples as zeros: the restore fails on it anyway */
	XXH64_reset(&st, 0);
	if (image_read(im, 0, buf, edge))
		memset(buf, 0, edge);
	XXH64_update(&st, buf, edge);
	if (im->size >= 8192) {
		if (image_read(im, im->size - 4096, buf, 4096))
			memset(buf, 0, 4096);
		XXH64_update(&st, buf, 4096);
	}
	id->image_size = im->size;
	id->image_mtime_ns = im->mtime_ns;
	id->sample_hash = XXH64_digest(&st);
}

int wset_load(const char *path, struct wset *out, char *why, size_t why_len)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, ret = -1;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size > wset_encoded_len(WSET_MAX_RUNS)) {
		snprintf(why, why_len, "%s: not a working-set file", path);
		goto close_fd;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(why, why_len, "out of memory");
		goto close_fd;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, why_len, "%s: short read", path);
			goto free_buf;
		}
		got += (size_t)n;
	}
	ret = wset_decode(buf, got, out, why, why_len);
free_buf:
	free(buf);
close_fd:
	close(fd);
	return ret;
}

int wset_store(const char *path, const struct wset *w)
{
	size_t len = wset_encoded_len(w->n);
	uint8_t *buf = malloc(len);
	int ret;

	if (!buf)
		return -1;
	wset_encode(w, buf);
	ret = afile_write(path, buf, len, 0644);
	free(buf);
	return ret;
}

void wset_free(struct wset *w)
{
	free(w->runs);
	w->runs = NULL;
	w->n = 0;
}
