/*
 * Page channel framing, authentication and blocking I/O; see pchan.h and
 * PROTOCOL.md §3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bytes.h"
#include "netaddr.h"
#include "pchan.h"
#include "ptls.h"

void pchan_encode_hdr(const struct pchan_hdr *h, uint8_t out[PCHAN_HDR_LEN])
{
	bytes_put_be32(out, PCHAN_MAGIC);
	out[4] = PCHAN_VERSION;
	out[5] = h->type;
	out[6] = (uint8_t)(h->flags >> 8);
	out[7] = (uint8_t)h->flags;
	bytes_put_be64(out + 8, h->seq);
	bytes_put_be64(out + 16, h->page);
	bytes_put_be32(out + 24, h->count);
	bytes_put_be32(out + 28, h->length);
}

/*
 * Magic and version are judged as soon as their bytes are in, so that a
 * peer speaking something else is dropped without waiting for 32 bytes.
 */
enum pchan_result pchan_decode_hdr(const uint8_t *buf, size_t len, struct pchan_hdr *h)
{
	static const uint8_t magic[4] = { 0x46, 0x4C, 0x50, 0x43 };

	for (size_t i = 0; i < 4 && i < len; i++) {
		if (buf[i] != magic[i])
			return PCHAN_BAD_MAGIC;
	}
	if (len > 4 && buf[4] != PCHAN_VERSION)
		return PCHAN_BAD_VERSION;
	if (len < PCHAN_HDR_LEN)
		return PCHAN_NEED_MORE;
	h->type = buf[5];
	h->flags = (uint16_t)(buf[6] << 8 | buf[7]);
	h->seq = bytes_get_be64(buf + 8);
	h->page = bytes_get_be64(buf + 16);
	h->count = bytes_get_be32(buf + 24);
	h->length = bytes_get_be32(buf + 28);
	if (h->length > PCHAN_MAX_PAYLOAD)
		return PCHAN_TOO_LARGE;
	if (h->flags)
		return PCHAN_BAD_FLAGS;
	return PCHAN_OK;
}

/* A page range inside the region, counted without overflow. */
static bool in_region(const struct pchan_hdr *h, const struct pchan_geom *g)
{
	return g->n_pages && h->count && h->page < g->n_pages && h->count <= g->n_pages - h->page;
}

/*
 * Shape of a decoded frame against the region (g->n_pages == 0 before
 * SETUP: page frames are refused then).  Everything the receiver indexes
 * with is checked here, so the fuzzer covers it.
 */
enum pchan_result pchan_check(const struct pchan_hdr *h, const struct pchan_geom *g)
{
	switch (h->type) {
	case PCHAN_T_HELLO:
		return h->length == PCHAN_HELLO_LEN ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_CHALLENGE:
		return h->length == PCHAN_NONCE_LEN ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_AUTH:
	case PCHAN_T_AUTH_OK:
		return h->length == PCHAN_MAC_LEN ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_ERROR:
		return h->length <= 1024 ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_SETUP:
		return h->length == PCHAN_SETUP_LEN || h->length == PCHAN_SETUP_LEN_V1 ? PCHAN_OK
										: PCHAN_BAD_SHAPE;
	case PCHAN_T_PAGES:
		if (!in_region(h, g) || (uint64_t)h->count * g->page_size != h->length)
			return PCHAN_BAD_SHAPE;
		return PCHAN_OK;
	case PCHAN_T_PAGES_Z:
		/* never larger than the pages themselves: the source sends those raw instead */
		if (!in_region(h, g) || !h->length || h->length >= (uint64_t)h->count * g->page_size ||
		    (uint64_t)h->count * g->page_size > PCHAN_MAX_PAYLOAD)
			return PCHAN_BAD_SHAPE;
		return PCHAN_OK;
	case PCHAN_T_ZERO:
	case PCHAN_T_CURRENT:
		return in_region(h, g) && !h->length ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_STALE:
		/* whole words of the bitmap, starting at a word boundary */
		/* in 64 bits: count + 63 wraps in 32 (found by fuzz_pchan, region of 2^32 pages) */
		if (!in_region(h, g) || h->page % 64 || h->length != ((uint64_t)h->count + 63) / 64 * 8)
			return PCHAN_BAD_SHAPE;
		return PCHAN_OK;
	case PCHAN_T_SWITCHOVER:
		return h->length == 8 ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_ACK:
	case PCHAN_T_DONE:
	case PCHAN_T_COMPLETE:
		return h->length == 0 ? PCHAN_OK : PCHAN_BAD_SHAPE;
	case PCHAN_T_REQUEST:
		return in_region(h, g) && h->count <= PCHAN_MAX_DEMAND && !h->length ? PCHAN_OK
										      : PCHAN_BAD_SHAPE;
	}
	return PCHAN_BAD_TYPE;
}

