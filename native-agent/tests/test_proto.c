/*
 * Frame codec tests: the byte layout of PROTOCOL.md §1.1 and every decode
 * outcome, including the stream splitter the agent runs on each connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "test.h"

static void encode(uint8_t *out, uint8_t type, uint16_t flags, uint64_t id, uint32_t length)
{
	struct proto_hdr h = proto_hdr_make(type, flags, id, length);

	proto_encode_hdr(&h, out);
}

/* The Java client is written against these exact bytes. */
int t_proto_golden_bytes(const struct t_env *env)
{
	static const uint8_t want[PROTO_HDR_LEN] = {
		0x46, 0x4C, 0x43, 0x54,                         /* "FLCT" */
		0x01,                                           /* version */
		0x02,                                           /* type: ping */
		0x00, 0x03,                                     /* REPLY|ERROR */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* request id */
		0x00, 0x10, 0x00, 0x00,                         /* length 1 MiB */
		0x00, 0x00, 0x00, 0x00,                         /* reserved */
	};
	uint8_t got[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	encode(got, PROTO_T_PING, PROTO_F_REPLY | PROTO_F_ERROR, 0x0102030405060708ull, 1u << 20);
	CHECK(!memcmp(got, want, sizeof(want)));
	CHECK(proto_decode_hdr(want, sizeof(want), PROTO_MAX_PAYLOAD, &h) == PROTO_OK);
	CHECK(h.magic == PROTO_MAGIC && h.version == 1 && h.type == PROTO_T_PING);
	CHECK(h.flags == 3 && h.id == 0x0102030405060708ull && h.length == 1u << 20);
	return T_PASS;
}

int t_proto_roundtrip(const struct t_env *env)
{
	static const struct {
		uint8_t type;
		uint16_t flags;
		uint64_t id;
		uint32_t length;
	} v[] = {
		{ PROTO_T_HELLO, 0, 1, 0 },
		{ PROTO_T_PING, PROTO_F_REPLY, UINT64_MAX, PROTO_MAX_PAYLOAD },
		{ 0xff, PROTO_F_REPLY | PROTO_F_ERROR, 0x8000000000000000ull, 1 },
		{ 0, 0, 0, 0 },
	};

	(void)env;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t buf[PROTO_HDR_LEN];
		struct proto_hdr h;

		encode(buf, v[i].type, v[i].flags, v[i].id, v[i].length);
		CHECKF(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_OK,
		       "vector %zu", i);
		CHECKF(h.type == v[i].type && h.flags == v[i].flags && h.id == v[i].id &&
		       h.length == v[i].length && h.reserved == 0, "vector %zu", i);
	}
	return T_PASS;
}

int t_proto_truncated_header(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_frame f;

	(void)env;
	encode(buf, PROTO_T_HELLO, 0, 42, 10);
	for (size_t len = 0; len < PROTO_HDR_LEN; len++) {
		struct proto_hdr h;

		CHECKF(proto_decode_hdr(buf, len, PROTO_MAX_PAYLOAD, &h) == PROTO_NEED_MORE,
		       "len %zu", len);
		CHECKF(proto_next_frame(buf, len, PROTO_MAX_PAYLOAD, &f) == PROTO_NEED_MORE &&
		       f.size == PROTO_HDR_LEN, "len %zu", len);
	}
	return T_PASS;
}

int t_proto_truncated_payload(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN + 10];
	struct proto_frame f;

	(void)env;
	encode(buf, PROTO_T_HELLO, 0, 42, 10);
	memset(buf + PROTO_HDR_LEN, '{', 10);
	for (size_t len = PROTO_HDR_LEN; len < sizeof(buf); len++) {
		CHECKF(proto_next_frame(buf, len, PROTO_MAX_PAYLOAD, &f) == PROTO_NEED_MORE,
		       "len %zu", len);
		CHECKF(f.size == sizeof(buf), "len %zu: need %zu", len, f.size);
	}
	CHECK(proto_next_frame(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &f) == PROTO_OK);
	CHECK(f.size == sizeof(buf) && f.payload == buf + PROTO_HDR_LEN && f.hdr.id == 42);
	return T_PASS;
}

int t_proto_too_large(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	encode(buf, PROTO_T_PING, 0, 7, PROTO_MAX_PAYLOAD);
	CHECK(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_OK);
	encode(buf, PROTO_T_PING, 0, 7, PROTO_MAX_PAYLOAD + 1);
	CHECK(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_TOO_LARGE);
	/* the header is still reported, so the error can echo the request id */
	CHECK(h.id == 7 && h.type == PROTO_T_PING && h.length == PROTO_MAX_PAYLOAD + 1);
	encode(buf, PROTO_T_PING, 0, 7, UINT32_MAX);
	CHECK(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_TOO_LARGE);
	encode(buf, PROTO_T_PING, 0, 7, 100);
	CHECK(proto_decode_hdr(buf, sizeof(buf), 99, &h) == PROTO_TOO_LARGE);
	CHECK(proto_result_is_fatal(PROTO_TOO_LARGE));
	return T_PASS;
}

