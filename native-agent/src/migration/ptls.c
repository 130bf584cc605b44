/*
 * Page channel TLS; see ptls.h and PROTOCOL.md §3.2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mono.h"
#include "ptls.h"

/* a TLS record's plaintext at most: one SSL_write per record */
#define PTLS_CHUNK 16384
#define PSK_SUITE_NAME "TLS_AES_128_GCM_SHA256"
static const unsigned char PSK_SUITE[2] = { 0x13, 0x01 }; /* PSK_SUITE_NAME */

struct ptls {
	SSL_CTX *srv, *cli; /* NULL in plaintext mode */
	bool plaintext, certs;
};

struct ptls_conn {
	int fd;
	SSL *ssl;             /* NULL: plaintext */
	pthread_mutex_t mu;   /* every call on ssl */
	pthread_mutex_t wmu;  /* one frame at a time */
	_Atomic uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: none */
	/* the handshake's PSK callbacks */
	ptls_psk_fn psk_fn;
	void *psk_arg;
	uint8_t psk[PCHAN_SECRET_LEN];
	char identity[PCHAN_ID_LEN + 1];
};

static void ssl_why(char *why, size_t why_len, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(why, why_len, "%s: %s", what, buf);
	} else {
		snprintf(why, why_len, "%s: %s", what, errno ? strerror(errno) : "peer closed");
	}
	ERR_clear_error();
}

/* ---- contexts ---------------------------------------------------------- */

static SSL_CTX *new_ctx(const struct ptls_opts *o, bool server, char *why, size_t why_len)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx) {
		ssl_why(why, why_len, "cannot create a TLS context");
		return NULL;
	}
	/* TLS 1.3 only: PSK with (EC)DHE, AEAD records, no renegotiation, no tickets */
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		ssl_why(why, why_len, "cannot require TLS 1.3");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * A server takes a PSK only with a suite of the PSK's hash, and picks the
	 * suite first: with the PSK, offer exactly the PSK's suite.
	 */
	if (!o->cert && !SSL_CTX_set_ciphersuites(ctx, PSK_SUITE_NAME)) {
		ssl_why(why, why_len, "cannot set the TLS 1.3 cipher suite");
		goto fail;
	}
	if (o->cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
			ssl_why(why, why_len, "cannot load --page-channel-cert");
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			ssl_why(why, why_len, "cannot load --page-channel-key (or it does not match the "
				"certificate)");
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
			ssl_why(why, why_len, "cannot load --page-channel-ca");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct ptls *ptls_new(const struct ptls_opts *o, char *why, size_t why_len)
{
	struct ptls *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	t->plaintext = o->plaintext;
	if (t->plaintext)
		return t;
	if (!!o->cert != !!o->key || !!o->cert != !!o->ca) {
		snprintf(why, why_len, "--page-channel-cert, --page-channel-key and "
			 "--page-channel-ca go together");
		goto fail;
	}
	t->certs = o->cert != NULL;
	t->srv = new_ctx(o, true, why, why_len);
	t->cli = t->srv ? new_ctx(o, false, why, why_len) : NULL;
	if (!t->cli)
		goto fail;
	return t;
fail:
	ptls_free(t);
	return NULL;
}

void ptls_free(struct ptls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->srv);
	SSL_CTX_free(t->cli);
	free(t);
}

bool ptls_plaintext(const struct ptls *t)
{
	return t->plaintext;
}

bool ptls_certs(const struct ptls *t)
{
	return t->certs;
}

/* ---- external PSK ------------------------------------------------------ */

/* The TLS key is not the secret itself: the HMAC handshake keeps its own key. */
static int derive_psk(const uint8_t secret[PCHAN_SECRET_LEN], uint8_t out[PCHAN_SECRET_LEN])
{
	static const char label[] = "FLPC1 tls psk";
	unsigned int len = 0;

	return HMAC(EVP_sha256(), secret, PCHAN_SECRET_LEN, (const unsigned char *)label,
		    sizeof(label) - 1, out, &len) && len == PCHAN_SECRET_LEN ? 0 : -1;
}

