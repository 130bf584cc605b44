/*
 * Memory images served by restore sessions: checked against the allowed
 * directories, opened once, mapped read-only and shared by every region
 * that restores from them (the mapping is the UFFDIO_COPY source).
 */
#ifndef FAULTLINE_IMAGE_H
#define FAULTLINE_IMAGE_H

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
};

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
bool image_zero(const struct image *im, uint64_t off, size_t len);

#endif /* FAULTLINE_IMAGE_H */
