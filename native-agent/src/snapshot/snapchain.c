/*
 * Snapshot chains served as restore images; see snapchain.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "snapchain.h"
#include "snapfile.h"

struct file_ident {
	uint64_t size, mtime_ns, ino, dev;
};

struct snapchain {
	struct snapfile *f;
	struct file_ident *ident;
	unsigned n;
	uint64_t pages;
	uint32_t ps;
	uint16_t *src;  /* per page: 0 zero, k + 1 held by image k */
	uint8_t *zeros; /* one page */
	uint64_t gen;   /* tells this chain's pages apart in a thread's cache */
};

/*
 * What one thread read last: pages [first, first + n) of image k of the
 * chain gen.  The engine asks for a fault-around window, then for the rest
 * of it; a compressed chunk is decompressed once for all of them.
 */
struct chain_cache {
	uint64_t gen;
	unsigned k;
	uint64_t first, n;
	uint8_t *buf, *scratch;
	size_t cap, scap;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t next_gen = 1;

static void cache_free(void *p)
{
	struct chain_cache *c = p;

	free(c->buf);
	free(c->scratch);
	free(c);
}

static void cache_key_make(void)
{
	if (pthread_key_create(&cache_key, cache_free))
		abort(); /* only when the process is out of keys at start */
}

/* This thread's cache with room for len bytes of pages and slen of scratch; NULL: no memory. */
static struct chain_cache *cache_get(size_t len, size_t slen)
{
	struct chain_cache *c;

	pthread_once(&cache_once, cache_key_make);
	c = pthread_getspecific(cache_key);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || pthread_setspecific(cache_key, c)) {
			free(c);
			return NULL;
		}
	}
	if (c->cap < len) {
		uint8_t *b = realloc(c->buf, len);

		if (!b)
			return NULL;
		c->buf = b;
		c->cap = len;
	}
	if (c->scap < slen) {
		uint8_t *b = realloc(c->scratch, slen);

		if (!b)
			return NULL;
		c->scratch = b;
		c->scap = slen;
	}
	return c;
}

