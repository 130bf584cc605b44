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

int flu_create(unsigned modes, void *addr, size_t len, uint64_t *features, uint64_t *ioctls,
	       char *why, size_t why_len);
size_t flu_page_size(const void *addr);
json_t *flu_labels(const char *labels);

#endif /* FAULTLINE_FLUFFD_H */
