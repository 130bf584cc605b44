/*
 * faultline-snapbench's parts shared by its files: the writer and the
 * in-process writer-side copy (snapbench_selfcow.c).
 */
#ifndef FAULTLINE_SNAPBENCH_H
#define FAULTLINE_SNAPBENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define SB_PS 4096u
/* store latencies: 1 us buckets up to 1 s, then one overflow bucket */
#define LAT_BUCKETS 1000001u
/* the writer's random generator starts here; the selfcow check replays it */
#define SB_SEED UINT64_C(0x9E3779B97F4A7C15)
/* the region's bytes before the writer's first store */
#define SB_FILL 0x5a

struct stats {
	uint64_t ops, max_ns, cow_pages;
	uint64_t *hist; /* LAT_BUCKETS */
	uint64_t t0_ns, t1_ns;
};

struct writer {
	uint8_t *mem;
	uint64_t pages;
	uint64_t *seen;           /* pages written in this window (fork: the copies made) */
	_Atomic int window;       /* 0: writing, not measuring; 1: measuring; 2: stop */
	_Atomic uint64_t windows; /* windows completed, for the hand-over */
	/*
	 * Every store since the region was filled, and a freeze: while freeze is
	 * set the writer stops before its next store (inside the timed store, so
	 * the pause counts as a stall), says how many stores it made and waits.
	 */
	uint64_t stores;
	_Atomic uint32_t freeze, frozen;
	uint64_t stores_at_freeze;
	struct stats st;
	pthread_t thread;
};

static inline uint64_t sb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The writer's next store: advances x and returns the offset x goes to. */
static inline uint64_t sb_next_store(uint64_t *x, uint64_t pages)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (*x % pages) * SB_PS + (*x & 511) * 8;
}

int sb_futex_wait(_Atomic uint32_t *word, uint32_t val);
void sb_futex_wake(_Atomic uint32_t *word);

/* Stops the writer before its next store; returns once it waits. */
void sb_freeze(struct writer *w);
void sb_thaw(struct writer *w);

/* ---- writer-side copy, in process (snapbench_selfcow.c) ------------------- */

struct sc_cfg {
	uint64_t ring_bytes;    /* the bounded ring, as the agent's snapshot buffer */
	unsigned granule_pages; /* pages copied per claim, as the agent's default */
	bool brk;               /* self-check: lift the protection before copying */
};

struct sc_stats {
	double round1_ms;         /* protecting the whole region, the writer running */
	unsigned rounds;          /* protection rounds before the final one */
	uint64_t early_lifts;     /* granules lifted by the handler before T */
	double early_max_us;      /* the longest of those (a wait for a step of a round) */
	uint64_t final_granules;  /* protected in the final round */
	double pause_ms;          /* the final round (UFFDIO_WRITEPROTECT), the writer held */
	double freeze_ms;         /* the writer held at T: held to thawed */
	double duration_ms;       /* the first round to the image fsynced */
	double extra_mib;         /* growth of the process's peak RSS (ring + states) */
	uint64_t on_fault;        /* granules copied by the writer's SIGBUS handler */
	uint64_t ahead;           /* granules copied by the background */
	uint64_t waited_bg;       /* handler waits for a granule the background was copying */
	uint64_t ring_waits;      /* handler waits for ring space */
	double ring_wait_max_us;
	double handler_max_us;    /* the longest SIGBUS handler after T */
	double handler_ms;        /* all of them */
	double copy_ms, lift_ms;  /* of which their 64 KiB copies and their lifts */
	uint64_t ring_peak_bytes;
	uint64_t bad_pages;       /* image pages that differ from the region at T */
	uint64_t first_bad_page;
};

struct selfcow;

/*
 * Registers [mem, mem + len) on a uffd of its own (SIGBUS, write-protect
 * mode) and installs the SIGBUS handler.  The range must not be on another
 * uffd.  -1 with a message on stderr when it cannot be done.
 */
int sc_open(struct selfcow **out, uint8_t *mem, uint64_t len, const struct sc_cfg *cfg);
/* One snapshot of the range into file under w; the writer must be writing. */
int sc_take(struct selfcow *s, struct writer *w, const char *file, struct sc_stats *st);
/* Compares file with the region at T, rebuilt by replaying the writer's stores. */
int sc_verify(struct selfcow *s, const char *file, struct sc_stats *st);
void sc_close(struct selfcow *s);

#endif
