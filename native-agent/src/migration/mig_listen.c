/*
 * The page channel listener (PROTOCOL.md §3): accepts, limits handshakes
 * per peer, runs TLS and the proof of the job's secret, and hands an
 * authenticated connection to its destination job (mig_dst.c), whose
 * reader it then becomes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "afile.h"
#include "agent.h"
#include "bitmap.h"
#include "conn.h"
#include "hist.h"
#include "mig.h"
#include "mono.h"
#include "netaddr.h"
#include "ptls.h"
#include "region.h"
#include "srv.h"
#include "track.h"
#include "uffd_compat.h"

_Static_assert(OPTS_MAX_PUSH == PCHAN_MAX_PUSH, "--page-channel-max-push and the page channel disagree");

#define LOG_COMP "migration"
#include "log.h"
#include "mig_reg.h"

/* ---- the page channel listener ----------------------------------------- */

struct hs {
	struct mig_reg *reg;
	int fd;
	char peer[INET6_ADDRSTRLEN];
};

static void refuse(struct ptls_conn *c, const char *why)
{
	struct pchan_hdr h = { .type = PCHAN_T_ERROR, .length = (uint32_t)strlen(why) + 1 };

	pchan_send(c, &h, why);
}

/* TLS's PSK lookup: the secret of a destination job (any thread). */
static int psk_of(void *arg, const char *id, uint8_t secret[PCHAN_SECRET_LEN])
{
	struct mig_reg *reg = arg;
	struct mig *m;
	int r = -1;

	pthread_mutex_lock(&reg->mu);
	m = mig_find_locked(reg, id);
	/* a job read back from its journal has no secret until it is given again */
	if (m && m->role == MIG_DEST && !m->need_secret) {
		memcpy(secret, m->secret, PCHAN_SECRET_LEN);
		r = 0;
	}
	pthread_mutex_unlock(&reg->mu);
	return r;
}

/* The handshake is over (either way): the peer's slot is free again. */
static void hs_done(struct mig_reg *reg, const char *peer)
{
	pthread_mutex_lock(&reg->mu);
	for (unsigned i = 0; i < MIG_MAX_HANDSHAKES; i++) {
		if (reg->peers[i].n && !strcmp(reg->peers[i].addr, peer)) {
			reg->peers[i].n--;
			break;
		}
	}
	reg->pending--;
	pthread_mutex_unlock(&reg->mu);
}

/*
 * One incoming connection: TLS, then the proof of the job's secret, all
 * within one deadline from the accept; then it becomes its reader.
 */
static void *hs_main(void *arg)
{
	struct hs *hs = arg;
	struct mig_reg *reg = hs->reg;
	struct agent *ag = reg->ag;
	struct pchan_geom g = { 0 };
	struct pchan_hello hello;
	struct pchan_hdr h;
	uint8_t buf[PCHAN_HELLO_LEN], snonce[PCHAN_NONCE_LEN], mac[PCHAN_MAC_LEN],
		secret[PCHAN_SECRET_LEN];
	struct ptls_conn *c;
	struct mig *m = NULL;
	uint64_t last = 0, session = 0;
	bool counted = true;
	char why[256], named[PCHAN_ID_LEN + 1];
	int r;

	c = ptls_accept(reg->tls, hs->fd, psk_of, reg,
			mono_now_ns() + (uint64_t)ag->opts.page_channel_handshake_ms * 1000000u, named,
			why, sizeof(why));
	if (!c && *named) {
		pr_warn(&ag->log, "page channel peer failed authentication, dropped",
			LF_STR("peer", hs->peer), LF_STR("migration", named), LF_STR("error", why));
		close(hs->fd);
		goto out;
	}
	if (!c) {
		pr_warn(&ag->log, "page channel TLS handshake failed, dropped", LF_STR("peer", hs->peer),
			LF_STR("error", why));
		close(hs->fd);
		goto out;
	}
	r = pchan_recv(c, &h, buf, sizeof(buf), &g, -1);
	if (r || h.type != PCHAN_T_HELLO || pchan_decode_hello(buf, h.length, &hello)) {
		const char *e = r > 0 ? pchan_result_str(r) : r < 0 ? strerror(errno)
								   : "expected a hello frame";

		pr_warn(&ag->log, "page channel peer dropped before authentication",
			LF_STR("peer", hs->peer), LF_STR("error", e));
		if (r >= 0)
			refuse(c, e);
		goto close_c;
	}
	/* the TLS key was this job's: the hello must not name another one */
	if (*ptls_identity(c) && strcmp(ptls_identity(c), hello.id)) {
		pr_warn(&ag->log, "page channel peer failed authentication, dropped",
			LF_STR("peer", hs->peer), LF_STR("migration", hello.id));
		refuse(c, "authentication failed");
		goto close_c;
	}
	pthread_mutex_lock(&reg->mu);
	m = mig_find_locked(reg, hello.id);
	if (m && m->role == MIG_DEST && !m->need_secret) {
		m->refs++;
		memcpy(secret, m->secret, sizeof(secret));
	} else {
		m = NULL;
	}
	pthread_mutex_unlock(&reg->mu);
	if (!m) {
		pr_warn(&ag->log, "page channel peer asked for an unknown migration, dropped",
			LF_STR("peer", hs->peer), LF_STR("migration", hello.id));
		refuse(c, "unknown migration");
		goto close_c;
	}
	h = (struct pchan_hdr){ .type = PCHAN_T_CHALLENGE, .length = PCHAN_NONCE_LEN };
	if (pchan_nonce(snonce) || pchan_send(c, &h, snonce))
		goto put;
	r = pchan_recv(c, &h, buf, sizeof(buf), &g, -1);
	if (r || h.type != PCHAN_T_AUTH ||
	    pchan_mac(secret, false, hello.id, hello.kind, hello.nonce, snonce, mac) ||
	    !pchan_mac_equal(mac, buf)) {
		pr_warn(&ag->log, "page channel peer failed authentication, dropped",
			LF_STR("peer", hs->peer), LF_STR("migration", hello.id),
			LF_STR("error", r < 0 ? strerror(errno) : "wrong proof"));
		refuse(c, "authentication failed");
		goto put;
	}
	/* authenticated: from here on the connection does not hold a handshake slot */
	ptls_set_deadline(c, 0);
	hs_done(reg, hs->peer);
	counted = false;
	if (pchan_mac(secret, true, hello.id, hello.kind, hello.nonce, snonce, mac) ||
	    mig_dst_conn(m, c, hello.kind, &last, &session)) {
		refuse(c, "the migration does not take connections now");
		goto put;
	}
	h = (struct pchan_hdr){ .type = PCHAN_T_AUTH_OK, .seq = last,
				.count = PCHAN_CAPS | ag->opts.page_channel_max_push << PCHAN_CAP_PUSH_SHIFT,
				.length = PCHAN_MAC_LEN };
	pchan_send(c, &h, mac); /* a failure shows in the reader at once */
	pr_info(&ag->log, "page channel connected", LF_STR("peer", hs->peer),
		LF_STR("migration", m->id), LF_STR("channel", pchan_kind_name(hello.kind)),
		LF_STR("tls", ptls_plaintext(reg->tls) ? "off" : ptls_certs(reg->tls) ? "certificates"
										   : "psk"),
		LF_UINT("last_seq", last));
	OPENSSL_cleanse(secret, sizeof(secret));
	mig_dst_run_conn(m, c, hello.kind, session);
	c = NULL; /* closed by the reader */
put:
	OPENSSL_cleanse(secret, sizeof(secret));
	mig_put(reg, m);
close_c:
	ptls_close(c);
out:
	if (counted)
		hs_done(reg, hs->peer);
	pthread_mutex_lock(&reg->mu);
	reg->handshakes--;
	pthread_cond_broadcast(&reg->cond);
	pthread_mutex_unlock(&reg->mu);
	free(hs);
	return NULL;
}

