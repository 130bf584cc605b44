/*
 * Snapshot image codec and verifier; see snapimg.h and PROTOCOL.md §5.
 *
 * Every check names what is wrong and where (a page number, a chunk's
 * offset), because "corrupt" alone is not something an operator can act on.
 * Nothing read from an image is trusted before it is checked: sizes are
 * bounded by the file's size before anything is allocated, offsets are
 * checked for overflow, and a chunk is only decompressed into a buffer of
 * exactly the size its index entry promises.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include "bytes.h"
#include "snapimg.h"

#define FAIL(...)                                    \
	do {                                         \
		snprintf(why, why_len, __VA_ARGS__); \
		return -1;                           \
	} while (0)

/* regions are at most 1 TiB (region.h) */
#define SNAPIMG_MAX_BYTES (UINT64_C(1) << 40)
#define SNAPIMG_MAX_CHUNK_BYTES (UINT32_C(256) << 10)

uint64_t snapimg_hash(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

/* Data pages almost always differ in their first word, so this is one load for most. */
bool snapimg_all_zero(const uint8_t *p, size_t len)
{
	uint64_t w;

	if (len < sizeof(w)) {
		for (size_t i = 0; i < len; i++) {
			if (p[i])
				return false;
		}
		return true;
	}
	memcpy(&w, p, sizeof(w));
	return !w && !memcmp(p, p + sizeof(w), len - sizeof(w));
}

/* Pages per chunk: 64 of 4 KiB, fewer of larger pages, at least one. */
static uint32_t max_chunk_pages(uint32_t page_size)
{
	uint32_t n = page_size >= SNAPIMG_MAX_CHUNK_BYTES ? 1 : SNAPIMG_MAX_CHUNK_BYTES / page_size;

	return n < SNAPIMG_MAX_CHUNK_PAGES ? n : SNAPIMG_MAX_CHUNK_PAGES;
}

uint64_t snapimg_map_len(uint64_t pages)
{
	return ((pages + 3) / 4 + 7) / 8 * 8;
}

enum snapimg_page snapimg_map_get(const uint8_t *map, uint64_t page)
{
	return (enum snapimg_page)((map[page / 4] >> (page % 4 * 2)) & 3);
}

void snapimg_map_set(uint8_t *map, uint64_t page, enum snapimg_page v)
{
	uint8_t shift = (uint8_t)(page % 4 * 2);

	map[page / 4] = (uint8_t)((map[page / 4] & ~(3u << shift)) | (unsigned)v << shift);
}

/*
 * Header layout (offsets): 0 magic, 8 version, 10 header length, 12 flags,
 * 16 page size, 20 reserved, 24 page count, 32 region start, 40 snapshot
 * id, 56 content id, 72 parent id, 88 parent content id, 104 created,
 * 112 quiesced, 113 reserved (7), 120 present, 128 zero, 136 absent,
 * 144 chunks, 152 data offset, 160 data length, 168 map offset, 176 sums
 * offset, 184 index offset, 192 file size, 200 meta checksum, 208 reserved
 * (40), 248 header checksum (of bytes 0-247).
 */
void snapimg_encode_hdr(struct snapimg_hdr *h, uint8_t out[SNAPIMG_HDR_LEN])
{
	memset(out, 0, SNAPIMG_HDR_LEN);
	memcpy(out, SNAPIMG_MAGIC, 8);
	bytes_put_le(out + 8, SNAPIMG_VERSION, 2);
	bytes_put_le(out + 10, SNAPIMG_HDR_LEN, 2);
	bytes_put_le(out + 12, h->flags, 4);
	bytes_put_le(out + 16, h->page_size, 4);
	bytes_put_le(out + 24, h->page_count, 8);
	bytes_put_le(out + 32, h->region_start, 8);
	memcpy(out + 40, h->snapshot_id, SNAPIMG_ID_LEN);
	memcpy(out + 56, h->content_id, SNAPIMG_ID_LEN);
	memcpy(out + 72, h->parent_id, SNAPIMG_ID_LEN);
	memcpy(out + 88, h->parent_content_id, SNAPIMG_ID_LEN);
	bytes_put_le(out + 104, h->created_ms, 8);
	out[112] = h->quiesced;
	bytes_put_le(out + 120, h->pages_present, 8);
	bytes_put_le(out + 128, h->pages_zero, 8);
	bytes_put_le(out + 136, h->pages_absent, 8);
	bytes_put_le(out + 144, h->chunk_count, 8);
	bytes_put_le(out + 152, h->data_offset, 8);
	bytes_put_le(out + 160, h->data_len, 8);
	bytes_put_le(out + 168, h->map_offset, 8);
	bytes_put_le(out + 176, h->sums_offset, 8);
	bytes_put_le(out + 184, h->index_offset, 8);
	bytes_put_le(out + 192, h->file_size, 8);
	bytes_put_le(out + 200, h->meta_checksum, 8);
	h->header_checksum = snapimg_hash(out, SNAPIMG_HDR_LEN - 8);
	bytes_put_le(out + 248, h->header_checksum, 8);
}

static bool all_zero_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i])
			return false;
	}
	return true;
}

