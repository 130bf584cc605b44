/*
 * userfaultfd probing.
 *
 * The probe answers "what could a region on this host use?" once at start:
 * which features UFFDIO_API grants, which range ioctls UFFDIO_REGISTER hands
 * out for anonymous (MISSING|WP) and shmem (MINOR) memory, and whether
 * PAGEMAP_SCAN exists (the cheap way to find written pages for snapshots).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "uffd.h"

#define LOG_COMP "uffd"
#include "log.h"

static const char *const feature_names[] = {
	"pagefault_flag_wp",  /* 0 */
	"event_fork",         /* 1 */
	"event_remap",        /* 2 */
	"event_remove",       /* 3 */
	"missing_hugetlbfs",  /* 4 */
	"missing_shmem",      /* 5 */
	"event_unmap",        /* 6 */
	"sigbus",             /* 7 */
	"thread_id",          /* 8 */
	"minor_hugetlbfs",    /* 9 */
	"minor_shmem",        /* 10 */
	"exact_address",      /* 11 */
	"wp_hugetlbfs_shmem", /* 12 */
	"wp_unpopulated",     /* 13 */
	"poison",             /* 14 */
	"wp_async",           /* 15 */
	"move",               /* 16 */
};

/* Order of PROTOCOL.md's example: API ioctls first, then range ioctls. */
static const struct {
	unsigned bit;
	const char *name;
} ioctl_names[] = {
	{ _UFFDIO_REGISTER, "register" },
	{ _UFFDIO_UNREGISTER, "unregister" },
	{ _UFFDIO_API, "api" },
	{ _UFFDIO_WAKE, "wake" },
	{ _UFFDIO_COPY, "copy" },
	{ _UFFDIO_ZEROPAGE, "zeropage" },
	{ _UFFDIO_MOVE, "move" },
	{ _UFFDIO_WRITEPROTECT, "writeprotect" },
	{ _UFFDIO_CONTINUE, "continue" },
	{ _UFFDIO_POISON, "poison" },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Bits without a name here are still reported through feature_bits. */
unsigned uffd_feature_names(uint64_t features, const char **names, unsigned max)
{
	unsigned n = 0;

	for (unsigned bit = 0; bit < ARRAY_SIZE(feature_names) && n < max; bit++) {
		if (features & (UINT64_C(1) << bit))
			names[n++] = feature_names[bit];
	}
	return n;
}

unsigned uffd_ioctl_names(uint64_t ioctls, const char **names, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(ioctl_names) && n < max; i++) {
		if (ioctls & (UINT64_C(1) << ioctl_names[i].bit))
			names[n++] = ioctl_names[i].name;
	}
	return n;
}

const char *uffd_source_name(enum uffd_source source)
{
	switch (source) {
	case UFFD_SRC_DEV:
		return "dev_userfaultfd";
	case UFFD_SRC_SYSCALL:
		return "syscall";
	case UFFD_SRC_NONE:
		break;
	}
	return "none";
}

/*
 * /dev/userfaultfd first: its access is governed by the device node's mode
 * instead of vm.unprivileged_userfaultfd, and it reports kernel-mode faults
 * too.  The syscall is the fallback for kernels before 6.1 or hosts where the
 * node is missing; without privilege it only works for user-mode faults.
 */
int uffd_open(int flags, enum uffd_source *source, bool *user_mode_only,
	      char *why, size_t why_len)
{
	int dev, fd, dev_err;

	*source = UFFD_SRC_NONE;
	*user_mode_only = false;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		dev_err = errno;
		close(dev);
		if (fd >= 0) {
			*source = UFFD_SRC_DEV;
			return fd;
		}
	} else {
		dev_err = errno;
	}

	fd = (int)syscall(__NR_userfaultfd, flags);
	if (fd < 0 && errno == EPERM) {
		fd = (int)syscall(__NR_userfaultfd, flags | UFFD_USER_MODE_ONLY);
		if (fd >= 0)
			*user_mode_only = true;
	}
	if (fd >= 0) {
		*source = UFFD_SRC_SYSCALL;
		return fd;
	}
	if (why) {
		int sys_err = errno;

		snprintf(why, why_len, "/dev/userfaultfd: %s; userfaultfd(2): %s",
			 strerror(dev_err), strerror(sys_err));
		errno = sys_err;
	}
	return -1;
}

