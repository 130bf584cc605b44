/*
 * userfaultfd kernel API: opening a uffd and probing what the running kernel
 * grants.  Feature knowledge comes from the kernel at run time, never from
 * the headers the agent was built with (see uffd_compat.h).
 */
#ifndef FAULTLINE_UFFD_H
#define FAULTLINE_UFFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log;

enum uffd_source {
	UFFD_SRC_NONE,
	UFFD_SRC_DEV,     /* /dev/userfaultfd + USERFAULTFD_IOC_NEW */
	UFFD_SRC_SYSCALL, /* userfaultfd(2) */
};

struct uffd_probe {
	bool available;
	enum uffd_source source;
	bool user_mode_only; /* only granted with UFFD_USER_MODE_ONLY */
	uint64_t api;
	uint64_t features;   /* UFFD_FEATURE_* granted by UFFDIO_API */
	uint64_t ioctls;     /* 1 << _UFFDIO_*: API ioctls + range ioctls */
	bool pagemap_scan;
	char error[256];     /* why available is false */
};

int uffd_open(int flags, enum uffd_source *source, bool *user_mode_only,
	      char *why, size_t why_len);
void uffd_probe(struct uffd_probe *p, struct log *lg);
const char *uffd_source_name(enum uffd_source source);
unsigned uffd_feature_names(uint64_t features, const char **names, unsigned max);
unsigned uffd_ioctl_names(uint64_t ioctls, const char **names, unsigned max);

#endif /* FAULTLINE_UFFD_H */