bool snapimg_id_zero(const uint8_t id[SNAPIMG_ID_LEN])
{
	return all_zero_bytes(id, SNAPIMG_ID_LEN);
}

/* a + b <= limit without overflow */
static bool fits(uint64_t a, uint64_t b, uint64_t limit)
{
	return a <= limit && b <= limit - a;
}

int snapimg_decode_hdr(const uint8_t *buf, size_t len, struct snapimg_hdr *h, char *why,
		       size_t why_len)
{
	uint64_t sum, map_len;

	memset(h, 0, sizeof(*h));
	if (len < 8 || memcmp(buf, SNAPIMG_MAGIC, 8))
		FAIL("not a Faultline snapshot image (bad magic)");
	if (len < SNAPIMG_HDR_LEN)
		FAIL("truncated: %zu bytes, shorter than the %d-byte header", len, SNAPIMG_HDR_LEN);
	if ((uint16_t)bytes_get_le(buf + 8, 2) != SNAPIMG_VERSION)
		FAIL("image format version %u; this agent reads version %d", (uint16_t)bytes_get_le(buf + 8, 2),
		     SNAPIMG_VERSION);
	if ((uint16_t)bytes_get_le(buf + 10, 2) != SNAPIMG_HDR_LEN)
		FAIL("header length %u, expected %d", (uint16_t)bytes_get_le(buf + 10, 2), SNAPIMG_HDR_LEN);
	sum = snapimg_hash(buf, SNAPIMG_HDR_LEN - 8);
	if (sum != bytes_get_le(buf + 248, 8))
		FAIL("header checksum mismatch (stored %016llx, computed %016llx)",
		     (unsigned long long)bytes_get_le(buf + 248, 8), (unsigned long long)sum);
	h->header_checksum = sum;
	h->flags = (uint32_t)bytes_get_le(buf + 12, 4);
	h->page_size = (uint32_t)bytes_get_le(buf + 16, 4);
	h->page_count = bytes_get_le(buf + 24, 8);
	h->region_start = bytes_get_le(buf + 32, 8);
	memcpy(h->snapshot_id, buf + 40, SNAPIMG_ID_LEN);
	memcpy(h->content_id, buf + 56, SNAPIMG_ID_LEN);
	memcpy(h->parent_id, buf + 72, SNAPIMG_ID_LEN);
	memcpy(h->parent_content_id, buf + 88, SNAPIMG_ID_LEN);
	h->created_ms = bytes_get_le(buf + 104, 8);
	h->quiesced = buf[112];
	h->pages_present = bytes_get_le(buf + 120, 8);
	h->pages_zero = bytes_get_le(buf + 128, 8);
	h->pages_absent = bytes_get_le(buf + 136, 8);
	h->chunk_count = bytes_get_le(buf + 144, 8);
	h->data_offset = bytes_get_le(buf + 152, 8);
	h->data_len = bytes_get_le(buf + 160, 8);
	h->map_offset = bytes_get_le(buf + 168, 8);
	h->sums_offset = bytes_get_le(buf + 176, 8);
	h->index_offset = bytes_get_le(buf + 184, 8);
	h->file_size = bytes_get_le(buf + 192, 8);
	h->meta_checksum = bytes_get_le(buf + 200, 8);
	if ((uint32_t)bytes_get_le(buf + 20, 4) || !all_zero_bytes(buf + 113, 7) || !all_zero_bytes(buf + 208, 40))
		FAIL("reserved header bytes are not zero");
	if (h->flags & ~SNAPIMG_F_KNOWN)
		FAIL("unknown header flags 0x%x", h->flags & ~SNAPIMG_F_KNOWN);
	if (h->page_size < 4096 || h->page_size > (1u << 30) || (h->page_size & (h->page_size - 1)))
		FAIL("page size %u is not a power of two from 4096 to 1 GiB", h->page_size);
	if (!h->page_count || h->page_count > SNAPIMG_MAX_BYTES / h->page_size)
		FAIL("page count %llu out of range", (unsigned long long)h->page_count);
	if (h->quiesced > SNAPIMG_Q_TIMEOUT)
		FAIL("quiesced value %u unknown", h->quiesced);
	if (snapimg_id_zero(h->snapshot_id) || snapimg_id_zero(h->content_id))
		FAIL("snapshot or content id missing");
	if (!!(h->flags & SNAPIMG_F_INCREMENTAL) != !snapimg_id_zero(h->parent_id) ||
	    snapimg_id_zero(h->parent_id) != snapimg_id_zero(h->parent_content_id))
		FAIL("an incremental image names its parent, a full one none");
	if (h->pages_present > h->page_count || h->pages_zero > h->page_count - h->pages_present ||
	    h->pages_absent != h->page_count - h->pages_present - h->pages_zero)
		FAIL("page counts do not add up to %llu", (unsigned long long)h->page_count);
	if (!(h->flags & SNAPIMG_F_INCREMENTAL) && h->pages_absent)
		FAIL("a full image has %llu absent pages", (unsigned long long)h->pages_absent);
	if (h->chunk_count > h->pages_present ||
	    h->chunk_count < (h->pages_present + max_chunk_pages(h->page_size) - 1) /
				     max_chunk_pages(h->page_size))
		FAIL("%llu chunks cannot hold %llu present pages", (unsigned long long)h->chunk_count,
		     (unsigned long long)h->pages_present);
	map_len = snapimg_map_len(h->page_count);
	if (h->data_offset != SNAPIMG_DATA_OFFSET || !fits(h->data_offset, h->data_len, UINT64_MAX) ||
	    h->map_offset != h->data_offset + h->data_len ||
	    !fits(h->map_offset, map_len, UINT64_MAX) || h->sums_offset != h->map_offset + map_len ||
	    !fits(h->sums_offset, h->page_count * 8, UINT64_MAX) ||
	    h->index_offset != h->sums_offset + h->page_count * 8 ||
	    h->chunk_count > UINT64_MAX / SNAPIMG_INDEX_LEN ||
	    !fits(h->index_offset, h->chunk_count * SNAPIMG_INDEX_LEN, UINT64_MAX) ||
	    h->file_size != h->index_offset + h->chunk_count * SNAPIMG_INDEX_LEN)
		FAIL("section offsets are inconsistent");
	return 0;
}

