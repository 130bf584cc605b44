/*
 * Snapshot image files: opening one (header and metadata checked), reading
 * through pread (never mmap: a file cut short under a mapping kills the
 * reader with SIGBUS), verifying every page, and consolidating a child
 * image with its parent into one that no longer needs the parent.
 * Blocking I/O: called on job threads (verify, consolidate) or, for the
 * metadata of a restore, on the loop thread.
 */
#ifndef FAULTLINE_SNAPFILE_H
#define FAULTLINE_SNAPFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "snapimg.h"
#include "snapw.h"

struct snapfile {
	int fd;
	char *path;
	uint64_t mtime_ns;
	struct snapimg_src src;
	struct snapimg im;
};

int snapfile_open(struct snapfile *f, const char *path, char *why, size_t why_len);
void snapfile_close(struct snapfile *f);
int snapfile_verify(const char *path, char *detail, size_t detail_len);
int snapfile_consolidate(const char *parent, const char *child, bool compress, int level,
			 uint64_t buffer_bytes, struct snapw_result *out, char *why, size_t why_len);
int snapfile_flatten(char *const *chain, unsigned n_chain, const char *out, uint64_t *pages_out,
		     char *detail, size_t detail_len);

#endif /* FAULTLINE_SNAPFILE_H */
