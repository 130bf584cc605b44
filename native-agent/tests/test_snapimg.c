/*
 * Snapshot images: the writer and the codec round trip (pages committed
 * out of order, zero detection, compression), every class of damage the
 * verifier must refuse with a message naming it, parent links, and
 * consolidation of a chain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "harness.h"
#include "snapfile.h"
#include "snapimg.h"
#include "snapw.h"
#include "test.h"

#define PS 4096u

/* What page p of image `gen` holds: 0 absent, 1 zero, 2 data (content of seed gen). */
static int page_kind(unsigned gen, uint64_t p)
{
	if (gen > 1 && p % 3)
		return 0; /* incremental images change every third page */
	if (p % 7 == 6)
		return 1;
	return 2;
}

static void page_data(unsigned gen, uint64_t p, uint8_t *out)
{
	content_page(gen * 1000 + 7, p, out); /* every 8th page of it is zero: zero detection */
	if (!content_zero_page(p))
		memset(out + PS / 2, (int)(p | 1) & 0xff, PS / 2); /* something for zstd */
}

struct img_spec {
	unsigned gen;       /* 1 full, 2.. incremental on gen - 1 */
	uint64_t pages;
	bool compress;
	uint64_t buffer_bytes;
};

static void ids(unsigned gen, uint8_t *sid, uint8_t *cid)
{
	memset(sid, 0, SNAPIMG_ID_LEN);
	memset(cid, 0, SNAPIMG_ID_LEN);
	sid[0] = 0x51;
	sid[15] = (uint8_t)gen;
	cid[0] = 0xC1;
	cid[15] = (uint8_t)gen;
}

static int wait_fd(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, H_TIMEOUT_MS) == 1 ? 0 : -1;
}

/* Commits pages out of order: some single pages first (as faults would), then runs. */
static int write_image(const char *path, const struct img_spec *sp, struct snapw_result *res)
{
	struct snapw_cfg cfg = { .path = path, .compress = sp->compress, .level = 1,
				 .buffer_bytes = sp->buffer_bytes ? sp->buffer_bytes : 64 * PS };
	struct snapw *w;
	char why[512];
	uint8_t *done = calloc(sp->pages, 1);
	uint64_t order[3] = { sp->pages / 2, 3, sp->pages - 1 };

	cfg.hdr.page_size = PS;
	cfg.hdr.page_count = sp->pages;
	cfg.hdr.region_start = 0x7f0000000000;
	ids(sp->gen, cfg.hdr.snapshot_id, cfg.hdr.content_id);
	if (sp->gen > 1) {
		cfg.hdr.flags = SNAPIMG_F_INCREMENTAL;
		ids(sp->gen - 1, cfg.hdr.parent_id, cfg.hdr.parent_content_id);
	}
	w = snapw_start(&cfg, why, sizeof(why));
	if (!w || !done) {
		printf("    snapw_start: %s\n", why);
		return -1;
	}
	/* a few single pages first, as write faults would save them, then the rest in order */
	for (unsigned k = 0; k < 3 + sp->pages; k++) {
		uint64_t first = k < 3 ? order[k] : k - 3, n = 1;
		uint8_t *dst;

		if (first >= sp->pages || done[first] || !page_kind(sp->gen, first))
			continue;
		if (page_kind(sp->gen, first) == 1) {
			while (snapw_zero(w, first, 1))
				wait_fd(snapw_space_fd(w));
			done[first] = 1;
			continue;
		}
		/* a run of data pages from here, up to 37 */
		while (k >= 3 && first + n < sp->pages && n < 37 && !done[first + n] &&
		       page_kind(sp->gen, first + n) == 2)
			n++;
		while (!(dst = snapw_reserve(w, (uint32_t)n)))
			wait_fd(snapw_space_fd(w));
		for (uint64_t i = 0; i < n; i++) {
			page_data(sp->gen, first + i, dst + i * PS);
			done[first + i] = 1;
		}
		snapw_commit(w, first, (uint32_t)n);
	}
	while (snapw_finish(w, SNAPIMG_Q_YES, 1700000000000ull + sp->gen))
		wait_fd(snapw_space_fd(w));
	while (!snapw_done(w))
		wait_fd(snapw_done_fd(w));
	if (snapw_result(w, res, why, sizeof(why))) {
		printf("    writer: %s\n", why);
		snapw_free(w);
		free(done);
		return -1;
	}
	snapw_free(w);
	free(done);
	return 0;
}