/* Where the sections after the data go, once the data ends at data_end. */
void snapimg_layout(struct snapimg_hdr *h, uint64_t data_end)
{
	h->data_offset = SNAPIMG_DATA_OFFSET;
	h->data_len = data_end - SNAPIMG_DATA_OFFSET;
	h->map_offset = data_end;
	h->sums_offset = h->map_offset + snapimg_map_len(h->page_count);
	h->index_offset = h->sums_offset + h->page_count * 8;
	h->file_size = h->index_offset + h->chunk_count * SNAPIMG_INDEX_LEN;
}

void snapimg_encode_chunk_hdr(const struct snapimg_chunk_hdr *c, uint8_t out[SNAPIMG_CHUNK_HDR_LEN])
{
	memcpy(out, "FLCK", 4);
	bytes_put_le(out + 4, c->flags, 4);
	bytes_put_le(out + 8, c->first_page, 8);
	bytes_put_le(out + 16, c->n_pages, 4);
	bytes_put_le(out + 20, c->stored_len, 4);
	bytes_put_le(out + 24, c->checksum, 8);
}

int snapimg_decode_chunk_hdr(const uint8_t *buf, struct snapimg_chunk_hdr *c)
{
	if (memcmp(buf, "FLCK", 4))
		return -1;
	c->flags = (uint32_t)bytes_get_le(buf + 4, 4);
	c->first_page = bytes_get_le(buf + 8, 8);
	c->n_pages = (uint32_t)bytes_get_le(buf + 16, 4);
	c->stored_len = (uint32_t)bytes_get_le(buf + 20, 4);
	c->checksum = bytes_get_le(buf + 24, 8);
	return 0;
}