int t_proto_bad_magic(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	for (size_t i = 0; i < 4; i++) {
		encode(buf, PROTO_T_HELLO, 0, 1, 0);
		buf[i] ^= 0x20;
		/* reported as soon as the wrong byte is in, not after 24 bytes */
		for (size_t len = i + 1; len <= PROTO_HDR_LEN; len++)
			CHECKF(proto_decode_hdr(buf, len, PROTO_MAX_PAYLOAD, &h) == PROTO_BAD_MAGIC,
			       "byte %zu len %zu", i, len);
		for (size_t len = 0; len <= i; len++)
			CHECKF(proto_decode_hdr(buf, len, PROTO_MAX_PAYLOAD, &h) == PROTO_NEED_MORE,
			       "byte %zu len %zu", i, len);
	}
	CHECK(proto_decode_hdr((const uint8_t *)"GET / HTTP/1.1\r\n", 16, PROTO_MAX_PAYLOAD, &h) ==
	      PROTO_BAD_MAGIC);
	CHECK(proto_result_is_fatal(PROTO_BAD_MAGIC));
	return T_PASS;
}

int t_proto_bad_version(const struct t_env *env)
{
	static const uint8_t versions[] = { 0, 2, 0x7f, 0xff };
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	for (size_t i = 0; i < sizeof(versions); i++) {
		encode(buf, PROTO_T_HELLO, 0, 1, 0);
		buf[4] = versions[i];
		for (size_t len = 5; len <= PROTO_HDR_LEN; len++)
			CHECKF(proto_decode_hdr(buf, len, PROTO_MAX_PAYLOAD, &h) == PROTO_BAD_VERSION,
			       "version %u len %zu", versions[i], len);
		CHECK(h.version == versions[i]);
	}
	CHECK(proto_result_is_fatal(PROTO_BAD_VERSION));
	return T_PASS;
}

int t_proto_reserved(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	for (int byte = 20; byte < 24; byte++) {
		encode(buf, PROTO_T_PING, 0, 9, 0);
		buf[byte] = 0x01;
		CHECKF(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_RESERVED,
		       "byte %d", byte);
		CHECK(h.id == 9);
	}
	CHECK(!proto_result_is_fatal(PROTO_RESERVED));
	CHECK(proto_result_err(PROTO_RESERVED) == PROTO_E_BAD_FRAME);
	return T_PASS;
}

int t_proto_unknown_flags(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	for (int bit = 2; bit < 16; bit++) {
		encode(buf, PROTO_T_PING, (uint16_t)(1u << bit), 9, 0);
		CHECKF(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_BAD_FLAGS,
		       "bit %d", bit);
		encode(buf, PROTO_T_PING, (uint16_t)(1u << bit | PROTO_F_REPLY), 9, 0);
		CHECKF(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_BAD_FLAGS,
		       "bit %d with REPLY", bit);
	}
	CHECK(!proto_result_is_fatal(PROTO_BAD_FLAGS));
	CHECK(proto_result_err(PROTO_BAD_FLAGS) == PROTO_E_BAD_FRAME);
	return T_PASS;
}

int t_proto_error_without_reply(const struct t_env *env)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	(void)env;
	encode(buf, PROTO_T_PING, PROTO_F_ERROR, 9, 0);
	CHECK(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_BAD_FLAGS);
	encode(buf, PROTO_T_PING, PROTO_F_ERROR | PROTO_F_REPLY, 9, 0);
	CHECK(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_OK);
	encode(buf, PROTO_T_PING, PROTO_F_REPLY, 9, 0);
	CHECK(proto_decode_hdr(buf, sizeof(buf), PROTO_MAX_PAYLOAD, &h) == PROTO_OK);
	return T_PASS;
}

