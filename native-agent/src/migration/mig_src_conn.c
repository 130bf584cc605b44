/*
 * The migration source's connections (PROTOCOL.md §3): the handshake, the
 * reader of the main channel (acks, done), the server of demand requests
 * on the preempt channel, the push connections and their threads, and the
 * switchover frames.  Pages are read and sent by mig_src_push.c.  See
 * mig_src.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "bitmap.h"
#include "mig.h"
#include "netaddr.h"
#include "mono.h"
#include "ptls.h"

#define LOG_COMP "migration"
#include "log.h"
#include "mig_src.h"

/* ---- connections ------------------------------------------------------- */

static int handshake(struct mig_src *s, struct ptls_conn *c, enum pchan_kind kind, uint64_t *last_seq,
		     char *why, size_t why_len)
{
	struct mig *m = s->m;
	struct pchan_hello hello = { .kind = kind };
	uint8_t buf[PCHAN_HELLO_LEN], snonce[PCHAN_NONCE_LEN], mac[PCHAN_MAC_LEN];
	struct pchan_geom g = { 0 };
	struct pchan_hdr h = { .type = PCHAN_T_HELLO, .length = PCHAN_HELLO_LEN };
	int r;

	memcpy(hello.id, m->id, PCHAN_ID_LEN + 1);
	if (pchan_nonce(hello.nonce))
		return snprintf(why, why_len, "no random bytes"), -1;
	pchan_encode_hello(&hello, buf);
	if (pchan_send(c, &h, buf))
		return snprintf(why, why_len, "send hello: %s", strerror(errno)), -1;
	r = pchan_recv(c, &h, buf, sizeof(buf), &g, -1);
	if (!r && h.type == PCHAN_T_CHALLENGE) {
		memcpy(snonce, buf, PCHAN_NONCE_LEN);
		if (pchan_mac(m->secret, false, m->id, kind, hello.nonce, snonce, mac))
			return snprintf(why, why_len, "HMAC failed"), -1;
		h = (struct pchan_hdr){ .type = PCHAN_T_AUTH, .length = PCHAN_MAC_LEN };
		if (pchan_send(c, &h, mac))
			return snprintf(why, why_len, "send auth: %s", strerror(errno)), -1;
		r = pchan_recv(c, &h, buf, sizeof(buf), &g, -1);
	}
	if (r < 0)
		return snprintf(why, why_len, "%s", strerror(errno)), -1;
	if (r > 0)
		return snprintf(why, why_len, "%s", pchan_result_str(r)), -1;
	if (h.type == PCHAN_T_ERROR) {
		snprintf(why, why_len, "refused by the destination: %.*s", (int)h.length, (char *)buf);
		return -1;
	}
	if (h.type != PCHAN_T_AUTH_OK)
		return snprintf(why, why_len, "unexpected %s frame", pchan_type_name(h.type)), -1;
	if (pchan_mac(m->secret, true, m->id, kind, hello.nonce, snonce, mac) ||
	    !pchan_mac_equal(mac, buf)) {
		pr_warn(&m->ag->log, "page channel peer failed authentication, dropped",
			LF_STR("migration", m->id), LF_STR("peer", m->channel));
		return snprintf(why, why_len, "the destination failed authentication"), -1;
	}
	*last_seq = h.seq;
	if (kind == PCHAN_MAIN)
		s->peer_caps = h.count; /* per connection: a resume may name another destination */
	return 0;
}