void snapimg_encode_index(const struct snapimg_chunk *c, uint8_t out[SNAPIMG_INDEX_LEN])
{
	bytes_put_le(out, c->offset, 8);
	bytes_put_le(out + 8, c->first_page, 8);
	bytes_put_le(out + 16, c->n_pages, 4);
	bytes_put_le(out + 20, c->stored_len, 4);
}

void snapimg_decode_index(const uint8_t *buf, struct snapimg_chunk *c)
{
	c->offset = bytes_get_le(buf, 8);
	c->first_page = bytes_get_le(buf + 8, 8);
	c->n_pages = (uint32_t)bytes_get_le(buf + 16, 4);
	c->stored_len = (uint32_t)bytes_get_le(buf + 20, 4);
}

/* XXH3-64 over the three metadata sections as they are on disk. */
uint64_t snapimg_meta_checksum(const uint8_t *map, const uint64_t *sums, uint64_t pages,
			       const struct snapimg_chunk *chunks, uint64_t n_chunks)
{
	XXH3_state_t st;
	uint8_t buf[SNAPIMG_INDEX_LEN * 64];

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, map, snapimg_map_len(pages));
	for (uint64_t p = 0; p < pages; p += 64) {
		size_t n = pages - p < 64 ? (size_t)(pages - p) : 64;

		for (size_t i = 0; i < n; i++)
			bytes_put_le(buf + i * 8, sums[p + i], 8);
		XXH3_64bits_update(&st, buf, n * 8);
	}
	for (uint64_t c = 0; c < n_chunks; c += 64) {
		size_t n = n_chunks - c < 64 ? (size_t)(n_chunks - c) : 64;

		for (size_t i = 0; i < n; i++)
			snapimg_encode_index(&chunks[c + i], buf + i * SNAPIMG_INDEX_LEN);
		XXH3_64bits_update(&st, buf, n * SNAPIMG_INDEX_LEN);
	}
	return XXH3_64bits_digest(&st);
}

void snapimg_checksum_str(uint64_t sum, char out[24])
{
	snprintf(out, 24, "xxh3:%016llx", (unsigned long long)sum);
}

void snapimg_id_str(const uint8_t id[SNAPIMG_ID_LEN], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (int i = 0; i < SNAPIMG_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[id[i] >> 4];
		out[k++] = hex[id[i] & 15];
	}
	out[k] = '\0';
}