/*
 * Every page as the chain resolves it (the newest image that has it), against
 * what generations 1..top wrote (the newest generation that wrote it).
 */
static int check_content(struct snapfile **chain, unsigned n, unsigned top, uint64_t pages)
{
	uint8_t *buf = malloc(SNAPIMG_MAX_CHUNK_PAGES * PS), *scratch;
	uint8_t want[PS], zero[PS] = { 0 };
	size_t slen = snapimg_scratch_len(PS);
	char why[384];

	scratch = malloc(slen);
	if (!buf || !scratch)
		return -1;
	for (uint64_t p = 0; p < pages; p++) {
		unsigned k = n;
		enum snapimg_page st = SNAPIMG_ABSENT;
		int64_t ci;

		while (k && (st = snapimg_map_get(chain[k - 1]->im.map, p)) == SNAPIMG_ABSENT)
			k--;
		/* expected: the newest generation that wrote the page */
		for (unsigned g = top; g >= 1; g--) {
			if (page_kind(g, p)) {
				if (page_kind(g, p) == 1)
					memset(want, 0, PS);
				else
					page_data(g, p, want);
				break;
			}
		}
		if (!k) {
			printf("    page %llu absent in the whole chain\n", (unsigned long long)p);
			return -1;
		}
		if (st == SNAPIMG_ZERO) {
			if (memcmp(want, zero, PS)) {
				printf("    page %llu: zero in the image, data expected\n", (unsigned long long)p);
				return -1;
			}
			continue;
		}
		ci = snapimg_find(&chain[k - 1]->im, p);
		if (ci < 0 || snapimg_read_chunk(&chain[k - 1]->im, &chain[k - 1]->src, (uint64_t)ci, buf,
						 scratch, slen, why, sizeof(why))) {
			printf("    page %llu: %s\n", (unsigned long long)p, ci < 0 ? "no chunk" : why);
			return -1;
		}
		if (memcmp(buf + (p - chain[k - 1]->im.chunks[ci].first_page) * PS, want, PS)) {
			printf("    page %llu differs\n", (unsigned long long)p);
			return -1;
		}
	}
	free(buf);
	free(scratch);
	return 0;
}

int t_snapimg_roundtrip(const struct t_env *env)
{
	static const struct img_spec specs[] = {
		{ .gen = 1, .pages = 1000 },
		{ .gen = 1, .pages = 1000, .compress = true },
		{ .gen = 1, .pages = 5, .buffer_bytes = 4 * PS },
		{ .gen = 1, .pages = 4099, .buffer_bytes = 128 * PS, .compress = true },
	};
	char dir[64], path[128], detail[512];

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct snapw_result res;
		struct snapfile f, *chain[1] = { &f };
		struct stat st;
		uint64_t zero = 0;

		snprintf(path, sizeof(path), "%s/img%zu", dir, i);
		CHECK_OK(write_image(path, &specs[i], &res));
		CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == res.size_bytes);
		snprintf(detail, sizeof(detail), "%s.tmp", path);
		CHECK(access(detail, F_OK) != 0); /* renamed */
		CHECKF(snapfile_verify(path, detail, sizeof(detail)) == 0, "case %zu: %s", i, detail);
		CHECK_OK(snapfile_open(&f, path, detail, sizeof(detail)));
		for (uint64_t p = 0; p < specs[i].pages; p++) {
			uint8_t b[PS];

			page_data(1, p, b);
			zero += page_kind(1, p) == 1 || snapimg_all_zero(b, PS);
		}
		CHECKF(res.pages_zero == zero && res.pages_present == specs[i].pages - zero &&
		       !res.pages_absent, "case %zu: %llu present %llu zero, want %llu zero", i,
		       (unsigned long long)res.pages_present, (unsigned long long)res.pages_zero,
		       (unsigned long long)zero);
		CHECK(f.im.h.header_checksum == res.checksum && f.im.h.quiesced == SNAPIMG_Q_YES);
		CHECK(!!(f.im.h.flags & SNAPIMG_F_COMPRESSED) == specs[i].compress);
		CHECK(check_content(chain, 1, 1, specs[i].pages) == 0);
		snapfile_close(&f);
	}
	return T_PASS;
}

