/*
 * Snapshot image files; see snapfile.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapfile.h"

static int file_read(void *ctx, uint64_t off, void *buf, size_t len, char *why, size_t why_len)
{
	struct snapfile *f = ctx;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(f->fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, why_len, "%s at offset %llu", n ? strerror(errno) : "truncated",
				 (unsigned long long)(off + got));
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Opens path and checks its header and metadata; why says what is wrong. */
int snapfile_open(struct snapfile *f, const char *path, char *why, size_t why_len)
{
	struct stat st;
	char inner[384];

	memset(f, 0, sizeof(f[0]));
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(f->fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "%s: not a regular file", path);
		goto close_fd;
	}
	f->path = strdup(path);
	if (!f->path) {
		snprintf(why, why_len, "out of memory");
		goto close_fd;
	}
	f->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	f->src = (struct snapimg_src){ .read = file_read, .ctx = f, .size = (uint64_t)st.st_size,
				       .name = f->path };
	if (snapimg_open(&f->im, &f->src, inner, sizeof(inner))) {
		snprintf(why, why_len, "%s: %s", path, inner);
		goto free_path;
	}
	return 0;

free_path:
	free(f->path);
	f->path = NULL;
close_fd:
	close(f->fd);
	f->fd = -1;
	return -1;
}

void snapfile_close(struct snapfile *f)
{
	snapimg_close(&f->im);
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	f->fd = -1;
	f->path = NULL;
}

/* 0: intact (detail says what was checked); -1: detail says what is wrong. */
int snapfile_verify(const char *path, char *detail, size_t detail_len)
{
	struct snapfile f;
	char why[384];
	int ret;

	if (snapfile_open(&f, path, detail, detail_len))
		return -1;
	ret = snapimg_verify(&f.im, &f.src, why, sizeof(why));
	if (ret)
		snprintf(detail, detail_len, "%s: %s", path, why);
	else
		snprintf(detail, detail_len, "%llu pages checked (%llu present, %llu zero, %llu absent)",
			 (unsigned long long)f.im.h.page_count, (unsigned long long)f.im.h.pages_present,
			 (unsigned long long)f.im.h.pages_zero, (unsigned long long)f.im.h.pages_absent);
	snapfile_close(&f);
	return ret;
}