static SSL_SESSION *psk_session(SSL *ssl, const uint8_t psk[PCHAN_SECRET_LEN], const EVP_MD *md)
{
	const SSL_CIPHER *ci = SSL_CIPHER_find(ssl, PSK_SUITE);
	SSL_SESSION *s;

	if (!ci || (md && md != SSL_CIPHER_get_handshake_digest(ci)))
		return NULL;
	s = SSL_SESSION_new();
	if (!s)
		return NULL;
	if (!SSL_SESSION_set1_master_key(s, psk, PCHAN_SECRET_LEN) || !SSL_SESSION_set_cipher(s, ci) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

static int find_psk(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
	struct ptls_conn *c = SSL_get_app_data(ssl);
	uint8_t secret[PCHAN_SECRET_LEN];
	char id[PCHAN_ID_LEN + 1];

	*sess = NULL;
	if (len != PCHAN_ID_LEN || !c->psk_fn)
		return 1; /* not ours: the handshake fails for want of a key */
	memcpy(id, identity, len);
	id[len] = '\0';
	if (c->psk_fn(c->psk_arg, id, secret))
		return 1;
	if (!derive_psk(secret, c->psk)) {
		*sess = psk_session(ssl, c->psk, NULL);
		memcpy(c->identity, id, sizeof(id));
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(c->psk, sizeof(c->psk));
	return *sess ? 1 : 0;
}

static int use_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
		   SSL_SESSION **sess)
{
	struct ptls_conn *c = SSL_get_app_data(ssl);

	*sess = psk_session(ssl, c->psk, md);
	*id = (const unsigned char *)c->identity;
	*idlen = *sess ? PCHAN_ID_LEN : 0;
	return 1;
}

/* ---- connections ------------------------------------------------------- */

/* Waits for ev on c's socket: timeout_ms per wait (< 0: none), the deadline over all. */
static int wait_fd(struct ptls_conn *c, short ev, int timeout_ms)
{
	for (;;) {
		uint64_t dl = c->deadline_ns;
		int t = timeout_ms, r;
		struct pollfd p = { .fd = c->fd, .events = ev };

		if (dl) {
			uint64_t now = mono_now_ns();
			int left;

			if (now >= dl) {
				errno = ETIMEDOUT;
				return -1;
			}
			left = (int)((dl - now + 999999) / 1000000);
			if (t < 0 || left < t)
				t = left;
		}
		r = poll(&p, 1, t);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r)
			return 0;
		if (!dl || mono_now_ns() >= dl || timeout_ms >= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

static struct ptls_conn *conn_new(int fd)
{
	struct ptls_conn *c = calloc(1, sizeof(*c));
	int fl = fcntl(fd, F_GETFL);

	if (!c)
		return NULL;
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	return c;
}

static void conn_free(struct ptls_conn *c)
{
	SSL_free(c->ssl);
	OPENSSL_cleanse(c->psk, sizeof(c->psk));
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->wmu);
	free(c);
}

/* Drives SSL_accept / SSL_connect to the end, or to the deadline. */
static int handshake(struct ptls_conn *c, bool server, char *why, size_t why_len)
{
	for (;;) {
		int r, e;

		ERR_clear_error();
		errno = 0;
		r = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, -1)) {
				snprintf(why, why_len, "TLS handshake: %s", strerror(errno));
				return -1;
			}
			continue;
		}
		ssl_why(why, why_len, "TLS handshake");
		return -1;
	}
}

struct ptls_conn *ptls_accept(struct ptls *t, int fd, ptls_psk_fn fn, void *arg,
			      uint64_t deadline_ns, char *id, char *why, size_t why_len)
{
	struct ptls_conn *c = conn_new(fd);

	*id = '\0';

	if (!c) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	c->deadline_ns = deadline_ns;
	if (t->plaintext)
		return c;
	c->ssl = SSL_new(t->srv);
	if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
		ssl_why(why, why_len, "cannot set up TLS");
		goto fail;
	}
	SSL_set_app_data(c->ssl, c);
	if (!t->certs) {
		c->psk_fn = fn;
		c->psk_arg = arg;
		SSL_set_psk_find_session_callback(c->ssl, find_psk);
	}
	if (handshake(c, true, why, why_len)) {
		/* a key was found for the peer's job: it proved no knowledge of it */
		snprintf(id, PCHAN_ID_LEN + 1, "%s", c->identity);
		goto fail;
	}
	return c;