/*
 * Admits a connection into its handshake: at most MIG_MAX_HANDSHAKES at
 * once, and at most MIG_MAX_PEER_HANDSHAKES from one address, so that
 * one host trickling bytes cannot take every slot; each slot is held for
 * at most the handshake deadline.  Under reg->mu.
 */
static const char *admit_locked(struct mig_reg *reg, const char *peer)
{
	unsigned free_slot = MIG_MAX_HANDSHAKES;

	if (reg->pending >= MIG_MAX_HANDSHAKES)
		return "too many page channel handshakes, dropped";
	for (unsigned i = 0; i < MIG_MAX_HANDSHAKES; i++) {
		if (reg->peers[i].n && !strcmp(reg->peers[i].addr, peer)) {
			if (reg->peers[i].n >= MIG_MAX_PEER_HANDSHAKES)
				return "too many page channel handshakes from one address, dropped";
			reg->peers[i].n++;
			reg->pending++;
			return NULL;
		}
		if (!reg->peers[i].n && free_slot == MIG_MAX_HANDSHAKES)
			free_slot = i;
	}
	/* pending < MIG_MAX_HANDSHAKES: some entry is free */
	snprintf(reg->peers[free_slot].addr, sizeof(reg->peers[free_slot].addr), "%s", peer);
	reg->peers[free_slot].n = 1;
	reg->pending++;
	return NULL;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void *mig_listen_main(void *arg)
{
	struct mig_reg *reg = arg;
	unsigned backoff = 0;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(reg->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		const char *full;
		struct hs *hs;
		pthread_t t;
		pthread_attr_t at;
		char host[INET6_ADDRSTRLEN] = "?";

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* the connection stays queued; retrying at once would spin */
				backoff = !backoff ? MIG_ACCEPT_BACKOFF_MIN_MS
					  : backoff * 2 > MIG_ACCEPT_BACKOFF_MAX_MS ? MIG_ACCEPT_BACKOFF_MAX_MS
										    : backoff * 2;
				if (backoff == MIG_ACCEPT_BACKOFF_MIN_MS || backoff == MIG_ACCEPT_BACKOFF_MAX_MS)
					pr_pwarn(&reg->ag->log, "page channel accept failed, backing off",
						 LF_UINT("backoff_ms", backoff));
				nap_ms(backoff);
				continue;
			}
			return NULL; /* shut down */
		}
		backoff = 0;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		pthread_mutex_lock(&reg->mu);
		full = admit_locked(reg, host);
		if (!full)
			reg->handshakes++;
		pthread_mutex_unlock(&reg->mu);
		if (full) {
			pr_warn(&reg->ag->log, full, LF_STR("peer", host));
			close(fd);
			continue;
		}
		hs = calloc(1, sizeof(*hs));
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (hs) {
			int one = 1;

			hs->reg = reg;
			hs->fd = fd;
			snprintf(hs->peer, sizeof(hs->peer), "%s", host);
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		if (!hs || pthread_create(&t, &at, hs_main, hs)) {
			free(hs);
			close(fd);
			hs_done(reg, host);
			pthread_mutex_lock(&reg->mu);
			reg->handshakes--;
			pthread_mutex_unlock(&reg->mu);
		}
		pthread_attr_destroy(&at);
	}
}

struct ptls *mig_tls(struct agent *ag)
{
	return ag->mig->tls;
}