/* Waits until the writer has room (or is done). */
static void wait_space(struct snapw *w)
{
	struct pollfd pfd = { .fd = snapw_space_fd(w), .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, 1000) > 0 && read(pfd.fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
}

/* Copies pages [first, first + n) of image f into the writer; -2: the writer failed. */
static int copy_run(struct snapw *w, struct snapfile *f, uint64_t first, uint64_t n, uint8_t *buf,
		    uint8_t *scratch, size_t scratch_len, char *why, size_t why_len)
{
	uint32_t ps = f->im.h.page_size;

	while (n) {
		int64_t ci = snapimg_find(&f->im, first);
		const struct snapimg_chunk *c;
		uint64_t k;
		uint8_t *dst;
		char inner[384];

		if (ci < 0) {
			snprintf(why, why_len, "%s: page %llu has no chunk", f->path, (unsigned long long)first);
			return -1;
		}
		c = &f->im.chunks[ci];
		if (snapimg_read_chunk(&f->im, &f->src, (uint64_t)ci, buf, scratch, scratch_len, inner,
				       sizeof(inner))) {
			snprintf(why, why_len, "%s: %s", f->path, inner);
			return -1;
		}
		k = c->first_page + c->n_pages - first;
		k = k < n ? k : n;
		while (!(dst = snapw_reserve(w, (uint32_t)k))) {
			if (snapw_done(w))
				return -2;
			wait_space(w);
		}
		memcpy(dst, buf + (first - c->first_page) * ps, k * ps);
		snapw_commit(w, first, (uint32_t)k);
		first += k;
		n -= k;
	}
	return 0;
}

/*
 * Child on top of parent becomes one image: the child's pages, and the
 * parent's where the child has none.  The result is full when the parent
 * is, else incremental on the parent's parent; it keeps the child's
 * snapshot and content ids (it describes the same memory), so images
 * based on the child stay valid.  Written to <child>.tmp and renamed over
 * the child; every page copied is checked on the way.
 */
int snapfile_consolidate(const char *parent, const char *child, bool compress, int level,
			 uint64_t buffer_bytes, struct snapw_result *out, char *why, size_t why_len)
{
	struct snapfile pf, cf;
	struct snapw_cfg cfg = { .path = child, .compress = compress, .level = level,
				 .buffer_bytes = buffer_bytes };
	struct snapw *w = NULL;
	uint8_t *buf = NULL, *scratch = NULL;
	size_t slen;
	char inner[384];
	int ret = -1;

	if (snapfile_open(&pf, parent, why, why_len))
		return -1;
	if (snapfile_open(&cf, child, why, why_len))
		goto close_parent;
	if (snapimg_check_parent(&cf.im, &pf.im, inner, sizeof(inner))) {
		snprintf(why, why_len, "%s: %s", child, inner);
		goto close_child;
	}
	cfg.hdr = cf.im.h;
	memcpy(cfg.hdr.parent_id, pf.im.h.parent_id, SNAPIMG_ID_LEN);
	memcpy(cfg.hdr.parent_content_id, pf.im.h.parent_content_id, SNAPIMG_ID_LEN);
	cfg.hdr.flags = pf.im.h.flags & SNAPIMG_F_INCREMENTAL;
	slen = snapimg_scratch_len(cf.im.h.page_size);
	buf = malloc(SNAPIMG_MAX_CHUNK_PAGES * (size_t)cf.im.h.page_size);
	scratch = malloc(slen);
	if (!buf || !scratch) {
		snprintf(why, why_len, "out of memory");
		goto free_bufs;
	}
	w = snapw_start(&cfg, why, why_len);
	if (!w)
		goto free_bufs;
	for (uint64_t p = 0; p < cf.im.h.page_count;) {
		enum snapimg_page cs = snapimg_map_get(cf.im.map, p);
		struct snapfile *from = cs == SNAPIMG_ABSENT ? &pf : &cf;
		enum snapimg_page s = snapimg_map_get(from->im.map, p);
		uint64_t q = p + 1;

		/* a run of pages that come from the same image in the same state */
		while (q < cf.im.h.page_count && snapimg_map_get(cf.im.map, q) == cs &&
		       snapimg_map_get(from->im.map, q) == s && q - p < SNAPIMG_MAX_CHUNK_PAGES)
			q++;
		if (s == SNAPIMG_PRESENT) {
			int r = copy_run(w, from, p, q - p, buf, scratch, slen, why, why_len);

			if (r == -2)
				goto writer_failed;
			if (r)
				goto free_writer;
		} else if (s == SNAPIMG_ZERO) {
			while (snapw_zero(w, p, q - p)) {
				if (snapw_done(w))
					goto writer_failed;
				wait_space(w);
			}
		}
		p = q;
	}
	while (snapw_finish(w, cf.im.h.quiesced, cf.im.h.created_ms))
		wait_space(w);
	while (!snapw_done(w)) {
		struct pollfd pfd = { .fd = snapw_done_fd(w), .events = POLLIN };

		poll(&pfd, 1, 1000);
	}
writer_failed:
	ret = snapw_result(w, out, inner, sizeof(inner));
	if (ret)
		snprintf(why, why_len, "%s", inner);
free_writer:
	snapw_free(w);
free_bufs:
	free(buf);
	free(scratch);
close_child:
	snapfile_close(&cf);
close_parent:
	snapfile_close(&pf);
	return ret;
}

/*
 * The chain as one flat memory image (zero pages left as holes), every
 * page checked before it is written: the restore session then serves it
 * like any other image.  Newest image first per page: absent falls through.
 */
int snapfile_flatten(char *const *chain, unsigned n_chain, const char *out, uint64_t *pages_out,
		     char *detail, size_t detail_len)
{
	struct snapfile *f = calloc(n_chain, sizeof(*f));
	uint64_t *done = NULL;
	uint8_t *buf = NULL, *scratch = NULL;
	char tmp[PATH_MAX], why[512];
	unsigned opened = 0;
	int fd = -1, ret = -1, err = EINVAL;
	uint64_t pages = 0;
	uint32_t ps = 0;
	size_t slen;

	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if (!f) {
		snprintf(detail, detail_len, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	for (; opened < n_chain; opened++) {
		if (snapfile_open(&f[opened], chain[opened], detail, detail_len))
			goto close_files;
		if (opened == 0 && (f[0].im.h.flags & SNAPIMG_F_INCREMENTAL)) {
			snprintf(detail, detail_len, "%.300s is incremental: a chain starts with a"
				 " full image", chain[0]);
			opened++;
			goto close_files;
		}
		if (opened && snapimg_check_parent(&f[opened].im, &f[opened - 1].im, why, sizeof(why))) {
			snprintf(detail, detail_len, "%.200s: %.500s", chain[opened], why);
			opened++;
			goto close_files;
		}
	}
	pages = f[0].im.h.page_count;
	ps = f[0].im.h.page_size;
	*pages_out = pages;
	slen = snapimg_scratch_len(ps);
	done = calloc((pages + 63) / 64, sizeof(uint64_t));
	buf = malloc((size_t)SNAPIMG_MAX_CHUNK_PAGES * ps);
	scratch = malloc(slen);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (!done || !buf || !scratch || fd < 0 || ftruncate(fd, (off_t)(pages * ps))) {
		err = errno == ENOSPC ? ENOSPC : EIO;
		snprintf(detail, detail_len, "preparing %.300s: %s", tmp, strerror(errno));
		goto free_bufs;
	}
	for (unsigned k = n_chain; k-- > 0;) {
		const struct snapimg *im = &f[k].im;

		for (uint64_t ci = 0; ci < im->h.chunk_count; ci++) {
			const struct snapimg_chunk *c = &im->chunks[ci];
			bool need = false;

			for (uint64_t p = c->first_page; p < c->first_page + c->n_pages && !need; p++)
				need = !(done[p / 64] >> (p % 64) & 1);
			if (!need)
				continue;
			if (snapimg_read_chunk(im, &f[k].src, ci, buf, scratch, slen, why, sizeof(why))) {
				snprintf(detail, detail_len, "%.200s: %.500s", chain[k], why);
				goto free_bufs;
			}
			for (uint64_t p = c->first_page; p < c->first_page + c->n_pages; p++) {
				const uint8_t *src = buf + (p - c->first_page) * ps;

				if (done[p / 64] >> (p % 64) & 1)
					continue;
				if (pwrite(fd, src, ps, (off_t)(p * ps)) != (ssize_t)ps) {
					err = errno == ENOSPC ? ENOSPC : EIO;
					snprintf(detail, detail_len, "writing %.300s: %s", tmp,
						 strerror(errno ? errno : EIO));
					goto free_bufs;
				}
			}
		}
		/* everything this image decides (present or zero) is settled for older ones */
		for (uint64_t p = 0; p < pages; p++) {
			if (snapimg_map_get(im->map, p) != SNAPIMG_ABSENT)
				done[p / 64] |= UINT64_C(1) << (p % 64);
		}
	}
	if (fsync(fd) || rename(tmp, out)) {
		err = errno == ENOSPC ? ENOSPC : EIO;
		snprintf(detail, detail_len, "completing %.300s: %s", out, strerror(errno));
		goto free_bufs;
	}
	ret = 0;
free_bufs:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	free(done);
	free(buf);
	free(scratch);
close_files:
	for (unsigned i = 0; i < opened; i++)
		snapfile_close(&f[i]);
	free(f);
	if (ret)
		errno = err;
	return ret;
}
