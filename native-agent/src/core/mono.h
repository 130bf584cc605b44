/*
 * The one clock of the agent for durations and deadlines: CLOCK_MONOTONIC,
 * never stepped by NTP or an operator.
 */
#ifndef FAULTLINE_MONO_H
#define FAULTLINE_MONO_H

#include <stdint.h>

uint64_t mono_now_ns(void);
uint64_t mono_now_ms(void);

#endif /* FAULTLINE_MONO_H */