/* A UUID in its 36-character form. */
int snapimg_id_parse(const char *s, uint8_t id[SNAPIMG_ID_LEN])
{
	size_t k = 0;

	if (strlen(s) != 36)
		return -1;
	for (size_t i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		hi = bytes_hexval(s[i]);
		lo = i + 1 < 36 ? bytes_hexval(s[i + 1]) : -1;
		if (hi < 0 || lo < 0)
			return -1;
		id[k++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return k == SNAPIMG_ID_LEN ? 0 : -1;
}

/* ---- reading ----------------------------------------------------------- */

void snapimg_close(struct snapimg *im)
{
	free(im->map);
	free(im->sums);
	free(im->chunks);
	im->map = NULL;
	im->sums = NULL;
	im->chunks = NULL;
}

static int check_map(struct snapimg *im, char *why, size_t why_len)
{
	const struct snapimg_hdr *h = &im->h;
	uint64_t count[4] = { 0 }, map_len = snapimg_map_len(h->page_count);

	for (uint64_t p = 0; p < h->page_count; p++) {
		enum snapimg_page v = snapimg_map_get(im->map, p);

		count[v]++;
		if (v == 3)
			FAIL("page map: page %llu has the invalid state 3", (unsigned long long)p);
		if (v != SNAPIMG_PRESENT && im->sums[p])
			FAIL("page %llu: a checksum for a page that is not present", (unsigned long long)p);
	}
	/* bits past the last page */
	for (uint64_t b = h->page_count * 2; b < map_len * 8; b++) {
		if ((im->map[b / 8] >> (b % 8)) & 1)
			FAIL("page map: bits set past page %llu", (unsigned long long)h->page_count);
	}
	if (count[SNAPIMG_PRESENT] != h->pages_present || count[SNAPIMG_ZERO] != h->pages_zero ||
	    count[SNAPIMG_ABSENT] != h->pages_absent)
		FAIL("page map holds %llu present, %llu zero, %llu absent pages; the header says %llu,"
		     " %llu, %llu", (unsigned long long)count[SNAPIMG_PRESENT],
		     (unsigned long long)count[SNAPIMG_ZERO], (unsigned long long)count[SNAPIMG_ABSENT],
		     (unsigned long long)h->pages_present, (unsigned long long)h->pages_zero,
		     (unsigned long long)h->pages_absent);
	return 0;
}

static int check_index(struct snapimg *im, char *why, size_t why_len)
{
	const struct snapimg_hdr *h = &im->h;
	uint64_t covered = 0, next = 0, data_end = h->data_offset + h->data_len;
	uint32_t maxp = max_chunk_pages(h->page_size);

	for (uint64_t i = 0; i < h->chunk_count; i++) {
		const struct snapimg_chunk *c = &im->chunks[i];
		uint64_t bytes = (uint64_t)c->n_pages * h->page_size;

		if (!c->n_pages || c->n_pages > maxp || c->first_page < next ||
		    c->first_page > h->page_count || c->n_pages > h->page_count - c->first_page)
			FAIL("chunk %llu (pages %llu+%u) is out of order, empty, too long or outside"
			     " the region", (unsigned long long)i, (unsigned long long)c->first_page,
			     c->n_pages);
		if (!c->stored_len || c->stored_len > ZSTD_compressBound(bytes) ||
		    c->offset < h->data_offset ||
		    !fits(c->offset, SNAPIMG_CHUNK_HDR_LEN + (uint64_t)c->stored_len, data_end))
			FAIL("chunk %llu at offset %llu lies outside the data section",
			     (unsigned long long)i, (unsigned long long)c->offset);
		for (uint64_t p = c->first_page; p < c->first_page + c->n_pages; p++) {
			if (snapimg_map_get(im->map, p) != SNAPIMG_PRESENT)
				FAIL("chunk %llu holds page %llu, which the map says is not present",
				     (unsigned long long)i, (unsigned long long)p);
		}
		covered += c->n_pages;
		next = c->first_page + c->n_pages;
	}
	if (covered != h->pages_present)
		FAIL("the chunks hold %llu pages, the map %llu present ones",
		     (unsigned long long)covered, (unsigned long long)h->pages_present);
	return 0;
}

/*
 * Reads and checks the header and the metadata: the header checksum, the
 * file's size against the header (truncation, trailing bytes), the meta
 * checksum, the map, the sums and the index.  Page data is checked by
 * snapimg_read_chunk() (each use) and snapimg_verify() (all of it).
 */
int snapimg_open(struct snapimg *im, const struct snapimg_src *src, char *why, size_t why_len)
{
	uint8_t hdr[SNAPIMG_HDR_LEN], *buf = NULL;
	struct snapimg_hdr *h = &im->h;
	uint64_t map_len, meta_len, sum;

	memset(im, 0, sizeof(*im));
	if (src->size < 8) {
		snprintf(why, why_len, "truncated: %llu bytes", (unsigned long long)src->size);
		return -1;
	}
	if (src->read(src->ctx, 0, hdr, src->size < SNAPIMG_HDR_LEN ? (size_t)src->size : SNAPIMG_HDR_LEN,
		      why, why_len) ||
	    snapimg_decode_hdr(hdr, src->size < SNAPIMG_HDR_LEN ? (size_t)src->size : SNAPIMG_HDR_LEN, h,
			       why, why_len))
		return -1;
	if (src->size != h->file_size) {
		snprintf(why, why_len, "%s: the file has %llu bytes, its header says %llu",
			 src->size < h->file_size ? "truncated" : "trailing bytes",
			 (unsigned long long)src->size, (unsigned long long)h->file_size);
		return -1;
	}
	map_len = snapimg_map_len(h->page_count);
	meta_len = h->file_size - h->map_offset; /* bounded by the file's size */
	buf = malloc(meta_len ? meta_len : 1);
	im->map = malloc(map_len);
	im->sums = malloc(h->page_count * sizeof(uint64_t));
	im->chunks = malloc((h->chunk_count ? h->chunk_count : 1) * sizeof(*im->chunks));
	if (!buf || !im->map || !im->sums || !im->chunks) {
		snprintf(why, why_len, "out of memory reading %llu bytes of metadata",
			 (unsigned long long)meta_len);
		goto fail;
	}
	if (src->read(src->ctx, h->map_offset, buf, meta_len, why, why_len))
		goto fail;
	sum = snapimg_hash(buf, meta_len);
	if (sum != h->meta_checksum) {
		snprintf(why, why_len, "metadata checksum mismatch (page map, page checksums or chunk"
			 " index damaged): stored %016llx, computed %016llx",
			 (unsigned long long)h->meta_checksum, (unsigned long long)sum);
		goto fail;
	}
	memcpy(im->map, buf, map_len);
	for (uint64_t p = 0; p < h->page_count; p++)
		im->sums[p] = bytes_get_le(buf + map_len + p * 8, 8);
	for (uint64_t c = 0; c < h->chunk_count; c++)
		snapimg_decode_index(buf + (h->index_offset - h->map_offset) + c * SNAPIMG_INDEX_LEN,
				     &im->chunks[c]);
	free(buf);
	buf = NULL;
	if (check_map(im, why, why_len) || check_index(im, why, why_len))
		goto fail;
	return 0;
fail:
	free(buf);
	snapimg_close(im);
	return -1;
}

/* The chunk holding page, or -1 (the page is not present in this image). */
int64_t snapimg_find(const struct snapimg *im, uint64_t page)
{
	uint64_t lo = 0, hi = im->h.chunk_count;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const struct snapimg_chunk *c = &im->chunks[mid];

		if (page < c->first_page)
			hi = mid;
		else if (page >= c->first_page + c->n_pages)
			lo = mid + 1;
		else
			return (int64_t)mid;
	}
	return -1;
}

/* Scratch needed by snapimg_read_chunk(): the largest stored chunk. */
size_t snapimg_scratch_len(uint32_t page_size)
{
	return ZSTD_compressBound((size_t)max_chunk_pages(page_size) * page_size);
}

/*
 * Chunk ci's pages into out (n_pages * page_size bytes), every page checked
 * against its checksum.  scratch holds a compressed chunk
 * (snapimg_scratch_len() bytes).
 */
int snapimg_read_chunk(const struct snapimg *im, const struct snapimg_src *src, uint64_t ci,
		       uint8_t *out, uint8_t *scratch, size_t scratch_len, char *why, size_t why_len)
{
	const struct snapimg_chunk *c = &im->chunks[ci];
	size_t bytes = (size_t)c->n_pages * im->h.page_size;
	uint8_t hbuf[SNAPIMG_CHUNK_HDR_LEN], *stored;
	struct snapimg_chunk_hdr ch;

	if (src->read(src->ctx, c->offset, hbuf, sizeof(hbuf), why, why_len))
		return -1;
	if (snapimg_decode_chunk_hdr(hbuf, &ch) || ch.first_page != c->first_page ||
	    ch.n_pages != c->n_pages || ch.stored_len != c->stored_len || (ch.flags & ~SNAPIMG_CF_ZSTD))
		FAIL("chunk at offset %llu (pages %llu+%u): its header does not match the index",
		     (unsigned long long)c->offset, (unsigned long long)c->first_page, c->n_pages);
	if (!(ch.flags & SNAPIMG_CF_ZSTD) && ch.stored_len != bytes)
		FAIL("chunk at offset %llu: %u bytes stored for %zu bytes of pages",
		     (unsigned long long)c->offset, ch.stored_len, bytes);
	if ((ch.flags & SNAPIMG_CF_ZSTD) && ch.stored_len > scratch_len)
		FAIL("chunk at offset %llu: compressed size %u too large", (unsigned long long)c->offset,
		     ch.stored_len);
	stored = (ch.flags & SNAPIMG_CF_ZSTD) ? scratch : out;
	if (src->read(src->ctx, c->offset + SNAPIMG_CHUNK_HDR_LEN, stored, ch.stored_len, why, why_len))
		return -1;
	if (snapimg_hash(stored, ch.stored_len) != ch.checksum)
		FAIL("chunk at offset %llu (pages %llu+%u): data checksum mismatch",
		     (unsigned long long)c->offset, (unsigned long long)c->first_page, c->n_pages);
	if (ch.flags & SNAPIMG_CF_ZSTD) {
		size_t n = ZSTD_decompress(out, bytes, scratch, ch.stored_len);

		if (ZSTD_isError(n) || n != bytes)
			FAIL("chunk at offset %llu: does not decompress to its %u pages (%s)",
			     (unsigned long long)c->offset, c->n_pages,
			     ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
	}
	for (uint32_t i = 0; i < c->n_pages; i++) {
		uint64_t p = c->first_page + i;

		if (snapimg_hash(out + (size_t)i * im->h.page_size, im->h.page_size) != im->sums[p])
			FAIL("page %llu: checksum mismatch (chunk at offset %llu)", (unsigned long long)p,
			     (unsigned long long)c->offset);
	}
	return 0;
}

/* Every page of an opened image, read and checked. */
int snapimg_verify(const struct snapimg *im, const struct snapimg_src *src, char *why,
		   size_t why_len)
{
	size_t slen = snapimg_scratch_len(im->h.page_size);
	size_t olen = (size_t)max_chunk_pages(im->h.page_size) * im->h.page_size;
	uint8_t *scratch = malloc(slen), *out = malloc(olen);
	int ret = 0;

	if (!scratch || !out) {
		snprintf(why, why_len, "out of memory");
		ret = -1;
	}
	for (uint64_t c = 0; !ret && c < im->h.chunk_count; c++)
		ret = snapimg_read_chunk(im, src, c, out, scratch, slen, why, why_len);
	free(scratch);
	free(out);
	return ret;
}

/* child is the incremental image on top of parent. */
int snapimg_check_parent(const struct snapimg *child, const struct snapimg *parent, char *why,
			 size_t why_len)
{
	char want[37], have[37];

	if (!(child->h.flags & SNAPIMG_F_INCREMENTAL))
		FAIL("a full image has no parent");
	if (memcmp(child->h.parent_id, parent->h.snapshot_id, SNAPIMG_ID_LEN)) {
		snapimg_id_str(child->h.parent_id, want);
		snapimg_id_str(parent->h.snapshot_id, have);
		FAIL("wrong parent: the image is based on snapshot %s, the parent given is %s", want, have);
	}
	if (memcmp(child->h.parent_content_id, parent->h.content_id, SNAPIMG_ID_LEN))
		FAIL("wrong parent: snapshot %s is not the content the image was based on (its"
		     " content id differs)", (snapimg_id_str(parent->h.snapshot_id, have), have));
	if (child->h.page_size != parent->h.page_size || child->h.page_count != parent->h.page_count)
		FAIL("the parent's geometry (%llu pages of %u bytes) differs from the image's (%llu of %u)",
		     (unsigned long long)parent->h.page_count, parent->h.page_size,
		     (unsigned long long)child->h.page_count, child->h.page_size);
	return 0;
}
