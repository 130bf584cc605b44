/*
 * Memory images served by restore sessions: checked against the allowed
 * directories, opened once, mapped read-only and shared by every region
 * that restores from them (the UFFDIO_COPY source is an install's window,
 * read with pread (image_window), or else the mapping).
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

struct image;

/*
 * An image that is not one file's bytes (a snapshot chain read through its
 * images, snapshot/snapchain.h): the engine reads it through these.  Any
 * thread; what bytes() returns stays valid on the calling thread until its
 * next call of bytes() on any image.
 */
struct image_ops {
	/* at most len bytes at off, contiguous (*avail > 0); NULL once the image is changed */
	const uint8_t *(*bytes)(struct image *im, uint64_t off, size_t len, size_t *avail);
	bool (*zero)(struct image *im, uint64_t off, size_t len);
	/* compares the files with what was opened, image_mark_changed() if not */
	void (*check)(struct image *im);
	void (*close)(struct image *im);
};

struct image {
	int refs; /* loop thread only; workers use the image while a region holds a ref */
	const struct image_ops *ops; /* NULL: a file, mapped */
	void *ctx;                   /* the ops' own */
	char *path;
	int fd;
	uint64_t size;
	const uint8_t *map; /* a file's mapping; NULL with ops */
	uint64_t mtime_ns;
	uint64_t ino, dev;
	uint8_t content_id[16];       /* of the memory it holds when known (a snapshot's), else zero */
	_Atomic bool changed;         /* sticky: the file is not what was opened */
	_Atomic uint64_t checked_ns;  /* last fstat (CLOCK_MONOTONIC_COARSE) */
	char why[160];                /* set once, before changed */
	uint64_t serial;              /* a file's: names it in the threads' read windows (image_window) */
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
struct image *image_new(const struct image_ops *ops, void *ctx, const char *path, uint64_t size,
			uint64_t mtime_ns, uint64_t ino, uint64_t dev);
int image_window(struct image *im, uint64_t off, size_t len);
const uint8_t *image_bytes(struct image *im, uint64_t off, size_t len, size_t *avail);
int image_read(struct image *im, uint64_t off, void *buf, size_t len);
int image_readahead(struct image *im, uint64_t off, uint64_t len);
bool image_zero(struct image *im, uint64_t off, size_t len);
__attribute__((format(printf, 2, 3))) void image_mark_changed(struct image *im, const char *fmt, ...);
bool image_changed(struct image *im, bool force);
const char *image_change_why(struct image *im);

#endif /* FAULTLINE_IMAGE_H */
