/*
 * libfaultline: the uffds themselves; see fluffd.h.
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
 * EXACT_ADDRESS, POISON, MOVE (no behaviour needed yet; asking is free
 * later, but each changes what the agent may do).
 *
 * FL_MODE_WP makes two uffds (PROTOCOL.md §2.1, docs/snapshots.md):
 *   - the *track* uffd, on which the range is registered: WP_ASYNC, so a
 *     write to a protected page is resolved by the kernel without waiting
 *     for anyone (the page is only marked written, for PAGEMAP_SCAN);
 *   - the *hold* uffd, with synchronous write protection and no range: the
 *     agent moves the range onto it when a writer must wait for it (a live
 *     snapshot's copy-on-write, a migration's switchover).
 * WP_ASYNC is a property of a whole uffd and a VMA belongs to one uffd at
 * a time, hence two.  Both need WP_UNPOPULATED (protection of never
 * touched pages without populating them).  A kernel without WP_ASYNC or
 * WP_UNPOPULATED gets the single synchronous uffd of earlier versions
 * (its regions cannot be snapshotted; the agent says so).
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
#define WP_BITS (UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED | \
		 UFFD_FEATURE_WP_HUGETLBFS_SHMEM)
#define TWO_UFFDS (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)

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
		f |= WP_BITS;
	if (modes & FL_MODE_MINOR)
		f |= UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS;
	if (fork && !strcmp(fork, "1"))
		f |= UFFD_FEATURE_EVENT_FORK;
	return f;
}

/* A uffd with these features; non-blocking: the agent reads it, and the flag
 * lives in the shared file. */
static int new_uffd(uint64_t features, uint64_t *granted, char *why, size_t why_len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = open_uffd(O_CLOEXEC | O_NONBLOCK), err;

	if (fd < 0) {
		err = errno;
		snprintf(why, why_len, "cannot create a userfaultfd: %s", strerror(err));
		errno = err;
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = errno;
		snprintf(why, why_len, "UFFDIO_API: %s", strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	/* UFFDIO_API answers with everything the kernel has; what this uffd has
	 * is what was asked for (the ioctl fails when any of it is missing) */
	*granted = features;
	return fd;
}

int flu_create(unsigned modes, void *addr, size_t len, struct flu_uffds *out, char *why,
	       size_t why_len)
{
	struct uffdio_register reg = { .range = { .start = (uintptr_t)addr, .len = len } };
	uint64_t have, want;
	bool two;
	int err;

	out->fd = out->hold_fd = -1;
	out->features = out->hold_features = out->ioctls = 0;
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
	want = wanted(modes) & have;
	two = (modes & FL_MODE_WP) && (have & TWO_UFFDS) == TWO_UFFDS;
	out->fd = new_uffd(two ? want | UFFD_FEATURE_WP_ASYNC : want, &out->features, why, why_len);
	if (out->fd < 0)
		return -1;
	if (two && (out->hold_fd = new_uffd(want, &out->hold_features, why, why_len)) < 0)
		goto close_fds;
	if (modes & FL_MODE_MISSING)
		reg.mode |= UFFDIO_REGISTER_MODE_MISSING;
	if (modes & FL_MODE_WP)
		reg.mode |= UFFDIO_REGISTER_MODE_WP;
	if (modes & FL_MODE_MINOR)
		reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(out->fd, UFFDIO_REGISTER, &reg)) {
		snprintf(why, why_len, "UFFDIO_REGISTER: %s", strerror(errno));
		goto close_fds;
	}
	out->ioctls = reg.ioctls;
	return 0;

close_fds:
	err = errno;
	if (out->hold_fd >= 0)
		close(out->hold_fd);
	close(out->fd);
	out->fd = out->hold_fd = -1;
	errno = err;
	return -1;
}

/*
 * Unregisters the range from whichever uffd holds it (the agent may have
 * moved it to the hold uffd; the other answers EBUSY or nothing), wakes
 * write faults waiting on the hold uffd (unregistering does not wake them)
 * and closes both.
 */
void flu_close(struct flu_uffds *u, void *addr, size_t len)
{
	struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

	if (u->hold_fd >= 0) {
		ioctl(u->hold_fd, UFFDIO_UNREGISTER, &range);
		ioctl(u->hold_fd, UFFDIO_WAKE, &range);
		close(u->hold_fd);
	}
	if (u->fd >= 0) {
		ioctl(u->fd, UFFDIO_UNREGISTER, &range);
		close(u->fd);
	}
	u->fd = u->hold_fd = -1;
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
