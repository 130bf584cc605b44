/*
 * Page bitmaps; see bitmap.h.
 */
#include <stdlib.h>

#include "bitmap.h"

uint64_t *bitmap_new(uint64_t nbits)
{
	return calloc(BITMAP_WORDS(nbits) ? BITMAP_WORDS(nbits) : 1, sizeof(uint64_t));
}

bool bitmap_test(const uint64_t *map, uint64_t bit)
{
	return map && (map[bit / 64] >> (bit % 64)) & 1;
}

/* Mask of bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static uint64_t mask(unsigned lo, unsigned hi)
{
	uint64_t m = hi == 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1;

	return m & ~((UINT64_C(1) << lo) - 1);
}

/* Sets [first, first + n); returns how many were clear before. */
uint64_t bitmap_set(uint64_t *map, uint64_t first, uint64_t n)
{
	uint64_t changed = 0, end = first + n;

	while (first < end) {
		uint64_t w = first / 64;
		unsigned lo = (unsigned)(first % 64);
		unsigned hi = end - w * 64 >= 64 ? 64 : (unsigned)(end - w * 64);
		uint64_t m = mask(lo, hi);

		changed += (uint64_t)__builtin_popcountll(m & ~map[w]);
		map[w] |= m;
		first = w * 64 + hi;
	}
	return changed;
}

/* Clears [first, first + n); returns how many were set before. */
uint64_t bitmap_clear(uint64_t *map, uint64_t first, uint64_t n)
{
	uint64_t changed = 0, end = first + n;

	if (!map)
		return 0;
	while (first < end) {
		uint64_t w = first / 64;
		unsigned lo = (unsigned)(first % 64);
		unsigned hi = end - w * 64 >= 64 ? 64 : (unsigned)(end - w * 64);
		uint64_t m = mask(lo, hi);

		changed += (uint64_t)__builtin_popcountll(m & map[w]);
		map[w] &= ~m;
		first = w * 64 + hi;
	}
	return changed;
}

/* First bit in [from, end) clear in both maps (b may be NULL), or end. */
uint64_t bitmap_next_clear2(const uint64_t *a, const uint64_t *b, uint64_t from, uint64_t end)
{
	while (from < end) {
		uint64_t w = from / 64;
		uint64_t set = a[w] | (b ? b[w] : 0);
		uint64_t free_bits = ~set & mask((unsigned)(from % 64), 64);

		if (free_bits) {
			uint64_t bit = w * 64 + (uint64_t)__builtin_ctzll(free_bits);

			return bit < end ? bit : end;
		}
		from = (w + 1) * 64;
	}
	return end;
}

/* dst[0, n) = src[src_first, src_first + n); dst starts cleared. */
void bitmap_copy(uint64_t *dst, const uint64_t *src, uint64_t src_first, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		if (bitmap_test(src, src_first + i))
			dst[i / 64] |= UINT64_C(1) << (i % 64);
	}
}

/* Bits set in [first, first + n). */
uint64_t bitmap_count(const uint64_t *map, uint64_t first, uint64_t n)
{
	uint64_t count = 0, end = first + n;

	if (!map)
		return 0;
	while (first < end) {
		uint64_t w = first / 64;
		unsigned lo = (unsigned)(first % 64);
		unsigned hi = end - w * 64 >= 64 ? 64 : (unsigned)(end - w * 64);

		count += (uint64_t)__builtin_popcountll(map[w] & mask(lo, hi));
		first = w * 64 + hi;
	}
	return count;
}

/* First bit in [from, end) set in map, or end. */
uint64_t bitmap_next_set(const uint64_t *map, uint64_t from, uint64_t end)
{
	while (map && from < end) {
		uint64_t w = from / 64;
		uint64_t bits = map[w] & mask((unsigned)(from % 64), 64);

		if (bits) {
			uint64_t bit = w * 64 + (uint64_t)__builtin_ctzll(bits);

			return bit < end ? bit : end;
		}
		from = (w + 1) * 64;
	}
	return end;
}
