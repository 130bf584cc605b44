/*
 * Small helpers shared by everything that builds or reads JSON payloads:
 * identifiers (UUIDs), RFC 3339 times, and flat object building that
 * records failure instead of checking every call.
 */
#ifndef FAULTLINE_JX_H
#define FAULTLINE_JX_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define JX_UUID_LEN 36

void jx_put(json_t *obj, const char *key, json_t *val, bool *ok);
json_t *jx_time(uint64_t unix_ms);
int jx_parse_time(const char *s, uint64_t *unix_ms);
uint64_t jx_now_ms(void);
int jx_uuid_new(char out[JX_UUID_LEN + 1]);
bool jx_uuid_valid(const char *s);

#endif /* FAULTLINE_JX_H */
