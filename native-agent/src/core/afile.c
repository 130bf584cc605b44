/*
 * Atomic file replacement; see afile.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is durable only once the directory entry is; best effort. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

enum how { DURABLE, STAGED, CREATED };

static int replace(const char *path, const void *buf, size_t len, mode_t mode, enum how how)
{
	char tmp[PATH_MAX];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	if (write_all(fd, buf, len))
		goto close_tmp;
	if (how == CREATED) {
		/* named first: the file's fsync then commits the name with it, one journal commit */
		if (rename(tmp, path))
			goto close_tmp;
		snprintf(tmp, sizeof(tmp), "%s", path); /* what a failure below removes */
	}
	if (how != STAGED && fsync(fd))
		goto close_tmp;
	if (close(fd) || (how != CREATED && rename(tmp, path)))
		goto unlink_tmp;
	if (how != STAGED)
		sync_dir(path);
	return 0;

close_tmp:
	err = errno;
	close(fd);
	errno = err;
unlink_tmp:
	err = errno;
	unlink(tmp);
	errno = err;
	return -1;
}

int afile_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	return replace(path, buf, len, mode, DURABLE);
}

int afile_stage(const char *path, const void *buf, size_t len, mode_t mode)
{
	return replace(path, buf, len, mode, STAGED);
}

int afile_create(const char *path, const void *buf, size_t len, mode_t mode)
{
	return replace(path, buf, len, mode, CREATED);
}
