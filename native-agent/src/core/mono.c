/*
 * Monotonic time; see mono.h.
 */
#define _GNU_SOURCE
#include <time.h>

#include "mono.h"

uint64_t mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mono_now_ms(void)
{
	return mono_now_ns() / 1000000u;
}
