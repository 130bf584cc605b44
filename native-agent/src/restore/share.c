/*
 * Shared copies of restore images; see share.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bitmap.h"
#include "image.h"
#include "mono.h"
#include "share.h"

#define LOG_COMP "share"
#include "log.h"

#define SHARE_CHUNK (UINT64_C(1) << 20)
#define SHARE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static const char *const memory_names[] = { "shmem", "hugetlbfs" };

int share_memory_parse(const char *s, enum share_memory *out)
{
	for (unsigned i = 0; i < sizeof(memory_names) / sizeof(memory_names[0]); i++) {
		if (!strcmp(s, memory_names[i])) {
			*out = (enum share_memory)i;
			return 0;
		}
	}
	return -1;
}

const char *share_memory_name(enum share_memory m)
{
	return memory_names[m];
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/* shmem: the non-zero pages are written, zero pages stay holes (no memory). */
static int fill_shmem(struct share *sh, struct image *im)
{
	uint8_t *buf = malloc(SHARE_CHUNK);
	int ret = -1;

	if (!buf)
		return -1;
	for (uint64_t off = 0; off < im->size; off += SHARE_CHUNK) {
		size_t len = im->size - off < SHARE_CHUNK ? (size_t)(im->size - off) : SHARE_CHUNK;

		if (image_read(im, off, buf, len))
			goto free_buf;
		for (size_t p = 0; p < len;) {
			size_t q = p, step = sh->page_size;

			while (q < len && !all_zero(buf + q, len - q < step ? len - q : step))
				q += step;
			if (q > p) {
				size_t n = (q < len ? q : len) - p;

				if (pwrite(sh->fd, buf + p, n, (off_t)(off + p)) != (ssize_t)n) {
					if (errno == 0)
						errno = EIO;
					goto free_buf;
				}
				sh->filled += n;
				p = q;
			} else {
				bitmap_set(sh->holes, (off + p) / sh->page_size, 1);
				p += step;
			}
		}
	}
	ret = 0;
free_buf:
	free(buf);
	return ret;
}

/* hugetlbfs has no write(): the image is read into a shared mapping of it. */
static int fill_hugetlbfs(struct share *sh, struct image *im)
{
	uint8_t *map = mmap(NULL, sh->size, PROT_READ | PROT_WRITE, MAP_SHARED, sh->fd, 0);
	int ret;

	if (map == MAP_FAILED)
		return -1;
	ret = image_read(im, 0, map, im->size);
	if (!ret)
		sh->filled = sh->size;
	munmap(map, sh->size);
	return ret;
}

static struct share *create(struct image *im, enum share_memory mem, char *why, size_t why_len)
{
	struct share *sh = calloc(1, sizeof(*sh));
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	uint64_t t0 = mono_now_ns();
	struct stat st;
	const char *what = "memfd_create";

	if (!sh) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	sh->memory = mem;
	sh->image_size = im->size;
	sh->dev = im->dev;
	sh->ino = im->ino;
	sh->mtime_ns = im->mtime_ns;
	if (mem == SHARE_HUGETLBFS)
		flags |= MFD_HUGETLB;
	sh->fd = memfd_create("faultline-clone", flags);
	if (sh->fd < 0)
		goto fail;
	what = "fstat";
	if (fstat(sh->fd, &st))
		goto fail_fd;
	/* hugetlbfs reports its huge page size as the block size */
	sh->page_size = mem == SHARE_HUGETLBFS ? (uint32_t)st.st_blksize : (uint32_t)sysconf(_SC_PAGESIZE);
	sh->size = (im->size + sh->page_size - 1) / sh->page_size * sh->page_size;
	what = "ftruncate";
	if (ftruncate(sh->fd, (off_t)sh->size))
		goto fail_fd;
	what = "allocating its map of holes";
	sh->holes = bitmap_new(sh->size / sh->page_size);
	if (!sh->holes)
		goto fail_fd;
	what = "filling it from the image";
	if (mem == SHARE_HUGETLBFS ? fill_hugetlbfs(sh, im) : fill_shmem(sh, im))
		goto fail_fd;
	/* from here on nobody can change it: not the agent, not a clone given the descriptor */
	what = "sealing it";
	if (fcntl(sh->fd, F_ADD_SEALS, SHARE_SEALS))
		goto fail_fd;
	sh->fill_ns = mono_now_ns() - t0;
	return sh;
fail_fd:
	{
		int err = errno;

		close(sh->fd);
		free(sh->holes);
		errno = err;
	}
fail:
	snprintf(why, why_len, "cannot make the shared copy of the image (%s memory, %" PRIu64
		 " bytes): %s: %s", memory_names[mem], im->size, what, strerror(errno));
	free(sh);
	return NULL;
}