fail:
	conn_free(c);
	return NULL;
}

struct ptls_conn *ptls_connect(struct ptls *t, int fd, const char *host, const char *id,
			       const uint8_t secret[PCHAN_SECRET_LEN], uint64_t deadline_ns,
			       char *why, size_t why_len)
{
	struct ptls_conn *c = conn_new(fd);
	unsigned char ip[16];

	if (!c) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	c->deadline_ns = deadline_ns;
	if (t->plaintext)
		return c;
	c->ssl = SSL_new(t->cli);
	if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
		ssl_why(why, why_len, "cannot set up TLS");
		goto fail;
	}
	SSL_set_app_data(c->ssl, c);
	if (t->certs) {
		/* the destination's certificate must name the address the job was given */
		bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

		if (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host)
			  : !SSL_set1_host(c->ssl, host)) {
			ssl_why(why, why_len, "cannot set the expected peer name");
			goto fail;
		}
		if (!is_ip)
			SSL_set_tlsext_host_name(c->ssl, host);
	} else {
		snprintf(c->identity, sizeof(c->identity), "%s", id);
		if (strlen(c->identity) != PCHAN_ID_LEN || derive_psk(secret, c->psk)) {
			snprintf(why, why_len, "bad migration id or secret");
			goto fail;
		}
		SSL_set_psk_use_session_callback(c->ssl, use_psk);
	}
	if (handshake(c, false, why, why_len)) {
		char e[200];

		/* a wrong PSK shows as a failed handshake (bad binder or decrypt error) */
		snprintf(e, sizeof(e), "%s", why);
		if (!t->certs)
			snprintf(why, why_len, "authentication failed (%.150s)", e);
		goto fail;
	}
	OPENSSL_cleanse(c->psk, sizeof(c->psk));
	return c;
fail:
	conn_free(c);
	return NULL;
}

/* SSL_ERROR_* of a failed call as errno: the callers log strerror(). */
static void set_errno(int e)
{
	unsigned long ssl = ERR_peek_error();

	if (e == SSL_ERROR_ZERO_RETURN)
		errno = ECONNRESET;
	else if (e == SSL_ERROR_SYSCALL)
		errno = errno ? errno : ECONNRESET;
	else if (ERR_GET_LIB(ssl) == ERR_LIB_SSL &&
		 ERR_GET_REASON(ssl) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		errno = ECONNRESET; /* frames carry their length: a cut is seen anyway */
	else if (ERR_GET_LIB(ssl) == ERR_LIB_SSL &&
		 ERR_GET_REASON(ssl) == SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)
		errno = EBADMSG; /* a record that fails its integrity check */
	else
		errno = EPROTO;
	ERR_clear_error();
}

/* One SSL_write / SSL_read under the lock; 1: done (n set), 0: wait for *ev, -1: error. */
static int ssl_step(struct ptls_conn *c, bool wr, void *buf, size_t len, size_t *n, short *ev)
{
	int ok, e = 0;

	pthread_mutex_lock(&c->mu);
	ERR_clear_error();
	errno = 0;
	ok = wr ? SSL_write_ex(c->ssl, buf, len, n) : SSL_read_ex(c->ssl, buf, len, n);
	if (!ok) {
		e = SSL_get_error(c->ssl, 0);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			set_errno(e);
	}
	pthread_mutex_unlock(&c->mu);
	if (ok)
		return 1;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	return -1;
}

static int write_all(struct ptls_conn *c, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n = 0;
		short ev = 0;
		int r = ssl_step(c, true, (void *)p, len, &n, &ev);

		if (r < 0 || (!r && wait_fd(c, ev, -1)))
			return -1;
		if (r) {
			p += n;
			len -= n;
		}
	}
	return 0;
}

static int writev_plain(struct ptls_conn *c, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = writev(c->fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && !wait_fd(c, POLLOUT, -1))
				continue;
			return -1;
		}
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * TLS: the pieces are gathered into records of at most 16 KiB, so a
 * header travels in the same record as the start of its payload.
 */
