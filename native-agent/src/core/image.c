/*
 * Restore images.
 *
 * The path check resolves symlinks (realpath) and then verifies that the
 * descriptor actually opened is that resolved file, so that swapping a
 * component for a symlink between the check and the open cannot smuggle
 * a file from outside the allowed directories in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

static bool inside(const char *path, const char *dir)
{
	char real[PATH_MAX];
	size_t n;

	if (!realpath(dir, real))
		return false;
	n = strlen(real);
	if (n == 1) /* "/" allows everything */
		return true;
	return !strncmp(path, real, n) && path[n] == '/';
}

static bool opened_is(int fd, const char *path)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strcmp(target, path);
}

enum image_err image_open(const char *path, char *const *dirs, unsigned n_dirs,
			  struct image **out, char *why, size_t why_len)
{
	char real[PATH_MAX];
	struct image *im;
	struct stat st;
	bool allowed = false;
	void *map;
	int fd;

	*out = NULL;
	if (path[0] != '/') {
		snprintf(why, why_len, "image path must be absolute");
		return IMAGE_INVALID;
	}
	if (!realpath(path, real)) {
		snprintf(why, why_len, "image %s: %s", path, strerror(errno));
		/* do not tell what exists outside the allowed directories */
		for (unsigned i = 0; i < n_dirs && !allowed; i++)
			allowed = inside(path, dirs[i]);
		return allowed ? IMAGE_INVALID : IMAGE_DENIED;
	}
	for (unsigned i = 0; i < n_dirs && !allowed; i++)
		allowed = inside(real, dirs[i]);
	if (!allowed) {
		snprintf(why, why_len, "image %s is outside the allowed image directories", path);
		return IMAGE_DENIED;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open image %s: %s", real, strerror(errno));
		return IMAGE_INVALID;
	}
	if (!opened_is(fd, real)) {
		snprintf(why, why_len, "image %s changed while it was opened", real);
		goto close_fd;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		snprintf(why, why_len, "image %s is not a non-empty regular file", real);
		goto close_fd;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(why, why_len, "cannot map image %s: %s", real, strerror(errno));
		goto close_fd;
	}
	im = calloc(1, sizeof(*im));
	if (!im || !(im->path = strdup(real))) {
		free(im);
		munmap(map, (size_t)st.st_size);
		close(fd);
		snprintf(why, why_len, "out of memory");
		return IMAGE_INTERNAL;
	}
	im->refs = 1;
	im->fd = fd;
	im->size = (uint64_t)st.st_size;
	im->map = map;
	im->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	*out = im;
	return IMAGE_OK;

close_fd:
	close(fd);
	return IMAGE_INVALID;
}

struct image *image_get(struct image *im)
{
	im->refs++;
	return im;
}

void image_put(struct image *im)
{
	if (!im || --im->refs)
		return;
	munmap((void *)im->map, im->size);
	close(im->fd);
	free(im->path);
	free(im);
}

/*
 * All-zero test for a page about to be installed.  Data pages almost always
 * differ in their first word, so the common case costs one load; the page
 * is read into the cache anyway by the copy that follows.
 */
bool image_zero(const struct image *im, uint64_t off, size_t len)
{
	const uint8_t *p = im->map + off;
	uint64_t w;

	if (off >= im->size)
		return true;
	if (len > im->size - off)
		len = (size_t)(im->size - off);
	if (len < sizeof(w)) {
		for (size_t i = 0; i < len; i++) {
			if (p[i])
				return false;
		}
		return true;
	}
	memcpy(&w, p, sizeof(w));
	/* zero first word and every byte equal to the one 8 before it: all zero */
	return !w && !memcmp(p, p + sizeof(w), len - sizeof(w));
}
