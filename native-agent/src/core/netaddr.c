/*
 * TCP addresses as the agent's options and messages spell them; see netaddr.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

/* "host:port", "[v6]:port"; the port 0-65535. */
int netaddr_parse(const char *s, char *host, size_t host_len, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long p;

	if (!s || !*s)
		return -1;
	colon = strrchr(s, ':');
	if (!colon || !colon[1])
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return -1;
		h = s + 1;
		hl -= 2;
	}
	if (!hl || hl >= host_len)
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}