static void *reader_main(void *arg)
{
	struct mig_src *s = arg;
	struct mig *m = s->m;
	struct pchan_geom g = { .n_pages = m->n_pages, .page_size = m->page_size };
	struct pchan_hdr h;
	uint8_t buf[1024];

	for (;;) {
		int r = pchan_recv(s->main_c, &h, buf, sizeof(buf), &g, -1);

		if (r) {
			pthread_mutex_lock(&m->mu);
			if (!m->stop && !s->broken && m->phase != MIG_COMPLETED)
				pr_warn(&m->ag->log, "page channel broken", LF_STR("migration", m->id),
					LF_STR("channel", "main"),
					LF_STR("error", r < 0 ? strerror(errno) : pchan_result_str(r)));
			s->broken = true;
			/* a sender blocked on a connection whose peer stopped reading goes too */
			mig_src_shutdown(s);
			pthread_cond_broadcast(&m->cond);
			pthread_mutex_unlock(&m->mu);
			return NULL;
		}
		pthread_mutex_lock(&m->mu);
		if (h.type == PCHAN_T_ACK && h.seq > s->acked)
			s->acked = h.seq;
		else if (h.type == PCHAN_T_DONE)
			s->done_seen = true;
		else if (h.type == PCHAN_T_ERROR)
			pr_warn(&m->ag->log, "the destination reports an error", LF_STR("migration", m->id),
				LF_STR("error", (char *)buf));
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
	}
}

