/*
 * faultline-demo workloads for migrations (PROTOCOL.md §1.9, §3):
 *
 *   mig-source --socket HANDOFF --size SIZE [--name NAME] [--threads N] [--rate N]
 *              [--zero-holes | --fill stripes|mixed]
 *       registers fresh memory with FL_MODE_WP (track + hold uffds) on the
 *       agent's general handoff socket, fills every other 64 KiB of it, prints
 *       {"region_id":…} and writes continuously from N threads: each write
 *       stamps 16 bytes of a random page with a generation and the page.
 *       --rate: N writes per second in all (shared by the threads, paced per
 *       64 writes like bench/qemu/memwriter.c's fl_rate); 0: as fast as they
 *       can.  --zero-holes: the other half is populated too, with zeros.
 *       --fill mixed: every page populated, in a pattern closer to a guest's
 *       memory than 0x5A stripes (which any compressor shrinks to nothing):
 *       of every 4 pages one random (incompressible), two text-like (words
 *       of a small vocabulary: zstd's fast level makes them ~3x smaller),
 *       one zero; so that measurements of "compress" mean something.
 *       --writer same: each write stores into its 16 bytes what they hold
 *       already (a guest rewriting the same values; the pages are written,
 *       their bytes never change); random (the default) stamps them.
 *   mig-dest --socket SESSION --size SIZE --name NAME --dump FILE [--mark N]
 *       attaches by region name on a migration's session socket (MISSING
 *       mode), writes a marker into the last 16 bytes of N pages spread over
 *       the region (their faults fetch the pages first), then reads every
 *       page into FILE and prints {"dumped":…}.
 *
 * Both then take commands on stdin, one per line, and answer one JSON line:
 *   dump FILE        the region's bytes into FILE (the source: while held)
 *   wait-migrated    the source: until the agent said the region moved
 *   check            the destination: are the markers still there?
 *   drop N           MADV_DONTNEED page N, then check that it reads zero
 *   rewrite same|change  the source: write every page once, storing the
 *                    bytes its first 16 hold (same) or new ones (change)
 *   exit             exit 0 at once (held writers and all)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "demo_mig.h"
#include "faultline.h"

#define MARK_MAGIC UINT64_C(0xDE57DE57DE57DE57)

struct writer {
	pthread_t t;
	uint8_t *mem;
	uint64_t pages, seed;
	uint64_t rate; /* writes per second of this thread, 0: unpaced */
	bool same;     /* --writer same */
	_Atomic uint64_t writes;
};

/* writes between two looks at the clock, as memwriter's BATCH */
#define PACE_BATCH 64u
/* a paced writer that fell behind (held by a migration) catches up at most this much */
#define PACE_MAX_BACKLOG_NS 10000000u

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Pacing only (the rate is the workload's, not a synchronisation): sleeps
 * until `done` writes are due since *from.  A writer that fell far behind
 * (it waited on a held page) does not burst to catch up: it restarts its
 * schedule, at most PACE_MAX_BACKLOG_NS late, as memwriter does.
 */
static void pace(uint64_t rate, uint64_t *from, uint64_t *done)
{
	uint64_t due = *from + *done * 1000000000u / rate, now = mono_ns();

	if (now < due) {
		struct timespec nap = { (time_t)((due - now) / 1000000000u),
					(long)((due - now) % 1000000000u) };

		nanosleep(&nap, NULL);
	} else if (now - due > PACE_MAX_BACKLOG_NS) {
		*from = now - PACE_MAX_BACKLOG_NS;
		*done = 0;
	}
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	uint64_t s = w->seed | 1, gen = 0, from = mono_ns(), paced = 0;

	for (;;) {
		uint64_t p = xorshift(&s) % w->pages;
		volatile uint64_t *slot = (volatile uint64_t *)(w->mem + p * 4096 + (gen % 255) * 16);

		if (w->same) {
			/* a store of what is there: the page is written, its bytes stay */
			slot[0] = slot[0];
			slot[1] = slot[1];
			++gen;
		} else {
			slot[0] = ++gen;
			slot[1] = p ^ (w->seed << 40);
		}
		atomic_store_explicit(&w->writes, gen, memory_order_relaxed);
		if (w->rate && ++paced % PACE_BATCH == 0)
			pace(w->rate, &from, &paced);
	}
	return NULL;
}

static int dump(const uint8_t *mem, uint64_t size, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint64_t off = 0;
	static volatile uint8_t touched;

	if (fd < 0)
		return -1;
	while (off < size) {
		size_t len = size - off > (1u << 20) ? (1u << 20) : size - off;
		ssize_t n;

		/* touch every page from user space first: writing to /dev/null reads nothing */
		for (size_t i = 0; i < len; i += 4096)
			touched += *(volatile const uint8_t *)(mem + off + i);
		n = write(fd, mem + off, len);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (uint64_t)n;
	}
	return close(fd);
}

static void *map(uint64_t size)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return mem == MAP_FAILED ? NULL : mem;
}

