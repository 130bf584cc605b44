/*
 * Log2 histograms; see hist.h.
 */
#include "hist.h"

unsigned hist_bucket(uint64_t v)
{
	return v ? 63u - (unsigned)__builtin_clzll(v) : 0;
}

uint64_t hist_quantile(const uint64_t counts[HIST_BUCKETS], double q, uint64_t max)
{
	uint64_t total = 0, seen = 0;
	double rank;

	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		total += counts[b];
	if (!total)
		return 0;
	rank = q * (double)total;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		double lo, width, v;

		if (!counts[b] || (double)(seen + counts[b]) < rank) {
			seen += counts[b];
			continue;
		}
		lo = b ? (double)(UINT64_C(1) << b) : 0;
		width = b ? lo : 1;
		v = lo + width * ((rank - (double)seen) / (double)counts[b]);
		return max && v > (double)max ? max : (uint64_t)v;
	}
	return max;
}