/* Random bytes: never OK unless they happen to start with the magic. */
int t_proto_garbage(const struct t_env *env)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	uint8_t buf[64];

	(void)env;
	for (int round = 0; round < 200000; round++) {
		struct proto_frame f;
		size_t len;
		enum proto_result r;

		for (size_t i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		if (round % 3 == 0)
			memcpy(buf, "FLCT\x01", 5); /* get past the magic to reach later checks */
		len = (size_t)(x >> 40) % (sizeof(buf) + 1);
		r = proto_next_frame(buf, len, 32, &f);
		if (r == PROTO_OK || r == PROTO_BAD_FLAGS || r == PROTO_RESERVED) {
			CHECK(len >= PROTO_HDR_LEN && !memcmp(buf, "FLCT\x01", 5));
			CHECK(f.size == PROTO_HDR_LEN + f.hdr.length && f.size <= len);
			CHECK(f.hdr.length <= 32);
		}
	}
	return T_PASS;
}

struct seen {
	int n;
	enum proto_result res[16];
	uint64_t id[16];
	char payload[16][16];
};

static int collect(void *opaque, enum proto_result res, const struct proto_frame *f)
{
	struct seen *s = opaque;

	if (s->n < 16) {
		s->res[s->n] = res;
		s->id[s->n] = f->hdr.id;
		snprintf(s->payload[s->n], sizeof(s->payload[0]), "%.*s",
			 proto_result_is_fatal(res) ? 0 : (int)f->hdr.length,
			 f->payload ? (const char *)f->payload : "");
	}
	s->n++;
	return 0;
}

static size_t append_frame(uint8_t *out, struct proto_hdr h, const char *payload)
{
	proto_encode_hdr(&h, out);
	memcpy(out + PROTO_HDR_LEN, payload, h.length);
	return PROTO_HDR_LEN + h.length;
}

/* One stream, fed in every chunk size: the frames seen never change. */
int t_proto_stream_chunked(const struct t_env *env)
{
	struct proto_hdr bad = proto_hdr_make(PROTO_T_PING, 0, 3, 5);
	uint8_t stream[512];
	size_t len = 0;

	(void)env;
	bad.reserved = 1; /* non-fatal, with a payload that must be skipped exactly */
	len += append_frame(stream + len, proto_hdr_make(PROTO_T_HELLO, 0, 1, 2), "{}");
	len += append_frame(stream + len, proto_hdr_make(PROTO_T_PING, 0, 2, 0), "");
	len += append_frame(stream + len, bad, "xxxxx");
	len += append_frame(stream + len, proto_hdr_make(0x42, 0, 4, 7), "{\"a\":1}");

	for (size_t chunk = 1; chunk <= len; chunk++) {
		struct proto_buf b = { 0 };
		struct seen s = { 0 };
		size_t need = 0;

		for (size_t off = 0; off < len; off += chunk) {
			size_t n = len - off < chunk ? len - off : chunk;

			CHECK_OK(proto_buf_append(&b, stream + off, n, 4096));
			CHECK(proto_buf_drain(&b, PROTO_MAX_PAYLOAD, collect, &s, &need) ==
			      PROTO_DRAIN_MORE);
			CHECK(need > b.len);
		}
		CHECKF(s.n == 4, "chunk %zu: %d frames", chunk, s.n);
		CHECK(s.res[0] == PROTO_OK && s.id[0] == 1 && !strcmp(s.payload[0], "{}"));
		CHECK(s.res[1] == PROTO_OK && s.id[1] == 2 && !strcmp(s.payload[1], ""));
		CHECK(s.res[2] == PROTO_RESERVED && s.id[2] == 3);
		CHECK(s.res[3] == PROTO_OK && s.id[3] == 4 && !strcmp(s.payload[3], "{\"a\":1}"));
		CHECK(b.len == 0);
		proto_buf_free(&b);
	}
	return T_PASS;
}

static int stop_after_first(void *opaque, enum proto_result res, const struct proto_frame *f)
{
	collect(opaque, res, f);
	return 1;
}

int t_proto_stream_fatal(const struct t_env *env)
{
	struct proto_buf b = { 0 };
	struct seen s = { 0 };
	uint8_t frame[PROTO_HDR_LEN];
	size_t need;

	(void)env;
	encode(frame, PROTO_T_PING, 0, 1, 0);
	CHECK_OK(proto_buf_append(&b, frame, sizeof(frame), 4096));
	encode(frame, PROTO_T_PING, 0, 2, 0);
	CHECK_OK(proto_buf_append(&b, frame, sizeof(frame), 4096));
	CHECK_OK(proto_buf_append(&b, "GARBAGE!", 8, 4096));
	CHECK_OK(proto_buf_append(&b, frame, sizeof(frame), 4096));

	/* a callback that stops keeps the rest buffered */
	CHECK(proto_buf_drain(&b, PROTO_MAX_PAYLOAD, stop_after_first, &s, &need) ==
	      PROTO_DRAIN_STOPPED);
	CHECK(s.n == 1 && b.len == 2 * PROTO_HDR_LEN + 8);
	CHECK(proto_buf_drain(&b, PROTO_MAX_PAYLOAD, collect, &s, &need) == PROTO_DRAIN_FATAL);
	CHECK(s.n == 3 && s.id[1] == 2 && s.res[2] == PROTO_BAD_MAGIC);
	/* the fatal frame is not consumed: nothing after it is ever parsed */
	CHECK(b.len == PROTO_HDR_LEN + 8);
	proto_buf_free(&b);

	encode(frame, PROTO_T_PING, 0, 5, PROTO_MAX_PAYLOAD + 1);
	CHECK_OK(proto_buf_append(&b, frame, sizeof(frame), 4096));
	s.n = 0;
	CHECK(proto_buf_drain(&b, PROTO_MAX_PAYLOAD, collect, &s, &need) == PROTO_DRAIN_FATAL);
	CHECK(s.n == 1 && s.res[0] == PROTO_TOO_LARGE && s.id[0] == 5);
	proto_buf_free(&b);
	return T_PASS;
}

