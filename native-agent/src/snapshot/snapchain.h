/*
 * A snapshot chain (a full image and the incrementals on it, oldest first)
 * served as one restore image, straight from its files: no flattened copy
 * is written first, so a restore of a chain starts as soon as the headers
 * and metadata of its images are checked.
 *
 * Each page is read from the newest image that holds it (absent falls
 * through to the parent; zero in any image is zero).  A page is checked
 * against its XXH3 sum before it is handed out: a page that does not match
 * (or a file changed since it was opened) marks the image changed, and the
 * engine fails the regions that restore from it rather than install a
 * wrong byte (image.h).  Uncompressed chunks are read page by page, as the
 * engine asks; a compressed chunk is decompressed whole and kept for the
 * next request of the same thread.
 */
#ifndef FAULTLINE_SNAPCHAIN_H
#define FAULTLINE_SNAPCHAIN_H

#include <stddef.h>

struct image;

/*
 * Opens and checks the chain: the full image first, each path a link on the
 * one before it.  Blocking file I/O (a job thread).  One reference.
 */
int snapchain_open(char *const *chain, unsigned n_chain, struct image **out, char *why,
		   size_t why_len);
/*
 * The same chain for a restarted agent: the images the newest one needs,
 * found among the paths by their snapshot ids, so that a consolidation or
 * the deletion of a link no longer needed since the session began does not
 * stop it; the image's content_id is the newest image's (restore.c
 * compares it with the one recorded).  At start-up, before clients.
 */
int snapchain_reopen(char *const *chain, unsigned n_chain, struct image **out, char *why,
		     size_t why_len);
/* Every page of every image of the chain read and checked (for "verify": true). */
int snapchain_verify(struct image *im, char *why, size_t why_len);

#endif /* FAULTLINE_SNAPCHAIN_H */
