/*
 * Working sets (PROTOCOL.md §4): the order in which a lazily restored
 * workload first touched its image, recorded while a restore session serves
 * faults and replayed in bulk at the start of the next restore of the same
 * image.  Entries are runs of image pages; the file is small, versioned,
 * tied to one image by size, mtime and a content sample, and checksummed
 * with XXH64.  Encoding and decoding are pure (fuzzed); only wset_load and
 * wset_store touch files.
 */
#ifndef FAULTLINE_WSET_H
#define FAULTLINE_WSET_H

#include <stddef.h>
#include <stdint.h>

struct image;

#define WSET_VERSION 1
#define WSET_HDR_LEN 64
#define WSET_ENTRY_LEN 16
#define WSET_TRAILER_LEN 8
#define WSET_PAGE 4096u /* unit of entries */
#define WSET_MAX_RUNS (1u << 24)

struct wset_run {
	uint64_t page;  /* first image page (WSET_PAGE units) */
	uint32_t count; /* pages */
};

/* Which image a recording belongs to. */
struct wset_ident {
	uint64_t image_size;
	uint64_t image_mtime_ns;
	uint64_t sample_hash; /* XXH64 of the image's first and last 4 KiB */
};

struct wset {
	struct wset_ident ident;
	uint64_t created_ms;
	struct wset_run *runs;
	uint64_t n;
};

/* A recording in progress: runs with the time they were touched. */
struct wset_rec_entry {
	uint64_t ts_ns;
	uint64_t page;
	uint32_t count;
};

struct wset_rec {
	struct wset_rec_entry *e;
	size_t n, cap;
};

int wset_rec_add(struct wset_rec *r, uint64_t ts_ns, uint64_t page, uint32_t count);
void wset_rec_free(struct wset_rec *r);
int wset_from_recs(struct wset *w, struct wset_rec *const *recs, unsigned n_recs);

size_t wset_encoded_len(uint64_t n_runs);
void wset_encode(const struct wset *w, uint8_t *out);
int wset_decode(const uint8_t *buf, size_t len, struct wset *out, char *why, size_t why_len);
void wset_ident_of(struct image *im, struct wset_ident *id);
int wset_load(const char *path, struct wset *out, char *why, size_t why_len);
int wset_store(const char *path, const struct wset *w);
void wset_free(struct wset *w);

#endif /* FAULTLINE_WSET_H */
