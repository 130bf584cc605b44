/* faultline-demo's migration workloads (demo_mig.c). */
#ifndef FAULTLINE_DEMO_MIG_H
#define FAULTLINE_DEMO_MIG_H

#include <stdbool.h>
#include <stdint.h>

int demo_mig_source(const char *socket, uint64_t size, const char *name, unsigned threads,
		    uint64_t rate, bool zero_holes, bool same_writer);
int demo_mig_dest(const char *socket, uint64_t size, const char *name, const char *out,
		  uint64_t mark);

#endif /* FAULTLINE_DEMO_MIG_H */