/* Demand requests: answered from the held memory, ahead of everything else. */
static void *preempt_main(void *arg)
{
	struct mig_src *s = arg;
	struct mig *m = s->m;
	struct pchan_geom g = { .n_pages = m->n_pages, .page_size = m->page_size };
	struct pchan_hdr h;
	uint8_t small[64];
	int r = -1;

	for (;;) {
		r = pchan_recv(s->pre_c, &h, small, sizeof(small), &g, -1);
		if (r)
			break;
		if (h.type != PCHAN_T_REQUEST) {
			r = PCHAN_BAD_TYPE;
			break;
		}
		/* every page is protected since the hold: what is read is final */
		pthread_mutex_lock(&m->mu);
		m->st.postcopy_requests++;
		bitmap_clear(s->todo, h.page, h.count);
		pthread_mutex_unlock(&m->mu);
		/* the background push goes on where the workload is (locality) */
		atomic_store(&s->hint, h.page + h.count + 1);
		r = mig_src_send_range(s, &s->pre, h.page, h.count, ST_DEMAND);
		if (r == -2) {
			mig_fail(m, "cannot read the region's pages: %s", strerror(errno));
			break;
		}
		if (r)
			break;
	}
	pthread_mutex_lock(&m->mu);
	if (!m->stop && !s->broken)
		pr_warn(&m->ag->log, "page channel broken", LF_STR("migration", m->id),
			LF_STR("channel", "preempt"),
			LF_STR("error", r < 0 ? strerror(errno) : pchan_result_str(r)));
	s->broken = true;
	mig_src_shutdown(s);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* Under mu: every connection of the job ends (their threads see it). */
void mig_src_shutdown(struct mig_src *s)
{
	if (s->main_c)
		ptls_shutdown(s->main_c);
	if (s->pre_c)
		ptls_shutdown(s->pre_c);
	for (unsigned i = 1; i < s->lanes; i++) {
		if (s->lane[i].c)
			ptls_shutdown(s->lane[i].c);
	}
}

void mig_src_disconnect(struct mig_src *s)
{
	struct mig *m = s->m;

	pthread_mutex_lock(&m->mu);
	mig_src_shutdown(s);
	for (unsigned i = 1; i < s->lanes; i++)
		s->lane[i].quit = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	if (s->rd_started)
		pthread_join(s->rd_th, NULL);
	if (s->pre_started)
		pthread_join(s->pre_th, NULL);
	s->rd_started = s->pre_started = false;
	for (unsigned i = 1; i < s->lanes; i++) {
		if (s->lane[i].started)
			pthread_join(s->lane[i].th, NULL);
		s->lane[i].started = false;
	}
	pthread_mutex_lock(&m->mu);
	ptls_close(s->main_c);
	ptls_close(s->pre_c);
	s->main_c = s->pre_c = s->lane[0].c = s->pre.c = NULL;
	for (unsigned i = 1; i < s->lanes; i++) {
		ptls_close(s->lane[i].c);
		s->lane[i].c = NULL;
	}
	s->lanes = 1;
	pthread_mutex_unlock(&m->mu);
}

int mig_src_send_switch(struct mig_src *s, struct ptls_conn *c)
{
	struct mig *m = s->m;
	uint64_t words = BITMAP_WORDS(m->n_pages);

	for (uint64_t w = 0; w < words; w += SRC_STALE_WORDS) {
		uint64_t nw = words - w < SRC_STALE_WORDS ? words - w : SRC_STALE_WORDS;
		uint64_t pages = m->n_pages - w * 64 < nw * 64 ? m->n_pages - w * 64 : nw * 64;
		uint8_t *le = malloc(nw * 8);
		struct pchan_hdr h = { .type = PCHAN_T_STALE, .seq = ++s->seq, .page = w * 64,
				       .count = (uint32_t)pages, .length = (uint32_t)(nw * 8) };
		int r;

		if (!le)
			return -1;
		pthread_mutex_lock(&m->mu);
		for (uint64_t i = 0; i < nw; i++) {
			for (int b = 0; b < 8; b++)
				le[i * 8 + (uint64_t)b] = (uint8_t)(s->todo[w + i] >> (8 * b));
		}
		pthread_mutex_unlock(&m->mu);
		r = pchan_send(c, &h, le);
		free(le);
		if (r)
			return -1;
	}
	{
		uint8_t ms[8];
		uint64_t at = m->st.switchover_at_ms;
		struct pchan_hdr h = { .type = PCHAN_T_SWITCHOVER, .seq = ++s->seq, .length = 8 };

		for (int b = 0; b < 8; b++)
			ms[b] = (uint8_t)(at >> (56 - 8 * b));
		if (pchan_send(c, &h, ms))
			return -1;
		s->switch_seq = h.seq;
	}
	return 0;
}

/* One connection of kind, TLS and the proof of the secret within one deadline. */
static struct ptls_conn *connect_one(struct mig_src *s, const char *addr, enum pchan_kind kind,
				     uint64_t *last, char *why, size_t why_len)
{
	struct mig *m = s->m;
	uint64_t deadline = mono_now_ns() + (uint64_t)m->ag->opts.page_channel_handshake_ms * 1000000u;
	struct ptls_conn *c;
	char host[256], e[256];
	uint16_t port;
	int fd;

	if (netaddr_parse(addr, host, sizeof(host), &port))
		return snprintf(why, why_len, "bad destination %s", addr), NULL;
	fd = pchan_connect(addr, (int)m->ag->opts.page_channel_handshake_ms);
	if (fd < 0)
		return snprintf(why, why_len, "connect %s: %s", addr, strerror(errno)), NULL;
	/*
	 * The kernel sizes the buffers (autotuning): a fixed small one stalls the
	 * stream whenever either side waits for a CPU.  The switchover does not
	 * queue behind them: it waits for the backlog's ack first (mig_src.c).
	 */
	c = ptls_connect(mig_tls(m->ag), fd, host, m->id, m->secret, deadline, e, sizeof(e));
	if (!c) {
		close(fd);
		return snprintf(why, why_len, "%.40s: %.200s", addr, e), NULL;
	}
	if (handshake(s, c, kind, last, why, why_len)) {
		ptls_close(c);
		return NULL;
	}
	ptls_set_deadline(c, 0);
	return c;
}

static bool lanes_started(const struct mig_src *s)
{
	for (unsigned i = 1; i < s->lanes; i++) {
		if (!s->lane[i].started)
			return false;
	}
	return true;
}

/*
 * How many connections push (the main one included): the job's
 * push_connections, as many as the destination takes (auth_ok's count;
 * agents from before push connections take none).
 */
static unsigned pushers(struct mig_src *s)
{
	struct mig *m = s->m;
	unsigned offered = s->peer_caps & PCHAN_CAP_PUSH
				   ? (s->peer_caps >> PCHAN_CAP_PUSH_SHIFT) & PCHAN_CAP_PUSH_MASK : 0;
	unsigned n = m->push_conns - 1 < offered ? m->push_conns - 1 : offered;

	if (n + 1 < m->push_conns)
		pr_warn(&m->ag->log, "the destination takes fewer push connections than asked, "
			"pushing on fewer", LF_STR("migration", m->id),
			LF_UINT("push_connections", m->push_conns), LF_UINT("used", n + 1));
	return n + 1;
}

/*
 * The job's connections, in this order: the main channel (its auth_ok says
 * what the destination processed and takes), the preempt channel, the push
 * connections; then SETUP, and what the destination lost is sent again.
 */
int mig_src_connect_all(struct mig_src *s, char *why, size_t why_len)
{
	struct mig *m = s->m;
	char addr[sizeof(m->channel)];
	uint64_t last = 0, ignored;
	uint8_t setup[PCHAN_SETUP_LEN];
	struct pchan_hdr h = { .type = PCHAN_T_SETUP };
	struct ptls_conn *mc, *pc, *push[1 + PCHAN_MAX_PUSH] = { NULL };
	unsigned n;

	pthread_mutex_lock(&m->mu);
	memcpy(addr, m->channel, sizeof(addr));
	pthread_mutex_unlock(&m->mu);
	mc = connect_one(s, addr, PCHAN_MAIN, &last, why, why_len);
	if (!mc)
		return -1;
	pc = connect_one(s, addr, PCHAN_PREEMPT, &ignored, why, why_len);
	if (!pc) {
		ptls_close(mc);
		return -1;
	}
	n = pushers(s);
	for (unsigned i = 1; i < n; i++) {
		push[i] = connect_one(s, addr, (enum pchan_kind)(PCHAN_PUSH + i - 1), &ignored, why, why_len);
		if (!push[i])
			goto fail;
	}
	for (int b = 0; b < 8; b++)
		setup[b] = (uint8_t)(m->length >> (56 - 8 * b));
	for (int b = 0; b < 4; b++)
		setup[8 + b] = (uint8_t)(m->page_size >> (24 - 8 * b));
	for (int b = 0; b < 4; b++)
		setup[12 + b] = (uint8_t)(n >> (24 - 8 * b));
	/* to a destination from before push connections, the SETUP it knows */
	h.length = s->peer_caps & PCHAN_CAP_PUSH ? PCHAN_SETUP_LEN : PCHAN_SETUP_LEN_V1;
	if (pchan_send(mc, &h, setup)) {
		snprintf(why, why_len, "send setup: %s", strerror(errno));
		goto fail;
	}
	/* whatever was sent after the destination's last processed frame may be lost */
	pthread_mutex_lock(&m->mu);
	for (uint64_t p = 0; p < m->n_pages; p++) {
		if (s->sent_seq[p] > last) {
			bitmap_set(s->todo, p, 1);
			/* not staged there: the fingerprint says nothing of what the destination has */
			mig_sent_forget(&s->sent, p);
		}
	}
	if (!last)
		mig_sent_forget_all(&s->sent); /* a destination started again has nothing staged */
	s->acked = last;
	/*
	 * Numbered on from what the destination processed, with no gap: it
	 * processes the frames of several connections in seq order; a source
	 * started again numbers on after what the destination saw.
	 */
	s->seq = last;
	s->main_c = s->lane[0].c = mc;
	s->pre_c = s->pre.c = pc;
	for (unsigned i = 1; i < n; i++) {
		s->lane[i].c = push[i];
		s->lane[i].quit = false;
		s->lane[i].seen = s->pass_gen; /* passes from now on */
	}
	s->lanes = n;
	m->st.push_connections = n;
	s->broken = false;
	s->done_seen = false;
	pthread_mutex_unlock(&m->mu);
	if (s->switch_seq > last && mig_src_send_switch(s, mc)) {
		snprintf(why, why_len, "send switchover: %s", strerror(errno));
		mig_src_disconnect(s);
		return -1;
	}
	if (!pthread_create(&s->rd_th, NULL, reader_main, s))
		s->rd_started = true;
	if (!pthread_create(&s->pre_th, NULL, preempt_main, s))
		s->pre_started = true;
	for (unsigned i = 1; i < n; i++) {
		if (!pthread_create(&s->lane[i].th, NULL, mig_src_lane_main, &s->lane[i]))
			s->lane[i].started = true;
	}
	if (!s->rd_started || !s->pre_started || !lanes_started(s)) {
		snprintf(why, why_len, "cannot start threads");
		mig_src_disconnect(s);
		return -1;
	}
	return 0;
fail:
	for (unsigned i = 1; i < n; i++)
		ptls_close(push[i]);
	ptls_close(pc);
	ptls_close(mc);
	return -1;
}