int ptls_writev(struct ptls_conn *c, const struct iovec *iov, int n)
{
	struct iovec v[4];
	uint8_t chunk[PTLS_CHUNK];
	size_t fill = 0;
	int r = 0;

	if (n > 4) {
		errno = EINVAL;
		return -1;
	}
	memcpy(v, iov, sizeof(*iov) * (size_t)n);
	pthread_mutex_lock(&c->wmu);
	if (!c->ssl) {
		r = writev_plain(c, v, n);
		goto unlock;
	}
	for (int i = 0; i < n && !r; i++) {
		const uint8_t *p = v[i].iov_base;
		size_t left = v[i].iov_len;

		while (left && !r) {
			size_t k = left < PTLS_CHUNK - fill ? left : PTLS_CHUNK - fill;

			memcpy(chunk + fill, p, k);
			fill += k;
			p += k;
			left -= k;
			if (fill == PTLS_CHUNK) {
				r = write_all(c, chunk, fill);
				fill = 0;
			}
		}
	}
	if (!r && fill)
		r = write_all(c, chunk, fill);
unlock:
	pthread_mutex_unlock(&c->wmu);
	return r;
}

/* Exactly len bytes: 0, or -1 with errno (ECONNRESET at end of stream, ETIMEDOUT, EBADMSG). */
int ptls_read(struct ptls_conn *c, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		size_t n = 0;
		short ev = POLLIN;
		int r;

		if (c->ssl) {
			r = ssl_step(c, false, (uint8_t *)buf + got, len - got, &n, &ev);
		} else {
			ssize_t k = recv(c->fd, (uint8_t *)buf + got, len - got, 0);

			if (k < 0 && errno == EINTR)
				continue;
			r = k > 0 ? 1 : !k ? (errno = ECONNRESET, -1) : errno == EAGAIN ? 0 : -1;
			n = k > 0 ? (size_t)k : 0;
		}
		if (r < 0 || (!r && wait_fd(c, ev, timeout_ms)))
			return -1;
		got += n;
	}
	return 0;
}

/* Input is there to read now (decrypted and buffered, or on the socket). */
bool ptls_pending(struct ptls_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	bool buffered = false;

	if (c->ssl) {
		pthread_mutex_lock(&c->mu);
		buffered = SSL_has_pending(c->ssl);
		pthread_mutex_unlock(&c->mu);
	}
	return buffered || poll(&p, 1, 0) == 1;
}

void ptls_set_deadline(struct ptls_conn *c, uint64_t deadline_ns)
{
	c->deadline_ns = deadline_ns;
}

/* The PSK identity the peer proved (the migration id); "" with certificates. */
const char *ptls_identity(const struct ptls_conn *c)
{
	return c->identity;
}

int ptls_fd(const struct ptls_conn *c)
{
	return c->fd;
}

/* Any thread: ends the other threads' waits on c (they see end of stream). */
void ptls_shutdown(struct ptls_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
}

/*
 * The end of what this side sends: TLS close_notify (best effort), then
 * FIN, after everything written so far.  Reading goes on until the peer
 * closes too, so that no input is left unread when the socket is closed
 * (which would reset the connection and could discard what is still
 * queued to go out).
 */
void ptls_finish(struct ptls_conn *c)
{
	pthread_mutex_lock(&c->wmu);
	if (c->ssl) {
		pthread_mutex_lock(&c->mu);
		ERR_clear_error();
		SSL_shutdown(c->ssl);
		ERR_clear_error();
		pthread_mutex_unlock(&c->mu);
	}
	shutdown(c->fd, SHUT_WR);
	pthread_mutex_unlock(&c->wmu);
}

/*
 * What the peer sent and nobody read is dropped first: closing a socket
 * with unread input resets the connection, and the peer's kernel could
 * then discard the error frame we just sent before the peer reads it.
 */
void ptls_close(struct ptls_conn *c)
{
	uint8_t sink[4096];

	if (!c)
		return;
	if (c->ssl) {
		ERR_clear_error();
		SSL_shutdown(c->ssl); /* close_notify, if the socket takes it now */
		ERR_clear_error();
	}
	shutdown(c->fd, SHUT_WR);
	for (int i = 0; i < 256 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(c->fd);
	conn_free(c);
}