int t_proto_buf_limits(const struct t_env *env)
{
	struct proto_buf b = { 0 };
	struct proto_hdr h = proto_hdr_make(PROTO_T_PING, 0, 1, 100);
	char payload[100] = { 0 };

	(void)env;
	CHECK_OK(proto_buf_append(&b, payload, 60, 128));
	errno = 0;
	CHECK(proto_buf_append(&b, payload, 69, 128) == -1 && errno == ENOBUFS);
	CHECK(b.len == 60);
	/* all or nothing */
	CHECK(proto_buf_put_frame(&b, &h, payload, 128) == -1 && b.len == 60);
	proto_buf_consume(&b, 60);
	CHECK(b.len == 0 && b.off == 0);
	CHECK_OK(proto_buf_put_frame(&b, &h, payload, 128));
	CHECK(b.len == 124);
	/* consumed space is reused rather than grown into */
	proto_buf_consume(&b, 100);
	CHECK_OK(proto_buf_append(&b, payload, 100, 128));
	CHECK(b.len == 124 && b.cap <= 128);
	proto_buf_consume(&b, 124);
	proto_buf_shrink(&b, 64);
	CHECK(b.data == NULL && b.cap == 0);
	errno = 0;
	CHECK(proto_buf_reserve(&b, 129, 128) == -1 && errno == ENOBUFS);
	proto_buf_free(&b);
	return T_PASS;
}

/* The stable codes of PROTOCOL.md §1.5; renaming one is a protocol break. */
int t_proto_error_codes(const struct t_env *env)
{
	static const char *const want[] = {
		"BAD_MAGIC", "BAD_VERSION", "FRAME_TOO_LARGE", "BAD_FRAME", "BAD_PAYLOAD",
		"UNKNOWN_TYPE", "NOT_NEGOTIATED", "BAD_REQUEST", "INTERNAL", "NOT_FOUND",
		"CONFLICT", "PERMISSION_DENIED", "UNAVAILABLE", "NO_SPACE",
		"TOO_MANY_CLIENTS",
	};

	(void)env;
	for (int e = PROTO_E_BAD_MAGIC; e <= PROTO_E_TOO_MANY_CLIENTS; e++)
		CHECKF(!strcmp(proto_err_code((enum proto_err)e), want[e]), "code %d", e);
	CHECK(proto_result_err(PROTO_BAD_MAGIC) == PROTO_E_BAD_MAGIC);
	CHECK(proto_result_err(PROTO_BAD_VERSION) == PROTO_E_BAD_VERSION);
	CHECK(proto_result_err(PROTO_TOO_LARGE) == PROTO_E_FRAME_TOO_LARGE);
	CHECK(!strcmp(proto_type_name(PROTO_T_HELLO), "hello"));
	CHECK(!strcmp(proto_type_name(PROTO_T_PING), "ping"));
	CHECK(!strcmp(proto_type_name(PROTO_T_SHUTDOWN), "shutdown"));
	CHECK(!strcmp(proto_type_name(PROTO_T_RESTORE_DELETE), "restore_delete"));
	CHECK(!strcmp(proto_type_name(PROTO_T_REGION_DETACHED), "region_detached"));
	CHECK(!strcmp(proto_type_name(PROTO_T_SNAPSHOT_TAKE), "snapshot_take"));
	CHECK(!strcmp(proto_type_name(PROTO_T_QUIESCE), "quiesce"));
	CHECK(!strcmp(proto_type_name(PROTO_T_MIGRATION_IN), "migration_in"));
	CHECK(proto_type_name(0x4F) == NULL);
	return T_PASS;
}
