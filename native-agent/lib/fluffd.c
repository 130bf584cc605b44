/*
 * libfaultline: the uffd itself; see fluffd.h.
 *
 * Features asked for, and why (PROTOCOL.md §2.4):
 *   EVENT_REMOVE, EVENT_UNMAP, EVENT_REMAP  required: without them the agent
 *       cannot tell that MADV_DONTNEED'ed pages must read as zero, that a
 *       range is gone, or where it moved, and would serve wrong bytes;
 *   THREAD_ID  when granted: faults name their thread (diagnostics);
 *   MISSING_HUGETLBFS, MISSING_SHMEM  so hugetlbfs and shmem ranges can be
 *       registered for missing faults;
 *   PAGEFAULT_FLAG_WP (+ WP_UNPOPULATED, WP_HUGETLBFS_SHMEM)  for FL_MODE_WP;
 *   MINOR_SHMEM, MINOR_HUGETLBFS  for FL_MODE_MINOR;
 *   EVENT_FORK  only with $FAULTLINE_FOLLOW_FORK=1: it makes fork() wait
 *       for the agent, which is wrong for most programs.
 * Not asked for: SIGBUS (faults must wait for the agent, never kill),
 * WP_ASYNC (changes what a write-protect fault is; a snapshot design
 * chooses it explicitly), EXACT_ADDRESS, POISON, MOVE (no behaviour needed
 * yet; asking is free later, but each changes what the agent may do).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "faultline.h"
#include "fluffd.h"
#include "uffd_compat.h"

#define REQUIRED (UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP)

/* /dev/userfaultfd, else the syscall, else the syscall for user-mode faults only. */
static int open_uffd(int flags)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), fd = -1;

	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		close(dev);
	}
	if (fd < 0)
		fd = (int)syscall(__NR_userfaultfd, flags);
	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(__NR_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	return fd;
}

/* What this kernel offers: UFFDIO_API with no features reports all of them. */
static int supported(uint64_t *out)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = open_uffd(O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = ioctl(fd, UFFDIO_API, &api);
	close(fd);
	*out = api.features;
	return ret;
}

static uint64_t wanted(unsigned modes)
{
	uint64_t f = REQUIRED | UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MISSING_HUGETLBFS |
		     UFFD_FEATURE_MISSING_SHMEM;
	const char *fork = getenv("FAULTLINE_FOLLOW_FORK");

	if (modes & FL_MODE_WP)
		f |= UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED |
		     UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	if (modes & FL_MODE_MINOR)
		f |= UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS;
	if (fork && !strcmp(fork, "1"))
		f |= UFFD_FEATURE_EVENT_FORK;
	return f;
}

int flu_create(unsigned modes, void *addr, size_t len, uint64_t *features, uint64_t *ioctls,
	       char *why, size_t why_len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .range = { .start = (uintptr_t)addr, .len = len } };
	uint64_t have;
	int fd, err;

	if (supported(&have)) {
		err = errno;
		snprintf(why, why_len, "userfaultfd unavailable: %s", strerror(err));
		errno = err;
		return -1;
	}
	if ((have & REQUIRED) != REQUIRED ||
	    ((modes & FL_MODE_WP) && !(have & UFFD_FEATURE_PAGEFAULT_FLAG_WP))) {
		snprintf(why, why_len, "the kernel lacks userfaultfd features the agent needs "
				       "(has 0x%llx)", (unsigned long long)have);
		errno = ENOTSUP;
		return -1;
	}
	/* non-blocking: the agent reads it, and the flag lives in the shared file */
	fd = open_uffd(O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = errno;
		snprintf(why, why_len, "cannot create a userfaultfd: %s", strerror(err));
		errno = err;
		return -1;
	}
	api.features = wanted(modes) & have;
	if (ioctl(fd, UFFDIO_API, &api)) {
		snprintf(why, why_len, "UFFDIO_API: %s", strerror(errno));
		goto close_fd;
	}
	if (modes & FL_MODE_MISSING)
		reg.mode |= UFFDIO_REGISTER_MODE_MISSING;
	if (modes & FL_MODE_WP)
		reg.mode |= UFFDIO_REGISTER_MODE_WP;
	if (modes & FL_MODE_MINOR)
		reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		snprintf(why, why_len, "UFFDIO_REGISTER: %s", strerror(errno));
		goto close_fd;
	}
	*features = api.features;
	*ioctls = reg.ioctls;
	return fd;

close_fd:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* KernelPageSize of the mapping holding addr (hugetlbfs: 2 MiB or 1 GiB). */
size_t flu_page_size(const void *addr)
{
	size_t psz = (size_t)sysconf(_SC_PAGESIZE), kb;
	uintptr_t a = (uintptr_t)addr;
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;

	if (!f)
		return psz;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %zu kB", &kb) == 1) {
			psz = kb * 1024;
			break;
		}
	}
	fclose(f);
	return psz;
}

/* "k=v,k2=v2" (NULL or "" for none) as a JSON object; NULL when malformed. */
json_t *flu_labels(const char *labels)
{
	json_t *o = json_object();
	char *copy, *save = NULL, *kv;

	if (!o || !labels || !*labels)
		return o;
	copy = strdup(labels);
	if (!copy)
		goto fail;
	for (kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq || eq == kv)
			goto free_copy;
		*eq = '\0';
		if (json_object_set_new(o, kv, json_string(eq + 1)))
			goto free_copy;
	}
	free(copy);
	return o;

free_copy:
	free(copy);
fail:
	json_decref(o);
	return NULL;
}
