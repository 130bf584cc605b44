/*
 * Shared copies of restore images for clone restores (PROTOCOL.md §1.8,
 * "mode": "clone").  One copy per image file (by device, inode, size and
 * mtime), in a sealed memfd on shmem or hugetlbfs: filled from the image
 * once, then never written again (F_SEAL_WRITE), and mapped MAP_PRIVATE by
 * every clone, whose reads the engine resolves with UFFDIO_CONTINUE (no
 * copy) and whose writes get the kernel's copy-on-write of that page only.
 *
 * The agent's reference is counted (one per clone session); the pages live
 * on in the kernel while any clone still maps them, also after the agent
 * let go.  Loop thread only.
 */
#ifndef FAULTLINE_SHARE_H
#define FAULTLINE_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct image;
struct log;

enum share_memory { SHARE_SHMEM, SHARE_HUGETLBFS };

struct share {
	struct share *next;
	int refs;
	int fd;              /* the sealed memfd (agent's, read-write description) */
	enum share_memory memory;
	uint64_t size;       /* bytes of the memfd: the image rounded up to page_size */
	uint64_t image_size;
	uint32_t page_size;
	uint64_t dev, ino, mtime_ns;
	uint64_t fill_ns;    /* how long filling it took */
	uint64_t filled;     /* bytes written (zero pages are left as holes) */
	uint64_t *holes;     /* pages left as holes, one bit per page_size */
};

/* What a clone's mapping of the shared copy holds, from /proc/PID/smaps. */
struct share_usage {
	uint64_t rss;     /* bytes mapped */
	uint64_t pss;     /* proportional set size */
	uint64_t priv;    /* anonymous: pages the clone wrote (its copy-on-write copies) */
	uint64_t shared;  /* file pages: pages of the shared copy it maps */
};

int share_memory_parse(const char *s, enum share_memory *out);
const char *share_memory_name(enum share_memory m);
struct share *share_get(struct share **list, struct image *im, enum share_memory mem,
			struct log *lg, char *why, size_t why_len);
void share_put(struct share **list, struct share *sh);
int share_open_readonly(const struct share *sh);
uint64_t *share_holes_of(const struct share *sh, uint64_t offset, uint64_t len, uint32_t page_size);
uint64_t share_resident(const struct share *sh);
int share_usage(pid_t pid, uint64_t start, uint64_t len, struct share_usage *out);

#endif /* FAULTLINE_SHARE_H */
