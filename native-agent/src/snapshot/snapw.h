/*
 * Writing a snapshot image (format: snapimg.h, PROTOCOL.md §5) on a thread
 * of its own, fed through a bounded ring of copied pages.
 *
 * The producer (the region's fault worker) copies pages out of the
 * workload into the ring and commits them; the writer thread checks each
 * page for zeros, checksums it, groups runs of present pages into chunks
 * (zstd-compressed when asked and smaller), and writes them in large
 * sequential writes to <path>.tmp.  At the end it writes the page map, the
 * checksums and the chunk index, then the header (so a file cut short
 * never has a valid header), fsyncs the file, renames it to <path> and
 * fsyncs the directory.
 *
 * Memory: the ring holds at most `buffer_bytes` of pages, fixed when the
 * writer starts (copied-but-unwritten pages never exceed it; a producer
 * that finds no room waits on space_fd).  Its memory is faulted in as it
 * is used (snapw_grow() keeps 2 MiB ready ahead) and an empty ring starts
 * again at its beginning, so what it takes follows the most it held at
 * once: a writer that the disk keeps up with costs a few MiB, one it does
 * not costs the whole buffer and no more.  Besides the ring, the writer
 * keeps the page map (2 bits per page), the checksums (8 bytes per page),
 * the chunk index, a 1 MiB write buffer, and in the page cache at most
 * eight writeback windows of buffer_bytes / 16 (1-16 MiB) not yet on disk.
 *
 * Threads: one producer, the writer thread; the ring is single-producer
 * single-consumer with acquire/release counters, no lock.
 */
#ifndef FAULTLINE_SNAPW_H
#define FAULTLINE_SNAPW_H

#include <stdbool.h>
#include <stdint.h>

#include "snapimg.h"

struct snapw;

struct snapw_cfg {
	const char *path;
	struct snapimg_hdr hdr; /* identity and geometry; counts and offsets are the writer's */
	bool compress;
	int level;              /* zstd level */
	uint64_t buffer_bytes;  /* the ring */
};

struct snapw_result {
	uint64_t size_bytes;
	uint64_t pages_present, pages_zero, pages_absent;
	uint64_t checksum;      /* the image's: the header checksum */
	uint64_t chunks;
};

struct snapw *snapw_start(const struct snapw_cfg *cfg, char *why, size_t why_len);
uint64_t snapw_ring_pages(const struct snapw *w);
uint64_t snapw_free_pages(const struct snapw *w);
uint8_t *snapw_reserve(struct snapw *w, uint32_t n_pages);
void snapw_commit(struct snapw *w, uint64_t first_page, uint32_t n_pages);
void snapw_commit_later(struct snapw *w, uint64_t first_page, uint32_t n_pages);
void snapw_publish(struct snapw *w);
void snapw_grow(struct snapw *w);
uint64_t snapw_peak_bytes(const struct snapw *w);
uint64_t snapw_resident_bytes(const struct snapw *w);
int snapw_zero(struct snapw *w, uint64_t first_page, uint64_t n_pages);
int snapw_space_fd(const struct snapw *w);
int snapw_done_fd(const struct snapw *w);
int snapw_finish(struct snapw *w, uint8_t quiesced, uint64_t created_ms);
bool snapw_done(struct snapw *w);
int snapw_result(struct snapw *w, struct snapw_result *out, char *why, size_t why_len);
int snapw_err(struct snapw *w);
void snapw_free(struct snapw *w);

#endif /* FAULTLINE_SNAPW_H */
