/*
 * libFuzzer target for the page channel frame parser (PROTOCOL.md §3).
 *
 * Input: 8 bytes of region geometry (pages: u32, page size shift: u8,
 * 3 ignored), then frames a peer would send, back to back.  Each header
 * goes through pchan_decode_hdr() (at every prefix length, as bytes
 * trickle in) and pchan_check() against the geometry.  Beyond memory
 * safety it checks what the receivers index with:
 *   - a shorter prefix never succeeds where the full header fails, and a
 *     decoded header re-encodes to its bytes;
 *   - an accepted page frame lies inside the region, its payload is exactly
 *     its pages, a stale bitmap starts on a word and covers its pages,
 *     a demand request asks for at most PCHAN_MAX_DEMAND pages;
 *   - a hello payload that decodes has a well-formed id and kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pchan.h"

#define CHECK(cond)                      \
	do {                             \
		if (!(cond))             \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pchan_geom g;
	size_t off = 8;

	if (size < 8)
		return 0;
	g.n_pages = (uint64_t)data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16 |
		    (uint64_t)data[3] << 24;
	g.page_size = UINT32_C(1) << (12 + data[4] % 4);
	while (off < size) {
		struct pchan_hdr h, h2;
		uint8_t re[PCHAN_HDR_LEN];
		size_t avail = size - off;
		enum pchan_result full = pchan_decode_hdr(data + off, avail, &h), r;

		for (size_t k = 0; k < PCHAN_HDR_LEN && k < avail; k++) {
			r = pchan_decode_hdr(data + off, k, &h2);
			/* a prefix is either incomplete or already as wrong as the whole */
			CHECK(r == PCHAN_NEED_MORE || r == full || (r == PCHAN_BAD_MAGIC && full == PCHAN_BAD_MAGIC) ||
			      (r == PCHAN_BAD_VERSION && full == PCHAN_BAD_VERSION));
		}
		if (full != PCHAN_OK)
			break;
		pchan_encode_hdr(&h, re);
		CHECK(!memcmp(re, data + off, PCHAN_HDR_LEN));
		CHECK(h.length <= PCHAN_MAX_PAYLOAD && !h.flags);
		off += PCHAN_HDR_LEN;
		if (pchan_check(&h, &g) == PCHAN_OK) {
			switch (h.type) {
			case PCHAN_T_PAGES:
				CHECK(h.page < g.n_pages && h.count && h.page + h.count <= g.n_pages);
				CHECK((uint64_t)h.count * g.page_size == h.length);
				break;
			case PCHAN_T_ZERO:
				CHECK(h.count && h.page + h.count <= g.n_pages && !h.length);
				break;
			case PCHAN_T_STALE:
				CHECK(h.page % 64 == 0 && h.page + h.count <= g.n_pages);
				CHECK((uint64_t)h.length * 8 >= h.count);
				break;
			case PCHAN_T_REQUEST:
				CHECK(h.count && h.count <= PCHAN_MAX_DEMAND && h.page + h.count <= g.n_pages);
				break;
			case PCHAN_T_HELLO: {
				struct pchan_hello hello;

				if (avail - PCHAN_HDR_LEN >= h.length &&
				    !pchan_decode_hello(data + off, h.length, &hello))
					CHECK(strlen(hello.id) == PCHAN_ID_LEN && hello.kind <= PCHAN_KIND_LAST);
				break;
			}
			}
		}
		if (h.length > size - off)
			break;
		off += h.length;
	}
	return 0;
}
