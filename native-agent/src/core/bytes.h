/*
 * Fixed-width integers in byte buffers, for the wire and file formats:
 * big-endian for the control protocol and the page channel (network
 * order), little-endian for snapshot images and working-set files; and hex
 * digits.  Pure and inline, so the fuzzers link nothing for them.
 */
#ifndef FAULTLINE_BYTES_H
#define FAULTLINE_BYTES_H

#include <stdint.h>

static inline uint16_t bytes_get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t bytes_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t bytes_get_be64(const uint8_t *p)
{
	return (uint64_t)bytes_get_be32(p) << 32 | bytes_get_be32(p + 4);
}

static inline void bytes_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void bytes_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void bytes_put_be64(uint8_t *p, uint64_t v)
{
	bytes_put_be32(p, (uint32_t)(v >> 32));
	bytes_put_be32(p + 4, (uint32_t)v);
}

/* n (1-8) bytes, least significant first */
static inline uint64_t bytes_get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static inline void bytes_put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* 0-15, or -1 for a character that is not a hex digit */
static inline int bytes_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif /* FAULTLINE_BYTES_H */
