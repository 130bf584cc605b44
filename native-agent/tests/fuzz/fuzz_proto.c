/*
 * libFuzzer target for the control protocol codec.
 *
 * Input: one selector byte, then the byte stream a peer would send.  The
 * stream is decoded twice: in one piece, and fed through proto_buf in chunks
 * (sizes chosen by the selector) with the same proto_buf_drain() the agent
 * runs on every connection.  Beyond memory safety (ASan/UBSan), it checks:
 *   - a decoded frame re-encodes to exactly the bytes it came from;
 *   - a frame reported complete lies within the input and max_payload;
 *   - chunking never changes which frames are seen, nor their order;
 *   - a fatal result stops parsing for good.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define MAX_SEEN 64

struct seen_frame {
	enum proto_result res;
	struct proto_hdr hdr;
	uint32_t payload_hash;
};

struct seen {
	struct seen_frame f[MAX_SEEN];
	size_t n;
	unsigned stop_every; /* callback asks to stop every Nth frame, 0: never */
};

#define CHECK(cond)                      \
	do {                             \
		if (!(cond))             \
			__builtin_trap(); \
	} while (0)

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static int on_frame(void *opaque, enum proto_result res, const struct proto_frame *f)
{
	struct seen *s = opaque;
	uint8_t again[PROTO_HDR_LEN];

	CHECK(res != PROTO_NEED_MORE);
	if (!proto_result_is_fatal(res)) {
		CHECK(f->payload != NULL);
		CHECK(f->size == PROTO_HDR_LEN + (size_t)f->hdr.length);
		proto_encode_hdr(&f->hdr, again);
		CHECK(memcmp(again, f->payload - PROTO_HDR_LEN, PROTO_HDR_LEN) == 0);
	}
	if (res == PROTO_OK) {
		CHECK(f->hdr.magic == PROTO_MAGIC && f->hdr.version == PROTO_VERSION);
		CHECK(f->hdr.reserved == 0 && !(f->hdr.flags & ~PROTO_F_KNOWN));
	}
	if (s->n < MAX_SEEN) {
		s->f[s->n].res = res;
		s->f[s->n].hdr = f->hdr;
		s->f[s->n].payload_hash =
			proto_result_is_fatal(res) ? 0 : fnv1a(f->payload, f->hdr.length);
	}
	s->n++;
	return s->stop_every && s->n % s->stop_every == 0;
}

static void check_single(const uint8_t *data, size_t size, uint32_t max)
{
	struct proto_frame f;
	enum proto_result r = proto_next_frame(data, size, max, &f);

	if (r == PROTO_NEED_MORE) {
		CHECK(f.size > size || size < PROTO_HDR_LEN);
		return;
	}
	if (proto_result_is_fatal(r))
		return;
	CHECK(f.size <= size && f.hdr.length <= max);
	CHECK(f.payload == data + PROTO_HDR_LEN);
}

/* Drains data in chunks; returns how the stream ended. */
static enum proto_drain feed(const uint8_t *data, size_t size, uint32_t max, uint8_t sel,
			     struct seen *s)
{
	struct proto_buf b = { 0 };
	size_t limit = PROTO_HDR_LEN + (size_t)max + 256;
	enum proto_drain d = PROTO_DRAIN_MORE;
	uint32_t rng = sel * 2654435761u + 1;
	size_t off = 0, need = 0;

	while (off < size) {
		size_t chunk = (sel & 0x3f) + 1;

		if (sel & 0x40) {
			rng = rng * 1103515245u + 12345u;
			chunk = (rng >> 16) % 97 + 1;
		}
		if (chunk > size - off)
			chunk = size - off;
		if (proto_buf_append(&b, data + off, chunk, limit))
			abort(); /* limit is never reached: drained frames are consumed */
		off += chunk;
		do
			d = proto_buf_drain(&b, max, on_frame, s, &need);
		while (d == PROTO_DRAIN_STOPPED);
		if (d == PROTO_DRAIN_FATAL)
			break;
		CHECK(need > b.len);
		CHECK(b.len < PROTO_HDR_LEN + (size_t)max);
	}
	proto_buf_free(&b);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen *whole, *chunked;
	enum proto_drain dw, dc;
	uint32_t max;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	/* a small limit reaches FRAME_TOO_LARGE without megabyte inputs */
	max = (sel & 0x80) ? 64 : PROTO_MAX_PAYLOAD;

	check_single(data, size, max);

	whole = calloc(1, sizeof(*whole));
	chunked = calloc(1, sizeof(*chunked));
	if (!whole || !chunked)
		abort();
	chunked->stop_every = sel % 5;
	dw = feed(data, size, max, 0x3f, whole); /* 64-byte chunks as the reference */
	dc = feed(data, size, max, sel, chunked);

	CHECK(dw == dc);
	CHECK(whole->n == chunked->n);
	for (size_t i = 0; i < whole->n && i < MAX_SEEN; i++) {
		CHECK(whole->f[i].res == chunked->f[i].res);
		CHECK(!memcmp(&whole->f[i].hdr, &chunked->f[i].hdr, sizeof(whole->f[i].hdr)));
		CHECK(whole->f[i].payload_hash == chunked->f[i].payload_hash);
	}
	/* a fatal result is always the last thing seen */
	for (size_t i = 0; i + 1 < whole->n && i < MAX_SEEN; i++)
		CHECK(!proto_result_is_fatal(whole->f[i].res));
	free(whole);
	free(chunked);
	return 0;
}
