/*
 * Deterministic image content and touch orders, shared by faultline-demo,
 * the tests and the benchmark so that all of them agree on every byte:
 * page i of an image made with seed s is a function of (s, i) alone, and
 * every 8th page (i % 8 == 7) is all zero so zero-page paths are exercised.
 */
#ifndef FAULTLINE_CONTENT_H
#define FAULTLINE_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTENT_PAGE 4096u
#define CONTENT_HOT_CLUSTER 16u /* hot10 touches clusters of this many pages */

enum content_pattern { CONTENT_SEQ, CONTENT_RANDOM, CONTENT_HOT10 };

bool content_zero_page(uint64_t page);
void content_page(uint64_t seed, uint64_t page, uint8_t *out);
size_t content_check(uint64_t seed, uint64_t page, const uint8_t *p);
int content_pattern_parse(const char *s, enum content_pattern *out);
uint64_t *content_order(enum content_pattern pat, uint64_t n_pages, uint64_t seed, uint64_t *n);
int content_write_image(const char *path, uint64_t size, uint64_t seed);
int content_parse_size(const char *s, uint64_t *out);

#endif /* FAULTLINE_CONTENT_H */
