/*
 * TLS 1.3 for the page channel (PROTOCOL.md §3.2): the two OpenSSL
 * contexts of an agent, the handshake under one deadline, and a
 * connection that two threads may use at once (one reading, one writing),
 * which OpenSSL does not allow on one SSL object by itself: the socket is
 * non-blocking, every SSL call is made under the connection's lock, and
 * waiting happens in poll(2) outside it.
 *
 * Peers authenticate with the job's secret as an external PSK (identity:
 * the migration id; key: HMAC-SHA256(secret, "FLPC1 tls psk")), or, when
 * the operator configures certificates, with X.509 certificates in both
 * directions (the PSK is then not offered, so a certificate is always
 * required).  The plaintext mode exists only behind an explicit option,
 * on both agents, for measuring what TLS costs.
 */
#ifndef FAULTLINE_PTLS_H
#define FAULTLINE_PTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pchan.h"

struct ptls_opts {
	bool plaintext;        /* --page-channel-plaintext */
	const char *cert, *key, *ca; /* all three or none */
};

struct ptls;
struct ptls_conn;

/* Server side: the secret of job `id`; 0, or -1 when there is no such job. */
typedef int (*ptls_psk_fn)(void *arg, const char *id, uint8_t secret[PCHAN_SECRET_LEN]);

struct ptls *ptls_new(const struct ptls_opts *o, char *why, size_t why_len);
void ptls_free(struct ptls *t);
bool ptls_plaintext(const struct ptls *t);
bool ptls_certs(const struct ptls *t);

/*
 * Both take fd on success (ptls_close() closes it), never on failure.
 * ptls_accept's id (PCHAN_ID_LEN + 1 bytes): on failure, the job whose
 * key the peer named but did not prove, else "".
 */
struct ptls_conn *ptls_accept(struct ptls *t, int fd, ptls_psk_fn fn, void *arg,
			      uint64_t deadline_ns, char *id, char *why, size_t why_len);
struct ptls_conn *ptls_connect(struct ptls *t, int fd, const char *host, const char *id,
			       const uint8_t secret[PCHAN_SECRET_LEN], uint64_t deadline_ns,
			       char *why, size_t why_len);

struct iovec;

/* One frame, whole, even with another thread writing (frames never interleave). */
int ptls_writev(struct ptls_conn *c, const struct iovec *iov, int n);
int ptls_read(struct ptls_conn *c, void *buf, size_t len, int timeout_ms);
bool ptls_pending(struct ptls_conn *c);
void ptls_set_deadline(struct ptls_conn *c, uint64_t deadline_ns);
const char *ptls_identity(const struct ptls_conn *c);
int ptls_fd(const struct ptls_conn *c);
void ptls_shutdown(struct ptls_conn *c);
void ptls_finish(struct ptls_conn *c);
void ptls_close(struct ptls_conn *c);

#endif /* FAULTLINE_PTLS_H */