/* ---- damage ------------------------------------------------------------- */

enum damage { D_BYTE, D_BYTE_FIX_HDR, D_TRUNCATE, D_APPEND };

struct damage_case {
	const char *name;
	enum damage kind;
	const char *where; /* "hdr+N", "data+N" (in the first chunk's pages), "map", "sums", "index" */
	uint64_t value;    /* D_BYTE*: xor mask or new 16-bit value; D_TRUNCATE: new size or 0 = -1 byte */
	bool compress;
	const char *expect;
};

static int64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (int64_t)st.st_size;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			return -1;
	}
	close(in);
	return close(out);
}

static int flip(const char *path, uint64_t off, uint8_t mask)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;
	int ret = -1;

	if (fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1) {
		b ^= mask;
		ret = pwrite(fd, &b, 1, (off_t)off) == 1 ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static int damage(const char *path, const struct damage_case *c, const struct snapimg_hdr *h,
		  const struct snapimg_chunk *first_chunk)
{
	uint64_t base = 0, off;

	if (c->kind == D_TRUNCATE)
		return truncate(path, c->value ? (off_t)c->value : (off_t)h->file_size - 1);
	if (c->kind == D_APPEND) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		int ret = fd >= 0 && write(fd, "x", 1) == 1 ? 0 : -1;

		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (!strncmp(c->where, "data+", 5))
		base = first_chunk->offset + SNAPIMG_CHUNK_HDR_LEN;
	else if (!strcmp(c->where, "map"))
		base = h->map_offset;
	else if (!strcmp(c->where, "sums"))
		base = h->sums_offset + 8 * first_chunk->first_page;
	else if (!strcmp(c->where, "index"))
		base = h->index_offset + 8;
	off = base + (strchr(c->where, '+') ? strtoull(strchr(c->where, '+') + 1, NULL, 10) : 0);
	if (c->kind == D_BYTE)
		return flip(path, off, (uint8_t)c->value);
	/* D_BYTE_FIX_HDR: a 16-bit field gets a new value and the header a valid checksum */
	{
		uint8_t hdr[SNAPIMG_HDR_LEN];
		uint64_t sum;
		int fd = open(path, O_RDWR | O_CLOEXEC);

		if (fd < 0 || pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
			return -1;
		hdr[off] = (uint8_t)c->value;
		hdr[off + 1] = (uint8_t)(c->value >> 8);
		sum = snapimg_hash(hdr, SNAPIMG_HDR_LEN - 8);
		for (int i = 0; i < 8; i++)
			hdr[248 + i] = (uint8_t)(sum >> (8 * i));
		if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
			return -1;
		return close(fd);
	}
}

/*
 * Corrupted, truncated and wrong-version images are refused, each with a
 * message that says what is wrong and where.
 */
int t_snapimg_refusals(const struct t_env *env)
{
	static const struct damage_case cases[] = {
		{ "bad magic", D_BYTE, "hdr+0", 0x20, false, "bad magic" },
		{ "newer version", D_BYTE_FIX_HDR, "hdr+8", 2, false, "version 2; this agent reads version 1" },
		{ "header byte", D_BYTE, "hdr+24", 0x01, false, "header checksum mismatch" },
		{ "header byte (compressed)", D_BYTE, "hdr+120", 0x80, true, "header checksum mismatch" },
		{ "truncated by one byte", D_TRUNCATE, NULL, 0, false, "truncated: the file has" },
		{ "truncated into the header", D_TRUNCATE, NULL, 100, false, "truncated: 100 bytes" },
		{ "truncated to nothing", D_TRUNCATE, NULL, 1, false, "truncated: 1 bytes" },
		{ "trailing bytes", D_APPEND, NULL, 0, false, "trailing bytes" },
		{ "page data", D_BYTE, "data+5000", 0x04, false, "data checksum mismatch" },
		{ "compressed data", D_BYTE, "data+40", 0x10, true, "data checksum mismatch" },
		{ "page map", D_BYTE, "map", 0x03, false, "metadata checksum mismatch" },
		{ "page checksum", D_BYTE, "sums", 0x01, false, "metadata checksum mismatch" },
		{ "chunk index", D_BYTE, "index", 0x02, false, "metadata checksum mismatch" },
	};
	char dir[64], good[2][128], bad[160], detail[512];
	struct snapimg_hdr hdr[2];
	struct snapimg_chunk chunk[2];

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	for (int z = 0; z < 2; z++) {
		struct img_spec sp = { .gen = 1, .pages = 300, .compress = z };
		struct snapw_result res;
		struct snapfile f;

		snprintf(good[z], sizeof(good[z]), "%s/good%d", dir, z);
		CHECK_OK(write_image(good[z], &sp, &res));
		CHECK_OK(snapfile_open(&f, good[z], detail, sizeof(detail)));
		hdr[z] = f.im.h;
		chunk[z] = f.im.chunks[0];
		snapfile_close(&f);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct damage_case *c = &cases[i];
		int z = c->compress;

		snprintf(bad, sizeof(bad), "%s/bad%zu", dir, i);
		CHECK_OK(copy_file(good[z], bad));
		CHECKF(damage(bad, c, &hdr[z], &chunk[z]) == 0, "cannot damage: %s", c->name);
		CHECKF(snapfile_verify(bad, detail, sizeof(detail)) != 0, "%s: accepted", c->name);
		CHECKF(strstr(detail, c->expect) && strstr(detail, bad), "%s: \"%s\" (wanted \"%s\")",
		       c->name, detail, c->expect);
		t_logf("%-26s %s", c->name, detail + strlen(bad) + 2);
		CHECK(file_size(good[z]) > 0);
	}
	/* a corrupted page is named */
	snprintf(bad, sizeof(bad), "%s/badpage", dir);
	CHECK_OK(copy_file(good[0], bad));
	CHECK_OK(flip(bad, chunk[0].offset + SNAPIMG_CHUNK_HDR_LEN + PS + 17, 0x40));
	{
		/* the chunk checksum is fixed up, so that the page checksum is what catches it */
		struct snapfile f;
		uint8_t *data = malloc(chunk[0].stored_len), le[8];
		uint64_t sum;
		int fd = open(bad, O_RDWR | O_CLOEXEC);

		CHECK(data && fd >= 0);
		CHECK(pread(fd, data, chunk[0].stored_len, (off_t)(chunk[0].offset + SNAPIMG_CHUNK_HDR_LEN)) ==
		      (ssize_t)chunk[0].stored_len);
		sum = snapimg_hash(data, chunk[0].stored_len);
		for (int b = 0; b < 8; b++)
			le[b] = (uint8_t)(sum >> (8 * b));
		CHECK(pwrite(fd, le, 8, (off_t)(chunk[0].offset + 24)) == 8);
		close(fd);
		free(data);
		CHECK(snapfile_verify(bad, detail, sizeof(detail)) != 0);
		snprintf(bad, sizeof(bad), "page %llu: checksum mismatch",
			 (unsigned long long)chunk[0].first_page + 1);
		CHECKF(strstr(detail, bad), "\"%s\"", detail);
		(void)f;
	}
	return T_PASS;
}

/* An incremental image names its parent: another image is refused as the parent. */
int t_snapimg_parent_links(const struct t_env *env)
{
	char dir[64], p1[128], p2[128], other[128], why[512];
	struct img_spec s1 = { .gen = 1, .pages = 200 }, s2 = { .gen = 2, .pages = 200 };
	struct img_spec s3 = { .gen = 3, .pages = 200 };
	struct snapw_result res;
	struct snapfile a, b, c, *chain[2] = { &a, &b };

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(p1, sizeof(p1), "%s/full", dir);
	snprintf(p2, sizeof(p2), "%s/inc", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	CHECK_OK(write_image(p1, &s1, &res));
	CHECK_OK(write_image(p2, &s2, &res));
	CHECK(res.pages_absent == 200 - 67);
	CHECK_OK(write_image(other, &s3, &res)); /* based on generation 2, not 1 */
	CHECK_OK(snapfile_open(&a, p1, why, sizeof(why)));
	CHECK_OK(snapfile_open(&b, p2, why, sizeof(why)));
	CHECK_OK(snapfile_open(&c, other, why, sizeof(why)));
	CHECK_OK(snapimg_check_parent(&b.im, &a.im, why, sizeof(why)));
	CHECK(check_content(chain, 2, 2, 200) == 0);
	CHECK(snapimg_check_parent(&c.im, &a.im, why, sizeof(why)) && strstr(why, "wrong parent"));
	CHECK(snapimg_check_parent(&a.im, &c.im, why, sizeof(why)) && strstr(why, "full image"));
	snapfile_close(&a);
	snapfile_close(&b);
	snapfile_close(&c);
	return T_PASS;
}

/*
 * Consolidation: a chain full <- inc2 <- inc3.  Folding inc2 into inc3
 * leaves inc3 incremental on full, same content; folding full into it
 * then makes it full.  Ids are kept, so inc3 still is what it was.
 */
int t_snapimg_consolidate(const struct t_env *env)
{
	char dir[64], p[3][128], why[512];
	struct snapw_result res;
	struct snapfile f[3], *chain[3] = { &f[0], &f[1], &f[2] };
	uint8_t sid[SNAPIMG_ID_LEN], cid[SNAPIMG_ID_LEN];

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	for (unsigned g = 1; g <= 3; g++) {
		struct img_spec sp = { .gen = g, .pages = 500, .compress = g == 2 };

		snprintf(p[g - 1], sizeof(p[0]), "%s/gen%u", dir, g);
		CHECK_OK(write_image(p[g - 1], &sp, &res));
	}
	CHECK_OK(snapfile_consolidate(p[1], p[2], true, 1, 64 * PS, &res, why, sizeof(why)));
	CHECK(snapfile_verify(p[2], why, sizeof(why)) == 0);
	CHECK_OK(snapfile_open(&f[0], p[0], why, sizeof(why)));
	CHECK_OK(snapfile_open(&f[2], p[2], why, sizeof(why)));
	CHECK(f[2].im.h.flags & SNAPIMG_F_INCREMENTAL);
	CHECK_OK(snapimg_check_parent(&f[2].im, &f[0].im, why, sizeof(why)));
	ids(3, sid, cid);
	CHECK(!memcmp(f[2].im.h.snapshot_id, sid, SNAPIMG_ID_LEN) &&
	      !memcmp(f[2].im.h.content_id, cid, SNAPIMG_ID_LEN));
	chain[1] = &f[2];
	CHECK(check_content(chain, 2, 3, 500) == 0);
	snapfile_close(&f[2]);
	/* twice is harmless: the child's pages win (here: a wrong parent is refused) */
	CHECK(snapfile_consolidate(p[1], p[2], false, 1, 64 * PS, &res, why, sizeof(why)) != 0 &&
	      strstr(why, "wrong parent"));
	CHECK_OK(snapfile_consolidate(p[0], p[2], false, 1, 64 * PS, &res, why, sizeof(why)));
	CHECK_OK(snapfile_open(&f[2], p[2], why, sizeof(why)));
	CHECK(!(f[2].im.h.flags & SNAPIMG_F_INCREMENTAL) && !f[2].im.h.pages_absent);
	chain[0] = &f[2];
	CHECK(check_content(chain, 1, 3, 500) == 0);
	snapfile_close(&f[2]);
	snapfile_close(&f[0]);
	return T_PASS;
}

/*
 * A writer stopped before it finished (an agent killed mid-snapshot) leaves
 * no file under the image's name, and a .tmp it left is never taken for a
 * complete image: its header is written last.
 */
int t_snapimg_incomplete(const struct t_env *env)
{
	struct snapw_cfg cfg = { .compress = false, .buffer_bytes = 64 * PS };
	char dir[64], path[128], tmp[160], why[512];
	struct snapw *w;
	uint8_t *dst;
	int fd;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/img", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cfg.path = path;
	cfg.hdr.page_size = PS;
	cfg.hdr.page_count = 100;
	ids(1, cfg.hdr.snapshot_id, cfg.hdr.content_id);
	w = snapw_start(&cfg, why, sizeof(why));
	CHECK(w);
	dst = snapw_reserve(w, 10);
	CHECK(dst);
	memset(dst, 0x5A, 10 * PS);
	snapw_commit(w, 0, 10);
	CHECK(access(tmp, F_OK) == 0 && access(path, F_OK) != 0);
	/* what a kill -9 leaves: the data written so far, no header */
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	CHECK(snapfile_verify(tmp, why, sizeof(why)) != 0 &&
	      (strstr(why, "bad magic") || strstr(why, "truncated")));
	snapw_free(w); /* an abort: the .tmp goes */
	CHECK(access(tmp, F_OK) != 0 && access(path, F_OK) != 0);
	return T_PASS;
}

/*
 * The writer's ring takes the memory it holds at most, not its capacity:
 * committed a run at a time, each after the ring drained, a 4 MiB ring
 * touches one run's worth and reports that as its peak; runs committed
 * without waking the writer thread (snapw_commit_later) reach it on
 * snapw_publish; the image is whole.
 */
int t_snapimg_ring_follows_use(const struct t_env *env)
{
	struct snapw_cfg cfg = { .buffer_bytes = 1024 * PS };
	const uint64_t pages = 512, run = 16;
	struct snapw_result res;
	struct snapw *w;
	char dir[64], path[128], why[512];

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/ring", dir);
	cfg.path = path;
	cfg.hdr.page_size = PS;
	cfg.hdr.page_count = pages;
	cfg.hdr.region_start = 0x7f0000000000;
	ids(1, cfg.hdr.snapshot_id, cfg.hdr.content_id);
	w = snapw_start(&cfg, why, sizeof(why));
	CHECKF(w != NULL, "snapw_start: %s", why);
	for (uint64_t first = 0; first < pages; first += run) {
		uint8_t *dst;

		/* the ring is empty again before every run */
		while (snapw_free_pages(w) != snapw_ring_pages(w))
			CHECK_OK(wait_fd(snapw_space_fd(w)));
		dst = snapw_reserve(w, (uint32_t)run);
		CHECK(dst != NULL);
		for (uint64_t i = 0; i < run; i++)
			content_page(11, first + i, dst + i * PS);
		if ((first / run) % 2) {
			snapw_commit_later(w, first, (uint32_t)run);
			snapw_publish(w);
		} else {
			snapw_commit(w, first, (uint32_t)run);
		}
	}
	while (snapw_finish(w, SNAPIMG_Q_NOT_ASKED, 1700000000000ull))
		CHECK_OK(wait_fd(snapw_space_fd(w)));
	while (!snapw_done(w))
		CHECK_OK(wait_fd(snapw_done_fd(w)));
	CHECKF(snapw_result(w, &res, why, sizeof(why)) == 0, "writer: %s", why);
	t_logf("ring of %llu bytes: peak %llu, resident %llu", (unsigned long long)(1024 * PS),
	       (unsigned long long)snapw_peak_bytes(w), (unsigned long long)snapw_resident_bytes(w));
	CHECKF(snapw_peak_bytes(w) == run * PS && snapw_resident_bytes(w) == run * PS,
	       "peak %llu, resident %llu bytes for runs of %llu",
	       (unsigned long long)snapw_peak_bytes(w), (unsigned long long)snapw_resident_bytes(w),
	       (unsigned long long)(run * PS));
	snapw_free(w);
	CHECKF(snapfile_verify(path, why, sizeof(why)) == 0, "%s", why);
	CHECK(res.pages_present + res.pages_zero == pages && res.pages_absent == 0);
	return T_PASS;
}
