/*
 * Fingerprints of the pages a migration source sent (mig_sent.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "mig_sent.h"

#ifdef FAULTLINE_FAULT_INJECTION
/*
 * Test builds only (build/faultline-agent-inject), so that tests/test_mig_unchanged.c
 * can show that its byte comparison catches each: FAULTLINE_INJECT=
 * unchanged-always takes every page with a fingerprint for unchanged;
 * unchanged-keep never forgets a fingerprint (a reconnect keeps those of
 * frames the destination never processed).
 */
static bool inject(const char *what)
{
	const char *v = getenv("FAULTLINE_INJECT");

	return v && !strcmp(v, what);
}
#else
static bool inject(const char *what)
{
	(void)what;
	return false;
}
#endif

static bool fp_none(const struct mig_sent_fp *fp)
{
	return !fp->lo && !fp->hi;
}

int mig_sent_init(struct mig_sent *t, bool on, uint64_t n_pages, uint32_t page_size)
{
	uint8_t *zeros;
	size_t got = 0;

	memset(t, 0, sizeof(*t));
	t->n_pages = n_pages;
	t->page_size = page_size;
	if (!on)
		return 0;
	while (got < sizeof(t->seed)) {
		ssize_t n = getrandom((uint8_t *)&t->seed + got, sizeof(t->seed) - got, 0);

		if (n < 0 && errno != EINTR)
			return -1;
		got += n > 0 ? (size_t)n : 0;
	}
	zeros = calloc(1, page_size);
	if (!zeros)
		return -1;
	mig_sent_print(t, zeros, &t->zero);
	free(zeros);
	t->inject_same = inject("unchanged-always");
	t->inject_keep = inject("unchanged-keep");
	t->on = true;
	return 0;
}

void mig_sent_fini(struct mig_sent *t)
{
	if (t->fp)
		munmap(t->fp, t->map_len);
	t->fp = NULL;
	t->on = false;
}

void mig_sent_print(const struct mig_sent *t, const void *page, struct mig_sent_fp *out)
{
	XXH128_hash_t h = XXH3_128bits_withSeed(page, t->page_size, t->seed);

	out->lo = h.low64;
	out->hi = h.high64;
}

bool mig_sent_known(const struct mig_sent *t, uint64_t page)
{
	return t->on && t->fp && page < t->n_pages && !fp_none(&t->fp[page]);
}

bool mig_sent_same(const struct mig_sent *t, uint64_t page, const struct mig_sent_fp *fp)
{
	if (!mig_sent_known(t, page))
		return false;
	if (t->inject_same)
		return true;
	/* a content whose fingerprint is all zero bytes is never recorded, so never the same */
	return t->fp[page].lo == fp->lo && t->fp[page].hi == fp->hi;
}

void mig_sent_map(struct mig_sent *t)
{
	void *p;

	if (!t->on || t->fp)
		return;
	t->map_len = (size_t)t->n_pages * sizeof(*t->fp);
	p = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		t->on = false; /* no table: every page is sent, as without the option */
	else
		t->fp = p;
}

void mig_sent_note(struct mig_sent *t, uint64_t page, const struct mig_sent_fp *fp)
{
	if (!t->on || page >= t->n_pages)
		return;
	mig_sent_map(t);
	if (t->fp)
		t->fp[page] = *fp; /* all zero bytes: the same as nothing recorded */
}

void mig_sent_forget(struct mig_sent *t, uint64_t page)
{
	if (t->fp && page < t->n_pages && !t->inject_keep)
		t->fp[page] = (struct mig_sent_fp){ 0 };
}

void mig_sent_forget_all(struct mig_sent *t)
{
	/* the pages go back to the kernel and read as zero: nothing recorded */
	if (t->fp && !t->inject_keep && madvise(t->fp, t->map_len, MADV_DONTNEED))
		memset(t->fp, 0, t->map_len);
}
