/*
 * libFuzzer target for snapshot images (snapimg.c): whatever bytes a file
 * holds, snapimg_open() and snapimg_verify() must refuse them with a
 * message or accept an image whose every part is consistent.  Beyond memory
 * safety (ASan/UBSan) it checks what the restore path relies on after an
 * image was accepted: the header re-encodes to its own bytes, the chunks
 * are disjoint and hold exactly the present pages, and every lookup of a
 * present page finds its chunk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapimg.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct mem {
	const uint8_t *data;
	size_t size;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len, char *why, size_t why_len)
{
	const struct mem *m = ctx;

	if (off > m->size || len > m->size - off) {
		snprintf(why, why_len, "truncated at offset %llu", (unsigned long long)off);
		return -1;
	}
	memcpy(buf, m->data + off, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct snapimg_src src = { .read = mem_read, .ctx = &m, .size = size, .name = "fuzz" };
	struct snapimg im;
	uint8_t hdr[SNAPIMG_HDR_LEN];
	char why[512];
	uint64_t present = 0;

	why[0] = '\0';
	if (snapimg_open(&im, &src, why, sizeof(why))) {
		CHECK(why[0]); /* a refusal always says why */
		return 0;
	}
	snapimg_encode_hdr(&im.h, hdr);
	CHECK(!memcmp(hdr, data, SNAPIMG_HDR_LEN));
	CHECK(im.h.file_size == size);
	for (uint64_t p = 0; p < im.h.page_count; p++) {
		enum snapimg_page s = snapimg_map_get(im.map, p);
		int64_t ci = snapimg_find(&im, p);

		CHECK(s != 3);
		CHECK((s == SNAPIMG_PRESENT) == (ci >= 0));
		present += s == SNAPIMG_PRESENT;
		if (!(im.h.flags & SNAPIMG_F_INCREMENTAL))
			CHECK(s != SNAPIMG_ABSENT);
	}
	CHECK(present == im.h.pages_present);
	for (uint64_t c = 1; c < im.h.chunk_count; c++)
		CHECK(im.chunks[c].first_page >= im.chunks[c - 1].first_page + im.chunks[c - 1].n_pages);
	if (snapimg_verify(&im, &src, why, sizeof(why)))
		CHECK(why[0]);
	snapimg_close(&im);
	return 0;
}
