/*
 * Memory images served by restore sessions: checked against the allowed
 * directories, opened once, mapped read-only and shared by every region
 * that restores from them (the mapping is the UFFDIO_COPY source).
 *
 * A file changed under a running restore must fail its sessions, never be
 * served in part: the kernel's copy from a truncated mapping fails with
 * EFAULT, the agent's own reads of the mapping are guarded against SIGBUS
 * (a fault there marks the image changed instead of killing the agent),
 * and size, mtime and inode are compared with those at open before pages
 * are installed (at most every IMAGE_CHECK_MS; an in-place rewrite that
 * keeps all three is not seen: snapshot images carry per-page checksums).
 */
#ifndef FAULTLINE_IMAGE_H
#define FAULTLINE_IMAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct image {
	int refs; /* loop thread only; workers use the image while a region holds a ref */
	char *path;
	int fd;
	uint64_t size;
	const uint8_t *map;
	uint64_t mtime_ns;
	uint64_t ino, dev;
	_Atomic bool changed;         /* sticky: the file is not what was opened */
	_Atomic uint64_t checked_ns;  /* last fstat (CLOCK_MONOTONIC_COARSE) */
	char why[160];                /* set once, before changed */
};

#define IMAGE_CHECK_MS 10

enum image_err {
	IMAGE_OK,
	IMAGE_DENIED,  /* outside every allowed directory */
	IMAGE_INVALID, /* missing, unreadable, not a regular file, empty */
	IMAGE_INTERNAL,
};

enum image_err image_open(const char *path, char *const *dirs, unsigned n_dirs,
			  struct image **out, char *why, size_t why_len);
struct image *image_get(struct image *im);
void image_put(struct image *im);
bool image_zero(struct image *im, uint64_t off, size_t len);
bool image_changed(struct image *im, bool force);
const char *image_change_why(struct image *im);

#endif /* FAULTLINE_IMAGE_H */