/* The shared copy of im in mem, made on first use; NULL with why on failure. */
struct share *share_get(struct share **list, struct image *im, enum share_memory mem,
			struct log *lg, char *why, size_t why_len)
{
	struct share *sh;

	for (sh = *list; sh; sh = sh->next) {
		if (sh->memory == mem && sh->dev == im->dev && sh->ino == im->ino &&
		    sh->image_size == im->size && sh->mtime_ns == im->mtime_ns) {
			sh->refs++;
			return sh;
		}
	}
	sh = create(im, mem, why, why_len);
	if (!sh) {
		pr_err(lg, "shared copy not made", LF_STR("image", im->path), LF_STR("error", why));
		return NULL;
	}
	sh->refs = 1;
	sh->next = *list;
	*list = sh;
	pr_info(lg, "shared copy of an image made", LF_STR("image", im->path),
		LF_STR("memory", memory_names[mem]), LF_UINT("bytes", sh->size),
		LF_UINT("written", sh->filled), LF_UINT("fill_us", sh->fill_ns / 1000));
	return sh;
}

/* The agent's reference goes; clones that still map the copy keep its pages. */
void share_put(struct share **list, struct share *sh)
{
	if (!sh || --sh->refs > 0)
		return;
	for (struct share **pp = list; *pp; pp = &(*pp)->next) {
		if (*pp == sh) {
			*pp = sh->next;
			break;
		}
	}
	close(sh->fd);
	free(sh->holes);
	free(sh);
}

/*
 * The holes of [offset, offset + len) of the copy, as a map of its own (a
 * region keeps it after its session and the copy went); NULL when the
 * region's pages are not the copy's (the engine then asks the image).
 */
uint64_t *share_holes_of(const struct share *sh, uint64_t offset, uint64_t len, uint32_t page_size)
{
	uint64_t *map;

	if (page_size != sh->page_size || offset % page_size || offset > sh->size ||
	    len > sh->size - offset)
		return NULL;
	map = bitmap_new(len / page_size);
	if (map)
		bitmap_copy(map, sh->holes, offset / page_size, len / page_size);
	return map;
}

/* A read-only description of the copy for a clone (it maps it MAP_PRIVATE). */
int share_open_readonly(const struct share *sh)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", sh->fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Bytes of memory the copy holds now. */
uint64_t share_resident(const struct share *sh)
{
	struct stat st;

	return fstat(sh->fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}

/* Sums smaps over the mappings inside [start, start + len) of pid. */
int share_usage(pid_t pid, uint64_t start, uint64_t len, struct share_usage *out)
{
	char path[64], line[512];
	unsigned long long hp = 0, hs = 0;
	bool inside = false;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, kb;

		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = lo >= start && hi <= start + len;
			continue;
		}
		if (!inside)
			continue;
		if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			out->rss += kb * 1024;
		else if (sscanf(line, "Pss: %llu kB", &kb) == 1)
			out->pss += kb * 1024;
		else if (sscanf(line, "Anonymous: %llu kB", &kb) == 1)
			out->priv += kb * 1024;
		/* hugetlb pages are outside Rss; by map count only (a page one clone maps is private) */
		else if (sscanf(line, "Private_Hugetlb: %llu kB", &kb) == 1)
			hp += kb * 1024, out->priv += kb * 1024;
		else if (sscanf(line, "Shared_Hugetlb: %llu kB", &kb) == 1)
			hs += kb * 1024;
	}
	fclose(f);
	out->shared = out->rss > out->priv - hp ? out->rss - (out->priv - hp) : 0;
	out->shared += hs;
	out->rss += hp + hs;
	return 0;
}
