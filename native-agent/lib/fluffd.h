/*
 * libfaultline's userfaultfd side: creating the uffd with the features the
 * agent needs, registering the range, finding the range's page size, and
 * the labels argument.  Internal (flu_ is not exported).
 */
#ifndef FAULTLINE_FLUFFD_H
#define FAULTLINE_FLUFFD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The uffds of one registration: the range is registered on `fd`; `hold_fd`
 * (-1 when not made) is a second uffd with synchronous write protection that
 * the agent may move the range to (PROTOCOL.md §2.1). */
struct flu_uffds {
	int fd, hold_fd;
	uint64_t features, hold_features, ioctls;
};

int flu_create(unsigned modes, void *addr, size_t len, struct flu_uffds *out, char *why,
	       size_t why_len);
void flu_close(struct flu_uffds *u, void *addr, size_t len);
size_t flu_page_size(const void *addr);
json_t *flu_labels(const char *labels);

#endif /* FAULTLINE_FLUFFD_H */
