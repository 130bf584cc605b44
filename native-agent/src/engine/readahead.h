/*
 * Read-ahead of a working-set replay (PROTOCOL.md §1.8, `readahead_pages`):
 * before a replay installs its runs, the kernel is asked to read the image
 * pages of the next ones (posix_fadvise WILLNEED), many at once, so that a
 * cold image comes from the disk with a deep queue instead of one install
 * window at a time, each read waited for before the next is asked.  Only
 * advice: the installs still read the image themselves (pread), and find
 * the pages in the page cache or wait for their read to end; nothing is
 * installed from it.  Worker only.
 */
#ifndef FAULTLINE_READAHEAD_H
#define FAULTLINE_READAHEAD_H

struct region;

/* image bytes asked for ahead of a replay's installs, at most (the disk queue's depth) */
#define READAHEAD_AHEAD (32u << 20)
/* runs less than this apart are asked for as one (the gap is read with them) */
#define READAHEAD_GAP (32u << 10)
/* one request at most this long, so that the window above moves in steps */
#define READAHEAD_MAX (4u << 20)

void readahead_replay(struct region *r);

#endif /* FAULTLINE_READAHEAD_H */
