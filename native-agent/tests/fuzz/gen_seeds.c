/*
 * Writes the fuzzers' seed corpora: valid frames and near misses, made with
 * the real encoders so they stay meaningful when the formats change.
 *   gen-seeds PROTO_DIR [HANDOFF_DIR [SNAPIMG_DIR]]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <poll.h>
#include <stdlib.h>

#include "proto.h"
#include "snapw.h"
#include "wset.h"

static int n_written;

static int put(const char *dir, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%03d", dir, n_written++);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

static size_t frame(uint8_t *out, struct proto_hdr h, const char *payload)
{
	h.length = (uint32_t)strlen(payload);
	proto_encode_hdr(&h, out);
	memcpy(out + PROTO_HDR_LEN, payload, h.length);
	return PROTO_HDR_LEN + h.length;
}

/* First byte: the selector of fuzz_handoff.c (0 Firecracker, 1 register, 2 working set). */
static int handoff_seeds(const char *dir)
{
	static const char *const texts[] = {
		"\x00[{\"base_host_virt_addr\":140737488355328,\"size\":8388608,\"offset\":0,"
		"\"page_size\":4096,\"page_size_kib\":4096},{\"base_host_virt_addr\":140737496743936,"
		"\"size\":8388608,\"offset\":8388608,\"page_size\":4096,\"page_size_kib\":4096}]",
		"\x00[{\"base_host_virt_addr\":1073741824,\"size\":2097152,\"offset\":0,"
		"\"page_size_kib\":2097152}]",
		"\x01{\"name\":\"demo\",\"labels\":{\"app\":\"demo\"},\"start\":139872354418688,"
		"\"length\":1073741824,\"page_size\":4096,\"modes\":[\"missing\"],\"features\":114,"
		"\"resume_id\":null}",
		"\x01{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\",\"wp\"],"
		"\"resume_id\":\"0b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77\"}",
	};
	struct wset_run runs[3] = { { 0, 16 }, { 64, 16 }, { 7, 1 } };
	struct wset w = { .ident = { 1 << 20, 1, 2 }, .runs = runs, .n = 3 };
	uint8_t buf[1 + WSET_HDR_LEN + 3 * WSET_ENTRY_LEN + WSET_TRAILER_LEN];
	int ret = 0;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *t = texts[i];
		size_t len = 1 + strlen(t + 1); /* the selector may be 0 */

		ret |= put(dir, (const uint8_t *)t, len);
	}
	buf[0] = 2;
	wset_encode(&w, buf + 1);
	ret |= put(dir, buf, sizeof(buf));
	return ret;
}

/* Small snapshot images written by the real writer: full, compressed, incremental. */
static int snapimg_seeds(const char *dir)
{
	for (int k = 0; k < 3; k++) {
		struct snapw_cfg cfg = { .compress = k == 1, .level = 1, .buffer_bytes = 16 * 4096 };
		struct snapw_result res;
		struct snapw *w;
		char path[4096], why[512];
		uint8_t *dst;

		snprintf(path, sizeof(path), "%s/seed-img-%d", dir, k);
		cfg.path = path;
		cfg.hdr.page_size = 4096;
		cfg.hdr.page_count = 12;
		cfg.hdr.snapshot_id[0] = (uint8_t)(k + 1);
		cfg.hdr.content_id[0] = (uint8_t)(k + 1);
		if (k == 2) {
			cfg.hdr.flags = SNAPIMG_F_INCREMENTAL;
			cfg.hdr.parent_id[0] = 1;
			cfg.hdr.parent_content_id[0] = 1;
		}
		w = snapw_start(&cfg, why, sizeof(why));
		if (!w) {
			fprintf(stderr, "%s\n", why);
			return -1;
		}
		dst = snapw_reserve(w, 4);
		for (int i = 0; dst && i < 4 * 4096; i++)
			dst[i] = (uint8_t)(i % 4096 < 2048 ? i * 7 : 0x55);
		memset(dst + 4096, 0, 4096); /* a zero page among data */
		snapw_commit(w, 2, 4);
		if (k != 2)
			snapw_zero(w, 0, 2);
		dst = snapw_reserve(w, 6);
		for (int i = 0; dst && i < 6 * 4096; i++)
			dst[i] = (uint8_t)(i >> 3);
		snapw_commit(w, 6, 6);
		while (snapw_finish(w, 1, 1700000000000ull))
			;
		while (!snapw_done(w)) {
			struct pollfd pfd = { .fd = snapw_done_fd(w), .events = POLLIN };

			poll(&pfd, 1, 1000);
		}
		if (snapw_result(w, &res, why, sizeof(why))) {
			fprintf(stderr, "%s\n", why);
			snapw_free(w);
			return -1;
		}
		snapw_free(w);
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* first byte of every seed: the fuzzer's chunking selector (see fuzz_proto.c) */
	uint8_t buf[4096];
	struct proto_hdr h;
	size_t len;
	int ret = 0;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s PROTO_DIR [HANDOFF_DIR [SNAPIMG_DIR]]\n", argv[0]);
		return 2;
	}
	if (argc >= 3 && handoff_seeds(argv[2]))
		return 1;
	if (argc == 4 && snapimg_seeds(argv[3]))
		return 1;

	buf[0] = 0;
	len = 1 + frame(buf + 1, proto_hdr_make(PROTO_T_HELLO, 0, 1, 0),
			"{\"client\":\"seed\",\"protocol\":1}");
	ret |= put(argv[1], buf, len);

	buf[0] = 3;
	len = 1;
	len += frame(buf + len, proto_hdr_make(PROTO_T_HELLO, 0, 1, 0), "");
	len += frame(buf + len, proto_hdr_make(PROTO_T_PING, 0, 2, 0), "{}");
	len += frame(buf + len, proto_hdr_make(PROTO_T_SHUTDOWN, 0, 3, 0), "");
	ret |= put(argv[1], buf, len);

	buf[0] = 1;
	h = proto_hdr_make(PROTO_T_PING, 0, 4, 0);
	h.reserved = 1;
	len = 1 + frame(buf + 1, h, "xyz");
	len += frame(buf + len, proto_hdr_make(PROTO_T_PING, PROTO_F_ERROR, 5, 0), "");
	len += frame(buf + len, proto_hdr_make(PROTO_T_PING, PROTO_F_REPLY | PROTO_F_ERROR, 6, 0),
		     "{\"code\":\"INTERNAL\",\"message\":\"m\"}");
	ret |= put(argv[1], buf, len);

	buf[0] = 7;
	h = proto_hdr_make(PROTO_T_PING, 0, 7, 0);
	len = 1 + frame(buf + 1, h, "");
	h.length = PROTO_MAX_PAYLOAD + 1;
	proto_encode_hdr(&h, buf + len);
	len += PROTO_HDR_LEN;
	ret |= put(argv[1], buf, len);

	buf[0] = 2;
	len = 1 + frame(buf + 1, proto_hdr_make(PROTO_T_PING, 0, 8, 0), "");
	buf[len++] = 'F';
	buf[len++] = 'L';
	buf[len++] = 'C';
	buf[len++] = 'T';
	buf[len++] = 2;
	ret |= put(argv[1], buf, len);

	return ret ? 1 : 0;
}
