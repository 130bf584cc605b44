/*
 * Deterministic image content; see content.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content.h"

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

bool content_zero_page(uint64_t page)
{
	return page % 8 == 7;
}

/* xorshift64 from a per-page seed: ~1 ns per word. */
void content_page(uint64_t seed, uint64_t page, uint8_t *out)
{
	uint64_t x = mix(seed ^ mix(page)) | 1, w[CONTENT_PAGE / 8];

	if (content_zero_page(page)) {
		memset(out, 0, CONTENT_PAGE);
		return;
	}
	for (unsigned i = 0; i < CONTENT_PAGE / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
	memcpy(out, w, CONTENT_PAGE);
}

/* 0 when p holds page's content, else 1 + the offset of the first wrong byte. */
size_t content_check(uint64_t seed, uint64_t page, const uint8_t *p)
{
	uint8_t want[CONTENT_PAGE];

	content_page(seed, page, want);
	if (!memcmp(want, p, CONTENT_PAGE))
		return 0;
	for (size_t i = 0; i < CONTENT_PAGE; i++) {
		if (want[i] != p[i])
			return i + 1;
	}
	return 0;
}

int content_pattern_parse(const char *s, enum content_pattern *out)
{
	if (!strcmp(s, "seq"))
		*out = CONTENT_SEQ;
	else if (!strcmp(s, "random"))
		*out = CONTENT_RANDOM;
	else if (!strcmp(s, "hot10"))
		*out = CONTENT_HOT10;
	else
		return -1;
	return 0;
}

/*
 * The pages a workload touches, in order: all of them sequentially or in
 * a random permutation, or (hot10) the same tenth of the image every run -
 * clusters of 16 pages chosen by the seed, as real working sets cluster -
 * in a random order.
 */
uint64_t *content_order(enum content_pattern pat, uint64_t n_pages, uint64_t seed, uint64_t *n)
{
	uint64_t *order = malloc((n_pages ? n_pages : 1) * sizeof(*order));
	uint64_t k = 0, rng = mix(seed ^ UINT64_C(0x5eed));

	if (!order)
		return NULL;
	for (uint64_t i = 0; i < n_pages; i++) {
		if (pat != CONTENT_HOT10 || mix(seed ^ (i / CONTENT_HOT_CLUSTER)) % 10 == 0)
			order[k++] = i;
	}
	if (pat != CONTENT_SEQ) {
		for (uint64_t i = k; i > 1; i--) {
			uint64_t j = (rng = mix(rng)) % i, t = order[i - 1];

			order[i - 1] = order[j];
			order[j] = t;
		}
	}
	*n = k;
	return order;
}

int content_write_image(const char *path, uint64_t size, uint64_t seed)
{
	enum { CHUNK = 256 };
	uint8_t *buf = malloc((size_t)CHUNK * CONTENT_PAGE);
	uint64_t pages = size / CONTENT_PAGE;
	int fd, ret = -1;

	if (!buf || size % CONTENT_PAGE) {
		free(buf);
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto free_buf;
	for (uint64_t p = 0; p < pages; p += CHUNK) {
		uint64_t n = pages - p < CHUNK ? pages - p : CHUNK;
		size_t len = (size_t)n * CONTENT_PAGE, off = 0;

		for (uint64_t i = 0; i < n; i++)
			content_page(seed, p + i, buf + i * CONTENT_PAGE);
		while (off < len) {
			ssize_t w = write(fd, buf + off, len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto close_fd;
			off += (size_t)w;
		}
	}
	ret = fsync(fd);
close_fd:
	if (close(fd))
		ret = -1;
free_buf:
	free(buf);
	return ret;
}

/* "64M", "1G", "4096", "2m" ... */
int content_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10;
		end++;
		break;
	case 'm': case 'M':
		v <<= 20;
		end++;
		break;
	case 'g': case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b')
		end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
	if (*end || !v)
		return -1;
	*out = v;
	return 0;
}
