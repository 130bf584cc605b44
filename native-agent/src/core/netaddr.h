/*
 * "HOST:PORT" and "[V6]:PORT", as --page-channel-listen and the migration
 * messages take them (pure, no lookups).
 */
#ifndef FAULTLINE_NETADDR_H
#define FAULTLINE_NETADDR_H

#include <stddef.h>
#include <stdint.h>

/* 0 with host (brackets removed) and port, -1 when s is not such an address. */
int netaddr_parse(const char *s, char *host, size_t host_len, uint16_t *port);

#endif /* FAULTLINE_NETADDR_H */