const char *pchan_result_str(enum pchan_result r)
{
	switch (r) {
	case PCHAN_OK:
		return "ok";
	case PCHAN_NEED_MORE:
		return "incomplete frame";
	case PCHAN_BAD_MAGIC:
		return "bad magic, expected \"FLPC\"";
	case PCHAN_BAD_VERSION:
		return "unsupported page channel version";
	case PCHAN_TOO_LARGE:
		return "payload larger than 1 MiB";
	case PCHAN_BAD_FLAGS:
		return "flags must be 0";
	case PCHAN_BAD_TYPE:
		return "unknown frame type";
	case PCHAN_BAD_SHAPE:
		return "frame length or page range does not fit its type or the region";
	}
	return "unknown";
}

const char *pchan_type_name(uint8_t type)
{
	switch (type) {
	case PCHAN_T_HELLO: return "hello";
	case PCHAN_T_CHALLENGE: return "challenge";
	case PCHAN_T_AUTH: return "auth";
	case PCHAN_T_AUTH_OK: return "auth_ok";
	case PCHAN_T_ERROR: return "error";
	case PCHAN_T_SETUP: return "setup";
	case PCHAN_T_PAGES: return "pages";
	case PCHAN_T_ZERO: return "zero";
	case PCHAN_T_PAGES_Z: return "pages_z";
	case PCHAN_T_CURRENT: return "current";
	case PCHAN_T_STALE: return "stale";
	case PCHAN_T_SWITCHOVER: return "switchover";
	case PCHAN_T_ACK: return "ack";
	case PCHAN_T_DONE: return "done";
	case PCHAN_T_COMPLETE: return "complete";
	case PCHAN_T_REQUEST: return "request";
	}
	return "unknown";
}

const char *pchan_kind_name(enum pchan_kind kind)
{
	return kind == PCHAN_MAIN ? "main" : kind == PCHAN_PREEMPT ? "preempt" : "push";
}

/* hello payload: "FLPC", the migration id (36 bytes), kind, 3 zero bytes, nonce */
void pchan_encode_hello(const struct pchan_hello *h, uint8_t out[PCHAN_HELLO_LEN])
{
	memcpy(out, "FLPC", 4);
	memcpy(out + 4, h->id, PCHAN_ID_LEN);
	out[40] = (uint8_t)h->kind;
	out[41] = out[42] = out[43] = 0;
	memcpy(out + 44, h->nonce, PCHAN_NONCE_LEN);
}

int pchan_decode_hello(const uint8_t *buf, size_t len, struct pchan_hello *h)
{
	if (len != PCHAN_HELLO_LEN || memcmp(buf, "FLPC", 4) || buf[40] > PCHAN_KIND_LAST || buf[41] ||
	    buf[42] || buf[43])
		return -1;
	for (size_t i = 0; i < PCHAN_ID_LEN; i++) {
		uint8_t c = buf[4 + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == '-'))
			return -1;
	}
	memcpy(h->id, buf + 4, PCHAN_ID_LEN);
	h->id[PCHAN_ID_LEN] = '\0';
	h->kind = (enum pchan_kind)buf[40];
	memcpy(h->nonce, buf + 44, PCHAN_NONCE_LEN);
	return 0;
}

/*
 * HMAC-SHA256(secret, label || id || kind || client nonce || server nonce).
 * The label differs per direction, so a proof cannot be reflected back to
 * its sender; both nonces make every proof single-use.
 */
int pchan_mac(const uint8_t secret[PCHAN_SECRET_LEN], bool server, const char *id,
	      enum pchan_kind kind, const uint8_t cnonce[PCHAN_NONCE_LEN],
	      const uint8_t snonce[PCHAN_NONCE_LEN], uint8_t out[PCHAN_MAC_LEN])
{
	uint8_t msg[16 + PCHAN_ID_LEN + 1 + 2 * PCHAN_NONCE_LEN];
	unsigned int len = 0;
	uint8_t *res;

	memcpy(msg, server ? "FLPC1 server    " : "FLPC1 client    ", 16);
	memcpy(msg + 16, id, PCHAN_ID_LEN);
	msg[16 + PCHAN_ID_LEN] = (uint8_t)kind;
	memcpy(msg + 17 + PCHAN_ID_LEN, cnonce, PCHAN_NONCE_LEN);
	memcpy(msg + 17 + PCHAN_ID_LEN + PCHAN_NONCE_LEN, snonce, PCHAN_NONCE_LEN);
	res = HMAC(EVP_sha256(), secret, PCHAN_SECRET_LEN, msg, sizeof(msg), out, &len);
	OPENSSL_cleanse(msg, sizeof(msg));
	return res && len == PCHAN_MAC_LEN ? 0 : -1;
}

