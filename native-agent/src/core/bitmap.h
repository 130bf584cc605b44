/*
 * Page bitmaps of a region (present, removed, gone): plain words, owned by
 * one thread (the region's fault worker).  Range operations work a word at
 * a time and report how many bits actually changed, which is what keeps
 * the region's page counters exact.
 */
#ifndef FAULTLINE_BITMAP_H
#define FAULTLINE_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define BITMAP_WORDS(nbits) (((nbits) + 63) / 64)

uint64_t *bitmap_new(uint64_t nbits);
bool bitmap_test(const uint64_t *map, uint64_t bit);
uint64_t bitmap_set(uint64_t *map, uint64_t first, uint64_t n);
uint64_t bitmap_clear(uint64_t *map, uint64_t first, uint64_t n);
uint64_t bitmap_count(const uint64_t *map, uint64_t first, uint64_t n);
uint64_t bitmap_next_set(const uint64_t *map, uint64_t from, uint64_t end);
uint64_t bitmap_next_clear2(const uint64_t *a, const uint64_t *b, uint64_t from, uint64_t end);
void bitmap_copy(uint64_t *dst, const uint64_t *src, uint64_t src_first, uint64_t n);

#endif /* FAULTLINE_BITMAP_H */