static int commands(uint8_t *mem, uint64_t size, fl_region *r, uint64_t mark,
		    struct writer *ws, unsigned n_ws)
{
	char line[4200];

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "dump ", 5)) {
			int ret = dump(mem, size, line + 5);
			uint64_t writes = 0;

			for (unsigned i = 0; i < n_ws; i++)
				writes += atomic_load(&ws[i].writes);
			printf("{\"dumped\":\"%s\",\"ok\":%s,\"writes\":%llu}\n", line + 5,
			       ret ? "false" : "true", (unsigned long long)writes);
		} else if (!strcmp(line, "wait-migrated")) {
			struct timespec ms = { .tv_nsec = 1000000 };
			int i = 0;

			while (!fl_region_migrated(r) && i++ < 60000)
				nanosleep(&ms, NULL);
			printf("{\"migrated\":%s}\n", fl_region_migrated(r) ? "true" : "false");
		} else if (!strcmp(line, "check")) {
			uint64_t bad = 0, step = mark ? size / 4096 / mark : 0;

			for (uint64_t i = 0; i < mark; i++) {
				const uint64_t *m = (const uint64_t *)(mem + (i * step) * 4096 + 4080);

				bad += m[0] != MARK_MAGIC || m[1] != i * step;
			}
			printf("{\"markers\":%llu,\"markers_wrong\":%llu}\n", (unsigned long long)mark,
			       (unsigned long long)bad);
		} else if (!strncmp(line, "drop ", 5)) {
			/* MADV_DONTNEED a page: it must read zero afterwards, never old bytes */
			uint64_t pg = strtoull(line + 5, NULL, 10) % (size / 4096), nonzero = 0;

			if (madvise(mem + pg * 4096, 4096, MADV_DONTNEED))
				nonzero = 1;
			for (unsigned i = 0; i < 4096; i++)
				nonzero += mem[pg * 4096 + i] != 0;
			printf("{\"dropped\":%llu,\"nonzero_bytes\":%llu}\n", (unsigned long long)pg,
			       (unsigned long long)nonzero);
		} else if (!strcmp(line, "rewrite same") || !strcmp(line, "rewrite change")) {
			bool same = !strcmp(line, "rewrite same");

			for (uint64_t off = 0; off < size; off += 4096) {
				volatile uint64_t *w = (volatile uint64_t *)(mem + off);

				w[0] = same ? w[0] : w[0] + 1;
				w[1] = same ? w[1] : w[1] ^ off;
			}
			printf("{\"rewritten\":%llu}\n", (unsigned long long)(size / 4096));
		} else if (!strncmp(line, "forget ", 7)) {
			/* MADV_DONTNEED a page without reading it (the agent learns it from the event) */
			uint64_t pg = strtoull(line + 7, NULL, 10) % (size / 4096);

			printf("{\"forgotten\":%llu,\"ok\":%s}\n", (unsigned long long)pg,
			       madvise(mem + pg * 4096, 4096, MADV_DONTNEED) ? "false" : "true");
		} else if (!strncmp(line, "peek ", 5)) {
			uint64_t pg = strtoull(line + 5, NULL, 10) % (size / 4096), nonzero = 0;

			for (unsigned i = 0; i < 4096; i++)
				nonzero += mem[pg * 4096 + i] != 0;
			printf("{\"page\":%llu,\"nonzero_bytes\":%llu}\n", (unsigned long long)pg,
			       (unsigned long long)nonzero);
		} else if (!strcmp(line, "exit")) {
			fflush(stdout);
			_exit(0);
		} else {
			printf("{\"error\":\"unknown command\"}\n");
		}
		fflush(stdout);
	}
	_exit(0);
}

/*
 * --fill mixed, page p of the region: p % 4 == 0 random bytes, 1 and 2
 * words of a 64-word vocabulary separated by spaces, 3 zeros.
 */
