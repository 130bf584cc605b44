/*
 * Writes the fuzzer's seed corpus: valid frames and near misses, made with
 * the real encoder so they stay meaningful when the codec changes.
 *   gen-seeds DIR
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "proto.h"

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

int main(int argc, char **argv)
{
	/* first byte of every seed: the fuzzer's chunking selector (see fuzz_proto.c) */
	uint8_t buf[4096];
	struct proto_hdr h;
	size_t len;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}

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
