/*
 * The migration source's record of what the destination was sent: per
 * page, a fingerprint (XXH3-128) of the bytes that last went out for it on
 * the main channel during precopy, so that a page written again with the
 * same bytes is not sent again (the "skip_unchanged" option, PROTOCOL.md
 * §1.9 and §3.4).  Owned by the job's senders (mig_src.c), each on the
 * pages it sends; no locking: the job thread maps the table before a pass
 * that several senders share.
 *
 * A fingerprint only says what was sent: whether the destination still
 * has it staged is the caller's to judge (mig_src_conn.c forgets the
 * pages of frames the destination did not process when it reconnects).
 *
 * The table (16 bytes a page, 8 MiB for 2 GiB) is mapped on the first
 * fingerprint recorded, MAP_NORESERVE: a job that never records one costs
 * nothing.  The fingerprints are seeded with random bytes per job, so that
 * a workload cannot prepare two page contents with equal fingerprints
 * without knowing the seed (XXH3 is not collision resistant; see §1.9).
 */
#ifndef FAULTLINE_MIG_SENT_H
#define FAULTLINE_MIG_SENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mig_sent_fp {
	uint64_t lo, hi; /* both 0: nothing recorded */
};

struct mig_sent {
	bool on;                  /* the job skips unchanged pages */
	uint64_t n_pages;
	uint32_t page_size;
	uint64_t seed;
	struct mig_sent_fp zero;  /* a page of zero bytes */
	struct mig_sent_fp *fp;   /* NULL until the first record */
	size_t map_len;
	bool inject_same;         /* test builds: every recorded page compares the same */
	bool inject_keep;         /* test builds: nothing is ever forgotten */
};

/* on: false makes every other call a no-op (and mig_sent_same() false). */
int mig_sent_init(struct mig_sent *t, bool on, uint64_t n_pages, uint32_t page_size);
void mig_sent_fini(struct mig_sent *t);
/* The fingerprint of one page's bytes. */
void mig_sent_print(const struct mig_sent *t, const void *page, struct mig_sent_fp *out);
/* Whether page was recorded with fingerprint fp. */
bool mig_sent_same(const struct mig_sent *t, uint64_t page, const struct mig_sent_fp *fp);
/* Whether anything is recorded for page. */
bool mig_sent_known(const struct mig_sent *t, uint64_t page);
/* The table, mapped now if it is not (several senders are about to record). */
void mig_sent_map(struct mig_sent *t);
/* page went out with these bytes; a table that cannot be mapped records nothing (never skips). */
void mig_sent_note(struct mig_sent *t, uint64_t page, const struct mig_sent_fp *fp);
void mig_sent_forget(struct mig_sent *t, uint64_t page);
void mig_sent_forget_all(struct mig_sent *t);

#endif /* FAULTLINE_MIG_SENT_H */