static void fill_mixed_page(uint8_t *page, uint64_t p)
{
	static const char *const words[64] = {
		"the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as", "by",
		"at", "from", "this", "page", "memory", "guest", "kernel", "region", "fault", "user",
		"table", "entry", "value", "buffer", "socket", "thread", "request", "reply", "error",
		"index", "count", "offset", "length", "state", "cache", "inode", "dentry", "struct",
		"static", "return", "const", "void", "int", "uint64_t", "size_t", "if", "else", "while",
		"null", "true", "false", "json", "http", "GET", "POST", "200", "404", "user_id",
		"session", "token", "2026-12-07",
	};
	uint64_t s = (p + 1) * UINT64_C(0x9E3779B97F4A7C15) | 1;

	if (p % 4 == 0) {
		for (size_t i = 0; i < 4096; i += 8) {
			uint64_t x = xorshift(&s);

			memcpy(page + i, &x, 8);
		}
	} else if (p % 4 == 3) {
		memset(page, 0, 4096);
	} else {
		size_t at = 0;

		while (at < 4096) {
			const char *w = words[xorshift(&s) % 64];
			size_t n = strlen(w);

			for (size_t i = 0; i < n && at < 4096; i++)
				page[at++] = (uint8_t)w[i];
			if (at < 4096)
				page[at++] = ' ';
		}
	}
}

static void fill(uint8_t *mem, uint64_t size, enum demo_fill how)
{
	if (how == DEMO_FILL_MIXED) {
		for (uint64_t p = 0; p < size / 4096; p++)
			fill_mixed_page(mem + p * 4096, p);
		return;
	}
	/* half populated, half never touched: the migration sends the holes as zero runs */
	for (uint64_t off = 0; off < size; off += 2 * 65536)
		memset(mem + off, 0x5A, 65536 < size - off ? 65536 : size - off);
	/* --zero-holes: the holes populated, with zeros (read as zeros, sent as zero runs) */
	for (uint64_t off = 65536; how == DEMO_FILL_ZERO_HOLES && off < size; off += 2 * 65536)
		memset(mem + off, 0, 65536 < size - off ? 65536 : size - off);
}

int demo_mig_source(const char *socket, uint64_t size, const char *name, unsigned threads,
		    uint64_t rate, enum demo_fill how, bool same_writer)
{
	uint8_t *mem = map(size);
	struct writer *ws = calloc(threads ? threads : 1, sizeof(*ws));
	fl_client *c;
	fl_region *r;

	if (!mem || !ws)
		return 3;
	fill(mem, size, how);
	c = fl_connect(socket);
	if (!c || fl_region_register(c, mem, size, name, "role=source", FL_MODE_WP, &r)) {
		fprintf(stderr, "faultline-demo: %s\n", fl_last_error());
		return 3;
	}
	printf("{\"region_id\":\"%s\",\"pages\":%llu}\n", fl_region_id(r),
	       (unsigned long long)(size / 4096));
	fflush(stdout);
	for (unsigned i = 0; i < threads; i++) {
		ws[i].mem = mem;
		ws[i].pages = size / 4096;
		ws[i].seed = 0x9E3779B97F4A7C15ull * (i + 1);
		ws[i].same = same_writer;
		/* the total shared out; a thread's share never rounds down to "unpaced" */
		ws[i].rate = rate ? (rate / threads + (i < rate % threads)) : 0;
		if (rate && !ws[i].rate)
			ws[i].rate = 1;
		if (pthread_create(&ws[i].t, NULL, write_loop, &ws[i]))
			return 3;
	}
	return commands(mem, size, r, 0, ws, threads);
}

int demo_mig_dest(const char *socket, uint64_t size, const char *name, const char *out,
		  uint64_t mark)
{
	uint8_t *mem = map(size);
	uint64_t step = mark ? size / 4096 / mark : 0;
	struct timespec t0, t1;
	fl_client *c;
	fl_region *r;

	if (!mem || (mark && !step))
		return 3;
	c = fl_connect(socket);
	if (!c || fl_region_register(c, mem, size, name, NULL, FL_MODE_MISSING, &r)) {
		fprintf(stderr, "faultline-demo: %s\n", fl_last_error());
		return 3;
	}
	printf("{\"region_id\":\"%s\"}\n", fl_region_id(r));
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < mark; i++) {
		uint64_t *m = (uint64_t *)(mem + (i * step) * 4096 + 4080);

		m[0] = MARK_MAGIC;
		m[1] = i * step;
	}
	/* "-": no dump now (a test asks for one later with the dump command) */
	if (strcmp(out, "-") && dump(mem, size, out))
		return 3;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"dumped\":\"%s\",\"marked\":%llu,\"ms\":%lld}\n", out, (unsigned long long)mark,
	       (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	fflush(stdout);
	return commands(mem, size, r, mark, NULL, 0);
}