static int read_at(struct snapfile *f, uint64_t off, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(f->fd, buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/*
 * Pages from p of image k (at most want, all in one chunk) into the cache:
 * an uncompressed chunk's pages are read alone, a compressed chunk whole.
 * Every page is checked against its sum.  0, or -1 with the image marked.
 */
static int load(struct image *im, struct snapchain *ch, unsigned k, uint64_t p, uint64_t want,
		struct chain_cache **out)
{
	struct snapfile *f = &ch->f[k];
	const struct snapimg *si = &f->im;
	int64_t ci = snapimg_find(si, p);
	const struct snapimg_chunk *c;
	struct chain_cache *cc;
	char why[256];
	size_t bytes;

	if (ci < 0) {
		image_mark_changed(im, "page %llu is in no chunk of %.80s", (unsigned long long)p,
				   f->path);
		return -1;
	}
	c = &si->chunks[ci];
	bytes = (size_t)c->n_pages * ch->ps;
	if (c->stored_len != bytes) {
		/* compressed (snapw stores raw whatever does not shrink): the whole chunk */
		cc = cache_get(bytes, snapimg_scratch_len(ch->ps));
		if (!cc) {
			image_mark_changed(im, "out of memory reading %.80s", f->path);
			return -1;
		}
		cc->gen = 0; /* half-filled until checked */
		if (snapimg_read_chunk(si, &f->src, (uint64_t)ci, cc->buf, cc->scratch, cc->scap, why,
				       sizeof(why))) {
			image_mark_changed(im, "%.70s (%.80s)", why, f->path);
			return -1;
		}
		cc->first = c->first_page;
		cc->n = c->n_pages;
	} else {
		uint64_t n = c->first_page + c->n_pages - p;

		if (n > want)
			n = want;
		cc = cache_get((size_t)n * ch->ps, 0);
		if (!cc) {
			image_mark_changed(im, "out of memory reading %.80s", f->path);
			return -1;
		}
		cc->gen = 0;
		if (read_at(f, c->offset + SNAPIMG_CHUNK_HDR_LEN + (p - c->first_page) * ch->ps, cc->buf,
			    (size_t)n * ch->ps)) {
			image_mark_changed(im, "cannot read page %llu: %s (%.80s)", (unsigned long long)p,
					   strerror(errno), f->path);
			return -1;
		}
		for (uint64_t i = 0; i < n; i++) {
			if (snapimg_hash(cc->buf + i * ch->ps, ch->ps) != si->sums[p + i]) {
				image_mark_changed(im, "checksum mismatch at page %llu (%.80s)",
						   (unsigned long long)(p + i), f->path);
				return -1;
			}
		}
		cc->first = p;
		cc->n = n;
	}
	cc->k = k;
	cc->gen = ch->gen;
	*out = cc;
	return 0;
}

static const uint8_t *chain_bytes(struct image *im, uint64_t off, size_t len, size_t *avail)
{
	struct snapchain *ch = im->ctx;
	uint64_t p = off / ch->ps, o = off % ch->ps, q;
	uint64_t want = (o + len + ch->ps - 1) / ch->ps;
	struct chain_cache *cc;
	uint16_t v;

	if (atomic_load(&im->changed) || p >= ch->pages || !len)
		return NULL;
	v = ch->src[p];
	/* the run of pages from p decided by the same image (or all zero) */
	for (q = p + 1; q < ch->pages && q - p < want && ch->src[q] == v; q++)
		;
	if (!v) {
		*avail = (size_t)(ch->ps - o) < len ? (size_t)(ch->ps - o) : len;
		return ch->zeros + o;
	}
	pthread_once(&cache_once, cache_key_make);
	cc = pthread_getspecific(cache_key);
	if (!cc || cc->gen != ch->gen || cc->k != (unsigned)(v - 1) || p < cc->first ||
	    p >= cc->first + cc->n) {
		if (load(im, ch, v - 1u, p, q - p, &cc))
			return NULL;
	}
	if (q > cc->first + cc->n)
		q = cc->first + cc->n;
	*avail = (size_t)((q - p) * ch->ps - o);
	if (*avail > len)
		*avail = len;
	return cc->buf + (p - cc->first) * ch->ps + o;
}

static bool chain_zero(struct image *im, uint64_t off, size_t len)
{
	struct snapchain *ch = im->ctx;

	for (uint64_t p = off / ch->ps; p < ch->pages && p * ch->ps < off + len; p++) {
		if (ch->src[p])
			return false;
	}
	return true;
}

static void chain_check(struct image *im)
{
	struct snapchain *ch = im->ctx;
	struct stat st;

	for (unsigned k = 0; k < ch->n; k++) {
		const struct file_ident *id = &ch->ident[k];

		if (fstat(ch->f[k].fd, &st)) {
			image_mark_changed(im, "cannot stat it: %s (%.80s)", strerror(errno), ch->f[k].path);
			return;
		}
		if ((uint64_t)st.st_size != id->size || (uint64_t)st.st_ino != id->ino ||
		    (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec !=
			    id->mtime_ns) {
			image_mark_changed(im, "written to or cut short: %.80s", ch->f[k].path);
			return;
		}
	}
}

static void chain_free(struct snapchain *ch)
{
	for (unsigned k = 0; k < ch->n; k++)
		snapfile_close(&ch->f[k]);
	free(ch->f);
	free(ch->ident);
	free(ch->src);
	free(ch->zeros);
	free(ch);
}

/* image_put() frees the image itself */
static void chain_close(struct image *im)
{
	chain_free(im->ctx);
}

static const struct image_ops chain_ops = {
	.bytes = chain_bytes,
	.zero = chain_zero,
	.check = chain_check,
	.close = chain_close,
};

/* Opens path as the next image of ch (its identity noted); -1 with why. */
static int add(struct snapchain *ch, const char *path, char *why, size_t why_len)
{
	struct snapfile *f = &ch->f[ch->n];
	struct stat st;

	if (snapfile_open(f, path, why, why_len))
		return -1;
	if (fstat(f->fd, &st)) {
		snprintf(why, why_len, "%.300s: %s", path, strerror(errno));
		snapfile_close(f);
		return -1;
	}
	ch->ident[ch->n++] = (struct file_ident){ .size = (uint64_t)st.st_size,
						  .mtime_ns = f->mtime_ns,
						  .ino = (uint64_t)st.st_ino,
						  .dev = (uint64_t)st.st_dev };
	return 0;
}

/* Every path a link on the one before it, the first a full image (a new session). */
static int open_strict(struct snapchain *ch, char *const *chain, unsigned n_chain, char *why,
		       size_t why_len)
{
	char inner[512];

	for (unsigned k = 0; k < n_chain; k++) {
		if (add(ch, chain[k], why, why_len))
			return -1;
		if (k == 0 && (ch->f[0].im.h.flags & SNAPIMG_F_INCREMENTAL)) {
			snprintf(why, why_len, "%.300s is incremental: a chain starts with a full image",
				 chain[0]);
			return -1;
		}
		if (k && snapimg_check_parent(&ch->f[k].im, &ch->f[k - 1].im, inner, sizeof(inner))) {
			snprintf(why, why_len, "%.200s: %.500s", chain[k], inner);
			return -1;
		}
	}
	return 0;
}

/*
 * The images the newest one needs, found among the paths of a session's
 * chain (a restarted agent): from the newest, each parent is the nearest
 * older path whose snapshot id is the one the image was based on, up to a
 * full image.  A consolidation since the session began (a child rewritten
 * to stand on its grandparent, or alone) or the deletion of an image no
 * longer needed leaves the same memory, which is served; a missing link
 * is an error.  Opened newest first, then put oldest first.
 */
static int open_linked(struct snapchain *ch, char *const *chain, unsigned n_chain, char *why,
		       size_t why_len)
{
	char inner[512], id[37];
	int k = (int)n_chain - 1;

	if (add(ch, chain[k], why, why_len))
		return -1;
	while (ch->f[ch->n - 1].im.h.flags & SNAPIMG_F_INCREMENTAL) {
		const struct snapimg *cur = &ch->f[ch->n - 1].im;
		bool found = false;

		for (k--; k >= 0 && !found; k--) {
			if (add(ch, chain[k], inner, sizeof(inner)))
				continue; /* gone, or not an image any more: not a link */
			if (memcmp(ch->f[ch->n - 1].im.h.snapshot_id, cur->h.parent_id, SNAPIMG_ID_LEN)) {
				snapfile_close(&ch->f[--ch->n]);
				continue;
			}
			if (snapimg_check_parent(cur, &ch->f[ch->n - 1].im, inner, sizeof(inner))) {
				snprintf(why, why_len, "%.200s: %.500s", chain[k], inner);
				return -1;
			}
			found = true;
		}
		k++;
		if (!found) {
			snapimg_id_str(cur->h.parent_id, id);
			snprintf(why, why_len, "%.200s: its parent, snapshot %s, is in none of the older"
				 " images of the chain", ch->f[ch->n - 1].path, id);
			return -1;
		}
	}
	for (unsigned a = 0, b = ch->n - 1; a < b; a++, b--) {
		struct snapfile tf = ch->f[a];
		struct file_ident ti = ch->ident[a];

		ch->f[a] = ch->f[b];
		ch->f[b] = tf;
		ch->ident[a] = ch->ident[b];
		ch->ident[b] = ti;
	}
	return 0;
}

static int open_chain(char *const *chain, unsigned n_chain, bool linked, struct image **out,
		      char *why, size_t why_len)
{
	struct snapchain *ch = calloc(1, sizeof(*ch));
	const struct snapimg_hdr *newest;
	uint64_t mtime = 0;

	*out = NULL;
	if (!ch || !n_chain || !(ch->f = calloc(n_chain, sizeof(*ch->f))) ||
	    !(ch->ident = calloc(n_chain, sizeof(*ch->ident)))) {
		if (ch)
			free(ch->f);
		free(ch);
		snprintf(why, why_len, n_chain ? "out of memory" : "an empty chain");
		return -1;
	}
	if (linked ? open_linked(ch, chain, n_chain, why, why_len)
		   : open_strict(ch, chain, n_chain, why, why_len))
		goto fail;
	ch->pages = ch->f[0].im.h.page_count;
	ch->ps = ch->f[0].im.h.page_size;
	ch->src = calloc(ch->pages ? ch->pages : 1, sizeof(*ch->src));
	ch->zeros = calloc(1, ch->ps);
	if (!ch->src || !ch->zeros) {
		snprintf(why, why_len, "out of memory for the page map of %llu pages",
			 (unsigned long long)ch->pages);
		goto fail;
	}
	/* oldest first: a newer image that decides a page (zero or present) overrides */
	for (unsigned k = 0; k < ch->n; k++) {
		const uint8_t *map = ch->f[k].im.map;

		if (ch->f[k].mtime_ns > mtime)
			mtime = ch->f[k].mtime_ns;
		for (uint64_t p = 0; p < ch->pages; p++) {
			enum snapimg_page st = snapimg_map_get(map, p);

			if (st == SNAPIMG_PRESENT)
				ch->src[p] = (uint16_t)(k + 1);
			else if (st == SNAPIMG_ZERO)
				ch->src[p] = 0;
		}
	}
	ch->gen = atomic_fetch_add(&next_gen, 1);
	newest = &ch->f[ch->n - 1].im.h;
	*out = image_new(&chain_ops, ch, ch->f[ch->n - 1].path, ch->pages * ch->ps, mtime,
			 ch->ident[ch->n - 1].ino, ch->ident[ch->n - 1].dev);
	if (!*out) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	/* what a restarted agent compares: the memory, whatever consolidation did to the files */
	memcpy((*out)->content_id, newest->content_id, sizeof((*out)->content_id));
	return 0;
fail:
	chain_free(ch);
	return -1;
}

int snapchain_open(char *const *chain, unsigned n_chain, struct image **out, char *why,
		   size_t why_len)
{
	return open_chain(chain, n_chain, false, out, why, why_len);
}

int snapchain_reopen(char *const *chain, unsigned n_chain, struct image **out, char *why,
		     size_t why_len)
{
	return open_chain(chain, n_chain, true, out, why, why_len);
}

int snapchain_verify(struct image *im, char *why, size_t why_len)
{
	struct snapchain *ch = im->ctx;
	char inner[512];

	for (unsigned k = 0; k < ch->n; k++) {
		if (snapimg_verify(&ch->f[k].im, &ch->f[k].src, inner, sizeof(inner))) {
			snprintf(why, why_len, "%.200s: %.500s", ch->f[k].path, inner);
			return -1;
		}
	}
	return 0;
}
