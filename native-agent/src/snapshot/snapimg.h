/*
 * Snapshot image format (PROTOCOL.md §5): encoding and decoding of the
 * header, the page map, the per-page checksums, the chunk records and the
 * chunk index, and the verifier that checks all of it.  Pure: no system
 * calls and no logging; images are read through a callback, so the agent
 * (pread on a file) and the fuzzer (a memory buffer) run the same code.
 *
 * Layout, all integers little-endian:
 *   header   256 bytes at offset 0, checksummed (XXH3-64)
 *   data     chunk records from data_offset: a 32-byte chunk header, then
 *            the pages of one run of present pages, raw or one zstd frame
 *   map      2 bits per page: absent (in the parent), zero, present
 *   sums     XXH3-64 of every present page (0 for the others)
 *   index    24 bytes per chunk, sorted by first page
 * The header holds the XXH3-64 of map + sums + index ("meta"), and the
 * image's checksum is the header's: one number that covers every byte.
 */
#ifndef FAULTLINE_SNAPIMG_H
#define FAULTLINE_SNAPIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPIMG_MAGIC "FLSNAP\r\n"
#define SNAPIMG_VERSION 1
#define SNAPIMG_HDR_LEN 256
#define SNAPIMG_CHUNK_HDR_LEN 32
#define SNAPIMG_INDEX_LEN 24
#define SNAPIMG_DATA_OFFSET 4096
#define SNAPIMG_MAX_CHUNK_PAGES 64 /* a run of more present pages is split */
#define SNAPIMG_ID_LEN 16

#define SNAPIMG_F_INCREMENTAL 0x1u
#define SNAPIMG_F_COMPRESSED 0x2u /* some chunks are zstd frames */
#define SNAPIMG_F_KNOWN (SNAPIMG_F_INCREMENTAL | SNAPIMG_F_COMPRESSED)
#define SNAPIMG_CF_ZSTD 0x1u      /* chunk flag */

enum snapimg_page { SNAPIMG_ABSENT = 0, SNAPIMG_ZERO = 1, SNAPIMG_PRESENT = 2 };
enum snapimg_quiesce { SNAPIMG_Q_NOT_ASKED, SNAPIMG_Q_YES, SNAPIMG_Q_NO, SNAPIMG_Q_TIMEOUT };

struct snapimg_hdr {
	uint32_t flags;
	uint32_t page_size;
	uint64_t page_count;
	uint64_t region_start;                     /* informational */
	uint8_t snapshot_id[SNAPIMG_ID_LEN];
	uint8_t content_id[SNAPIMG_ID_LEN];        /* the memory at T; kept by consolidation */
	uint8_t parent_id[SNAPIMG_ID_LEN];         /* zero for a full image */
	uint8_t parent_content_id[SNAPIMG_ID_LEN];
	uint64_t created_ms;                       /* T, Unix milliseconds */
	uint8_t quiesced;                          /* enum snapimg_quiesce */
	uint64_t pages_present, pages_zero, pages_absent;
	uint64_t chunk_count;
	uint64_t data_offset, data_len;
	uint64_t map_offset, sums_offset, index_offset;
	uint64_t file_size;
	uint64_t meta_checksum;
	uint64_t header_checksum; /* set by encode, checked by decode */
};

/* An index entry: where a run of present pages is stored. */
struct snapimg_chunk {
	uint64_t offset;     /* of the chunk header */
	uint64_t first_page;
	uint32_t n_pages;
	uint32_t stored_len; /* bytes after the chunk header */
};

struct snapimg_chunk_hdr {
	uint32_t flags;
	uint64_t first_page;
	uint32_t n_pages;
	uint32_t stored_len;
	uint64_t checksum; /* XXH3-64 of the stored bytes */
};

/* Reads len bytes at off; 0, or -1 with a message (short read included). */
struct snapimg_src {
	int (*read)(void *ctx, uint64_t off, void *buf, size_t len, char *why, size_t why_len);
	void *ctx;
	uint64_t size; /* of the file */
	const char *name; /* for messages */
};

/* An image whose header and metadata are checked. */
struct snapimg {
	struct snapimg_hdr h;
	uint8_t *map;
	uint64_t *sums;
	struct snapimg_chunk *chunks; /* sorted by first_page, disjoint */
};

uint64_t snapimg_hash(const void *buf, size_t len);
bool snapimg_all_zero(const uint8_t *p, size_t len);

void snapimg_encode_hdr(struct snapimg_hdr *h, uint8_t out[SNAPIMG_HDR_LEN]);
int snapimg_decode_hdr(const uint8_t *buf, size_t len, struct snapimg_hdr *h, char *why,
		       size_t why_len);
uint64_t snapimg_map_len(uint64_t pages);
enum snapimg_page snapimg_map_get(const uint8_t *map, uint64_t page);
void snapimg_map_set(uint8_t *map, uint64_t page, enum snapimg_page v);
void snapimg_encode_chunk_hdr(const struct snapimg_chunk_hdr *c, uint8_t out[SNAPIMG_CHUNK_HDR_LEN]);
int snapimg_decode_chunk_hdr(const uint8_t *buf, struct snapimg_chunk_hdr *c);
void snapimg_encode_index(const struct snapimg_chunk *c, uint8_t out[SNAPIMG_INDEX_LEN]);
void snapimg_decode_index(const uint8_t *buf, struct snapimg_chunk *c);
void snapimg_layout(struct snapimg_hdr *h, uint64_t data_end);
uint64_t snapimg_meta_checksum(const uint8_t *map, const uint64_t *sums, uint64_t pages,
			       const struct snapimg_chunk *chunks, uint64_t n_chunks);
void snapimg_checksum_str(uint64_t sum, char out[24]);
void snapimg_id_str(const uint8_t id[SNAPIMG_ID_LEN], char out[37]);
int snapimg_id_parse(const char *s, uint8_t id[SNAPIMG_ID_LEN]);
bool snapimg_id_zero(const uint8_t id[SNAPIMG_ID_LEN]);

int snapimg_open(struct snapimg *im, const struct snapimg_src *src, char *why, size_t why_len);
void snapimg_close(struct snapimg *im);
int64_t snapimg_find(const struct snapimg *im, uint64_t page);
int snapimg_read_chunk(const struct snapimg *im, const struct snapimg_src *src, uint64_t ci,
		       uint8_t *out, uint8_t *scratch, size_t scratch_len, char *why, size_t why_len);
size_t snapimg_scratch_len(uint32_t page_size);
int snapimg_verify(const struct snapimg *im, const struct snapimg_src *src, char *why,
		   size_t why_len);
int snapimg_check_parent(const struct snapimg *child, const struct snapimg *parent, char *why,
			 size_t why_len);

#endif /* FAULTLINE_SNAPIMG_H */
