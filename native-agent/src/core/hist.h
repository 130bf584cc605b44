/*
 * Log2 histograms of durations (fault latency, writer stalls, demand
 * waits): bucket b counts values in [2^b, 2^(b+1)), bucket 0 also holds 0.
 * The counts live with their owner (plain or atomic); these functions only
 * place a value and read a quantile back.
 */
#ifndef FAULTLINE_HIST_H
#define FAULTLINE_HIST_H

#include <stdint.h>

#define HIST_BUCKETS 64

unsigned hist_bucket(uint64_t v);
/*
 * The q-quantile (0 < q <= 1) of counts[0..HIST_BUCKETS): the bucket that
 * holds it, then linear interpolation inside the bucket, capped at max
 * (the largest value seen; 0: no cap).  0 when the histogram is empty.
 */
uint64_t hist_quantile(const uint64_t counts[HIST_BUCKETS], double q, uint64_t max);

#endif /* FAULTLINE_HIST_H */