bool pchan_mac_equal(const uint8_t *a, const uint8_t *b)
{
	return CRYPTO_memcmp(a, b, PCHAN_MAC_LEN) == 0;
}

int pchan_nonce(uint8_t out[PCHAN_NONCE_LEN])
{
	size_t got = 0;

	while (got < PCHAN_NONCE_LEN) {
		ssize_t n = getrandom(out + got, PCHAN_NONCE_LEN - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int pchan_parse_secret(const char *hex, uint8_t out[PCHAN_SECRET_LEN])
{
	if (!hex || strlen(hex) != 2 * PCHAN_SECRET_LEN)
		return -1;
	for (size_t i = 0; i < PCHAN_SECRET_LEN; i++) {
		int hi = bytes_hexval(hex[2 * i]), lo = bytes_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ---- blocking I/O ------------------------------------------------------ */

int pchan_sendv(struct ptls_conn *c, const struct pchan_hdr *h, const void *a, size_t alen,
		const void *b, size_t blen)
{
	uint8_t hdr[PCHAN_HDR_LEN];
	struct iovec iov[3] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)a, .iov_len = alen },
		{ .iov_base = (void *)b, .iov_len = blen },
	};

	pchan_encode_hdr(h, hdr);
	return ptls_writev(c, iov, 3);
}

int pchan_send(struct ptls_conn *c, const struct pchan_hdr *h, const void *payload)
{
	return pchan_sendv(c, h, payload, h->length, NULL, 0);
}

/*
 * One frame: 0, -1 with errno (I/O, end of stream: ECONNRESET, timeout:
 * ETIMEDOUT, a TLS record that fails its integrity check: EBADMSG), or a
 * positive pchan_result when the peer broke the protocol.  timeout_ms < 0
 * waits for ever (another thread ends the wait with ptls_shutdown()).
 */
int pchan_recv(struct ptls_conn *c, struct pchan_hdr *h, void *payload, size_t cap,
	       const struct pchan_geom *g, int timeout_ms)
{
	int r = pchan_recv_hdr(c, h, g, timeout_ms);

	if (r)
		return r;
	if (h->length > cap)
		return PCHAN_TOO_LARGE;
	return pchan_recv_payload(c, payload, h->length, timeout_ms);
}

/* The payload of a header read with pchan_recv_hdr(), wherever the caller wants it. */
int pchan_recv_payload(struct ptls_conn *c, void *buf, size_t len, int timeout_ms)
{
	return len && ptls_read(c, buf, len, timeout_ms) ? -1 : 0;
}

/* A header, checked (pchan_recv()'s results); its payload is still to be read. */
int pchan_recv_hdr(struct ptls_conn *c, struct pchan_hdr *h, const struct pchan_geom *g,
		   int timeout_ms)
{
	uint8_t hdr[PCHAN_HDR_LEN];
	enum pchan_result r;

	if (ptls_read(c, hdr, 5, timeout_ms))
		return -1;
	r = pchan_decode_hdr(hdr, 5, h);
	if (r != PCHAN_NEED_MORE)
		return r == PCHAN_OK ? PCHAN_BAD_SHAPE : (int)r;
	if (ptls_read(c, hdr + 5, PCHAN_HDR_LEN - 5, timeout_ms))
		return -1;
	r = pchan_decode_hdr(hdr, PCHAN_HDR_LEN, h);
	if (r == PCHAN_OK)
		r = pchan_check(h, g);
	return (int)r;
}

static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int pchan_connect(const char *addr, int timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[256], port_s[8];
	uint16_t port;
	int fd = -1;

	if (netaddr_parse(addr, host, sizeof(host), &port)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &res)) {
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
			goto next;
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) ||
		    err) {
			errno = err ? err : ETIMEDOUT;
			goto next;
		}
		/* ptls.c waits in poll(2): the socket stays non-blocking */
		tune(fd);
		break;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Listens on addr ("host:port", port 0 picks one); bound gets host:port. */
int pchan_listen(const char *addr, char *bound, size_t bound_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port_s[8], nhost[NI_MAXHOST], nport[NI_MAXSERV];
	uint16_t port;
	int fd, one = 1;

	if (netaddr_parse(addr, host, sizeof(host), &port)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &res)) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto free_res;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, nhost, sizeof(nhost), nport, sizeof(nport),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		close(fd);
		fd = -1;
		goto free_res;
	}
	snprintf(bound, bound_len, strchr(nhost, ':') ? "[%s]:%s" : "%s:%s", nhost, nport);
free_res:
	freeaddrinfo(res);
	return fd;
}