static int probe_register(struct log *lg, int uffd, void *addr, size_t len,
			  uint64_t mode, uint64_t *ioctls)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = mode,
	};
	struct uffdio_range range = reg.range;

	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		pr_debug(lg, "probe registration refused", LF_HEX("mode", mode),
			 LF_STR("err", strerror(errno)));
		return -1;
	}
	*ioctls |= reg.ioctls;
	if (ioctl(uffd, UFFDIO_UNREGISTER, &range))
		pr_pwarn(lg, "UFFDIO_UNREGISTER of probe mapping failed");
	return 0;
}

static void probe_anon(struct log *lg, int uffd, size_t psz, uint64_t *ioctls)
{
	void *p = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		pr_perror(lg, "mmap of anonymous probe mapping failed");
		return;
	}
	/* WP needs CONFIG_HAVE_ARCH_USERFAULTFD_WP; MISSING alone still tells us copy/zeropage */
	if (probe_register(lg, uffd, p, psz,
			   UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP, ioctls))
		probe_register(lg, uffd, p, psz, UFFDIO_REGISTER_MODE_MISSING, ioctls);
	munmap(p, psz);
}

static void probe_shmem_minor(struct log *lg, int uffd, size_t psz, uint64_t *ioctls)
{
	int memfd = memfd_create("faultline-probe", MFD_CLOEXEC);
	void *p;

	if (memfd < 0) {
		pr_perror(lg, "memfd_create for shmem probe failed");
		return;
	}
	if (ftruncate(memfd, (off_t)psz)) {
		pr_perror(lg, "ftruncate of shmem probe failed");
		goto close_memfd;
	}
	p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED) {
		pr_perror(lg, "mmap of shmem probe failed");
		goto close_memfd;
	}
	probe_register(lg, uffd, p, psz, UFFDIO_REGISTER_MODE_MINOR, ioctls);
	munmap(p, psz);
close_memfd:
	close(memfd);
}

/* PAGEMAP_SCAN on one present page: any answer but ENOTTY/EINVAL means it works. */
static bool probe_pagemap_scan(struct log *lg, size_t psz)
{
	struct page_region region;
	struct pm_scan_arg arg = { .size = sizeof(arg) };
	bool ok = false;
	char *p;
	int fd;

	p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		pr_perror(lg, "mmap of pagemap probe failed");
		return false;
	}
	p[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_pwarn(lg, "cannot open /proc/self/pagemap");
		goto unmap;
	}
	arg.start = (uintptr_t)p;
	arg.end = (uintptr_t)p + psz;
	arg.vec = (uintptr_t)&region;
	arg.vec_len = 1;
	arg.return_mask = PAGE_IS_PRESENT;
	if (ioctl(fd, PAGEMAP_SCAN, &arg) >= 0)
		ok = true;
	else if (errno == ENOTTY || errno == EINVAL)
		pr_debug(lg, "PAGEMAP_SCAN not supported", LF_STR("err", strerror(errno)));
	else
		pr_pwarn(lg, "PAGEMAP_SCAN probe failed");
	close(fd);
unmap:
	munmap(p, psz);
	return ok;
}

void uffd_probe(struct uffd_probe *p, struct log *lg)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	size_t psz = (size_t)sysconf(_SC_PAGESIZE);
	int fd;

	memset(p, 0, sizeof(*p));
	p->pagemap_scan = probe_pagemap_scan(lg, psz);

	fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &p->source, &p->user_mode_only,
		       p->error, sizeof(p->error));
	if (fd < 0) {
		pr_warn(lg, "userfaultfd unavailable", LF_STR("reason", p->error));
		return;
	}
	/* features = 0 asks for nothing and makes the kernel report everything it supports */
	if (ioctl(fd, UFFDIO_API, &api)) {
		snprintf(p->error, sizeof(p->error), "UFFDIO_API: %s", strerror(errno));
		pr_perror(lg, "UFFDIO_API failed");
		p->source = UFFD_SRC_NONE;
		goto close_uffd;
	}
	p->available = true;
	p->api = api.api;
	p->features = api.features;
	p->ioctls = api.ioctls;
	probe_anon(lg, fd, psz, &p->ioctls);
	probe_shmem_minor(lg, fd, psz, &p->ioctls);

	pr_info(lg, "userfaultfd probed", LF_STR("source", uffd_source_name(p->source)),
		LF_BOOL("user_mode_only", p->user_mode_only), LF_UINT("api", p->api),
		LF_HEX("features", p->features), LF_HEX("ioctls", p->ioctls),
		LF_BOOL("pagemap_scan", p->pagemap_scan));
close_uffd:
	close(fd);
}
