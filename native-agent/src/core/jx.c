/*
 * JSON and identifier helpers; see jx.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "jx.h"

/* Steals val and records failure, so that builders stay flat. */
void jx_put(json_t *obj, const char *key, json_t *val, bool *ok)
{
	if (!val || json_object_set_new(obj, key, val))
		*ok = false;
}

/* "2026-11-24T20:00:00.000Z" */
json_t *jx_time(uint64_t unix_ms)
{
	time_t sec = (time_t)(unix_ms / 1000);
	char buf[40];
	struct tm tm;
	size_t n;

	if (!gmtime_r(&sec, &tm))
		return NULL;
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03uZ", (unsigned)(unix_ms % 1000));
	return json_string(buf);
}

/* Reads back what jx_time() writes (persisted sessions). */
int jx_parse_time(const char *s, uint64_t *unix_ms)
{
	struct tm tm = { 0 };
	unsigned ms = 0;
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	time_t t;

	if (!rest || (*rest == '.' && sscanf(rest, ".%3u", &ms) != 1)) {
		errno = EINVAL;
		return -1;
	}
	t = timegm(&tm);
	if (t < 0) {
		errno = EINVAL;
		return -1;
	}
	*unix_ms = (uint64_t)t * 1000 + ms;
	return 0;
}

uint64_t jx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Random (version 4) UUID, lower case. */
int jx_uuid_new(char out[JX_UUID_LEN + 1])
{
	uint8_t b[16];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, JX_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

/*
 * 8-4-4-4-12 hex digits, lower case: ids name files in the state directory,
 * so only this one spelling is accepted (no case folding, no braces).
 */
bool jx_uuid_valid(const char *s)
{
	for (int i = 0; i < JX_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[JX_UUID_LEN] == '\0';
}
