/* faultline-demo's migration workloads (demo_mig.c). */
#ifndef FAULTLINE_DEMO_MIG_H
#define FAULTLINE_DEMO_MIG_H

#include <stdbool.h>
#include <stdint.h>

/* what mig-source fills its region with before the writers start */
enum demo_fill {
	DEMO_FILL_STRIPES,    /* every other 64 KiB of 0x5A, the rest never touched */
	DEMO_FILL_ZERO_HOLES, /* the same, the rest populated with zeros */
	DEMO_FILL_MIXED,      /* every page: a quarter random, half text-like, a quarter zero */
};

int demo_mig_source(const char *socket, uint64_t size, const char *name, unsigned threads,
		    uint64_t rate, enum demo_fill fill, bool same_writer);
int demo_mig_dest(const char *socket, uint64_t size, const char *name, const char *out,
		  uint64_t mark);

#endif /* FAULTLINE_DEMO_MIG_H */
