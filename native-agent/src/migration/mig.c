/*
 * Migration jobs on the loop thread: the control messages (PROTOCOL.md
 * §1.9), the job registry, the page channel listener and its handshake,
 * the destination's session socket, and telling a source workload that
 * its region moved.  See mig.h.
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

#define LOG_COMP "migration"
#include "log.h"

#define MIG_MAX_HANDSHAKES 32     /* connections not yet authenticated */
#define MIG_MAX_PEER_HANDSHAKES 8 /* of them from one address */
#define MIG_ACCEPT_BACKOFF_MIN_MS 10
#define MIG_ACCEPT_BACKOFF_MAX_MS 1000
#define MIG_DEFAULT_GRANULE 1

struct mig_extra {
	struct srv *sock; /* destination: the session socket */
	char sock_path[256];
};

/* destination session sockets, by job: kept beside the job, loop thread only */
struct mig_side {
	struct mig *m;
	struct mig_extra x;
	struct mig_side *next;
};

struct mig_reg {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct mig *head;
	int listen_fd;
	pthread_t listen_th;
	bool listening;
	char bound[300];
	unsigned handshakes;     /* listener threads alive (handshake, then reader) */
	unsigned pending;        /* of them in their handshake */
	struct {
		char addr[INET6_ADDRSTRLEN];
		unsigned n;      /* handshakes from addr; 0: entry free */
	} peers[MIG_MAX_HANDSHAKES];
	struct ptls *tls;        /* both directions' TLS contexts */
	int notify_fd;
	struct loop_handler notify_h;
	struct agent *ag;
	struct mig_side *sides;  /* loop thread only */
};

const char *mig_phase_name(enum mig_phase p)
{
	static const char *names[] = { "precopy", "switchover", "postcopy", "completed",
				       "paused", "failed", "cancelled" };

	return names[p];
}

/* ---- shared helpers (any thread) --------------------------------------- */

void mig_set_phase(struct mig *m, enum mig_phase p)
{
	if (m->phase == p || m->phase == MIG_FAILED || m->phase == MIG_CANCELLED ||
	    (m->phase == MIG_COMPLETED && p != MIG_FAILED))
		return;
	if (p == MIG_PAUSED)
		m->paused_in = m->phase == MIG_PAUSED ? m->paused_in : m->phase;
	else
		m->paused_in = p;
	pr_info(&m->ag->log, "migration phase", LF_STR("migration", m->id),
		LF_STR("role", m->role == MIG_SOURCE ? "source" : "destination"),
		LF_STR("from", mig_phase_name(m->phase)), LF_STR("to", mig_phase_name(p)));
	m->phase = p;
	pthread_cond_broadcast(&m->cond);
}

void mig_fail(struct mig *m, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->mu);
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
	pr_err(&m->ag->log, "migration failed", LF_STR("migration", m->id), LF_STR("error", m->error));
	mig_set_phase(m, MIG_FAILED);
	pthread_mutex_unlock(&m->mu);
}

void mig_latency(struct mig *m, uint64_t ns)
{
	m->st.lat_hist[hist_bucket(ns)]++;
	m->st.lat_count++;
	m->st.blocked_ns += ns;
	if (ns > m->st.lat_max)
		m->st.lat_max = ns;
}

int mig_wait_ms(struct mig *m, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&m->cond, &m->mu, &ts);
	return m->stop;
}

void mig_notify(struct agent *ag)
{
	uint64_t one = 1;

	if (ag->mig && write(ag->mig->notify_fd, &one, sizeof(one)) < 0)
		pr_pwarn(&ag->log, "cannot notify the loop thread");
}

/* ---- registry ---------------------------------------------------------- */

static struct mig *find_locked(struct mig_reg *reg, const char *id)
{
	for (struct mig *m = reg->head; m; m = m->next) {
		if (!strcmp(m->id, id))
			return m;
	}
	return NULL;
}

static void mig_free(struct mig *m)
{
	free(m->region_name);
	json_decref(m->labels);
	OPENSSL_cleanse(m->secret, sizeof(m->secret));
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cond);
	free(m);
}

static void mig_put(struct mig_reg *reg, struct mig *m)
{
	bool last;

	pthread_mutex_lock(&reg->mu);
	last = --m->refs == 0;
	pthread_mutex_unlock(&reg->mu);
	if (last)
		mig_free(m);
}

static struct mig_extra *extra_of(struct mig *m)
{
	for (struct mig_side *s = m->ag->mig->sides; s; s = s->next) {
		if (s->m == m)
			return &s->x;
	}
	return NULL;
}

/* ---- JSON -------------------------------------------------------------- */

static uint64_t percentile(const struct mig_stats *st, double q)
{
	return hist_quantile(st->lat_hist, q, st->lat_max);
}

static json_t *session_json(struct mig *m, const struct mig_extra *x, bool attached)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:[s?], s:s?, s:{s:I, s:I}, s:n}", "id", m->id,
			 "name", m->region_name, "socket", x ? x->sock_path : "", "state",
			 attached ? "ACTIVE" : "WAITING", "created_at", jx_time(m->created_ms),
			 "regions", attached ? m->region_id : NULL, "source",
			 attached ? "libfaultline" : NULL, "pages", "total", (json_int_t)m->n_pages,
			 "present", (json_int_t)0, "error");
}

/* The job object (PROTOCOL.md §1.9).  Loop thread (it reads the extra). */
json_t *mig_json(struct mig *m)
{
	struct mig_extra *x = extra_of(m);
	struct mig_stats st;
	enum mig_phase phase, paused_in;
	char error[256], region_id[JX_UUID_LEN + 1], channel[300];
	bool attached = false;
	uint64_t now = jx_now_ms(), end;
	json_t *o, *stats;
	bool ok = true;

	pthread_mutex_lock(&m->mu);
	st = m->st;
	phase = m->phase;
	paused_in = m->paused_in;
	memcpy(error, m->error, sizeof(error));
	memcpy(region_id, m->region_id, sizeof(region_id));
	memcpy(channel, m->channel, sizeof(channel));
	if (m->role == MIG_SOURCE)
		st.remaining_pages = mig_src_remaining(m);
	pthread_mutex_unlock(&m->mu);
	if (m->role == MIG_DEST)
		attached = region_id[0] != '\0';
	end = st.completed_ms ? st.completed_ms : now;
	stats = json_object();
	o = json_object();
	if (!o || !stats) {
		json_decref(o);
		json_decref(stats);
		return NULL;
	}
	jx_put(stats, "region_bytes", json_integer((json_int_t)m->length), &ok);
	jx_put(stats, "setup_ms", json_integer((json_int_t)st.setup_ms), &ok);
	jx_put(stats, "total_ms", json_integer((json_int_t)(end - m->created_ms)), &ok);
	jx_put(stats, "downtime_ms",
	       st.first_fault_ms && st.switchover_at_ms
		       ? json_integer((json_int_t)(st.first_fault_ms > st.switchover_at_ms
							   ? st.first_fault_ms - st.switchover_at_ms
							   : 0))
		       : json_null(),
	       &ok);
	jx_put(stats, "switchover_at_ms",
	       st.switchover_at_ms ? json_integer((json_int_t)st.switchover_at_ms) : json_null(), &ok);
	jx_put(stats, "first_fault_at_ms",
	       st.first_fault_ms ? json_integer((json_int_t)st.first_fault_ms) : json_null(), &ok);
	jx_put(stats, "precopy_bytes", json_integer((json_int_t)st.precopy_bytes), &ok);
	jx_put(stats, "precopy_pages", json_integer((json_int_t)st.precopy_pages), &ok);
	jx_put(stats, "postcopy_bytes", json_integer((json_int_t)st.postcopy_bytes), &ok);
	jx_put(stats, "postcopy_pages", json_integer((json_int_t)st.postcopy_pages), &ok);
	jx_put(stats, "demand_bytes", json_integer((json_int_t)st.demand_bytes), &ok);
	jx_put(stats, "demand_pages", json_integer((json_int_t)st.demand_pages), &ok);
	jx_put(stats, "remaining_bytes", json_integer((json_int_t)(st.remaining_pages * m->page_size)),
	       &ok);
	jx_put(stats, "dirty_rate_bytes_per_s", json_integer((json_int_t)st.dirty_rate), &ok);
	jx_put(stats, "rounds", json_integer((json_int_t)st.rounds), &ok);
	jx_put(stats, "postcopy_requests", json_integer((json_int_t)st.postcopy_requests), &ok);
	jx_put(stats, "demand_latency",
	       json_pack("{s:I, s:I, s:I, s:I}", "count", (json_int_t)st.lat_count, "p50_ns",
			 (json_int_t)percentile(&st, 0.5), "p99_ns", (json_int_t)percentile(&st, 0.99),
			 "max_ns", (json_int_t)st.lat_max),
	       &ok);
	jx_put(stats, "blocked_ns", json_integer((json_int_t)st.blocked_ns), &ok);
	jx_put(stats, "throughput_bytes_per_s",
	       json_integer((json_int_t)(end > m->created_ms
						 ? (st.precopy_bytes + st.postcopy_bytes + st.demand_bytes) *
							   1000 / (end - m->created_ms)
						 : 0)),
	       &ok);
	jx_put(stats, "reconnects", json_integer((json_int_t)st.reconnects), &ok);

	jx_put(o, "migration_id", json_string(m->id), &ok);
	jx_put(o, "role", json_string(m->role == MIG_SOURCE ? "source" : "destination"), &ok);
	jx_put(o, "region_id",
	       m->role == MIG_SOURCE ? json_string(region_id) : json_null(), &ok);
	jx_put(o, "region_name", json_string(m->region_name), &ok);
	jx_put(o, "phase", json_string(mig_phase_name(phase)), &ok);
	jx_put(o, "paused_in",
	       phase == MIG_PAUSED && (paused_in == MIG_PRECOPY || paused_in == MIG_POSTCOPY)
		       ? json_string(mig_phase_name(paused_in))
		       : phase == MIG_PAUSED ? json_string(mig_phase_name(MIG_PRECOPY)) : json_null(),
	       &ok);
	jx_put(o, "error", error[0] ? json_string(error) : json_null(), &ok);
	jx_put(o, "channel", json_string(channel), &ok);
	if (m->role == MIG_DEST) {
		jx_put(o, "session", session_json(m, x, attached), &ok);
		jx_put(o, "destination_region_id", attached ? json_string(region_id) : json_null(), &ok);
	} else {
		jx_put(o, "destination_region_id", json_null(), &ok);
	}
	jx_put(o, "labels", json_deep_copy(m->labels), &ok);
	jx_put(o, "stats", stats, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

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
	m = find_locked(reg, id);
	if (m && m->role == MIG_DEST) {
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
	uint64_t last = 0;
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
	m = find_locked(reg, hello.id);
	if (m && m->role == MIG_DEST) {
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
	    mig_dst_conn(m, c, hello.kind, &last)) {
		refuse(c, "the migration does not take connections now");
		goto put;
	}
	h = (struct pchan_hdr){ .type = PCHAN_T_AUTH_OK, .seq = last, .length = PCHAN_MAC_LEN };
	pchan_send(c, &h, mac); /* a failure shows in the reader at once */
	pr_info(&ag->log, "page channel connected", LF_STR("peer", hs->peer),
		LF_STR("migration", m->id), LF_STR("channel", hello.kind == PCHAN_MAIN ? "main" : "preempt"),
		LF_STR("tls", ptls_plaintext(reg->tls) ? "off" : ptls_certs(reg->tls) ? "certificates"
										   : "psk"),
		LF_UINT("last_seq", last));
	OPENSSL_cleanse(secret, sizeof(secret));
	mig_dst_run_conn(m, c, hello.kind);
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

static void *listen_main(void *arg)
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

/* ---- telling source workloads ------------------------------------------ */

static void release_sources(struct agent *ag)
{
	for (struct mig *m = ag->mig->head; m; m = m->next) {
		struct region *r;
		struct conn *c;
		json_t *body;
		uint64_t id;
		bool done;

		if (m->role != MIG_SOURCE)
			continue;
		pthread_mutex_lock(&m->mu);
		done = m->phase == MIG_COMPLETED && !m->released;
		if (done)
			m->released = true;
		pthread_mutex_unlock(&m->mu);
		if (!done)
			continue;
		r = region_table_find(ag->regions, m->region_id);
		c = r ? srv_hub_find(ag->hub, r->ctl.conn) : NULL;
		body = json_pack("{s:s, s:s, s:s}", "id", m->region_id, "migration_id", m->id,
				 "destination", m->channel);
		if (!c || !body || conn_request(c, PROTO_T_REGION_MIGRATED, body, &id))
			pr_warn(&ag->log, "cannot tell the workload its region migrated",
				LF_STR("migration", m->id), LF_STR("region", m->region_id));
		else
			pr_info(&ag->log, "workload told its region migrated", LF_STR("migration", m->id),
				LF_STR("region", m->region_id));
		json_decref(body);
	}
}

static void notified(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	struct agent *ag = h->opaque;
	uint64_t n;

	(void)lp;
	(void)events;
	if (read(ag->mig->notify_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_pwarn(&ag->log, "reading the migration eventfd failed");
	release_sources(ag);
}

int mig_start(struct agent *ag)
{
	struct mig_reg *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return -1;
	pthread_mutex_init(&reg->mu, NULL);
	pthread_cond_init(&reg->cond, NULL);
	reg->ag = ag;
	reg->listen_fd = -1;
	reg->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ag->mig = reg;
	if (reg->notify_fd < 0)
		return -1;
	reg->notify_h.fn = notified;
	reg->notify_h.opaque = ag;
	if (loop_add(&ag->loop, reg->notify_fd, EPOLLIN, &reg->notify_h))
		return -1;
	{
		char dir[512];

		snprintf(dir, sizeof(dir), "%s/migration", ag->opts.state_dir);
		if (mkdir(dir, 0700) && errno != EEXIST) {
			pr_perror(&ag->log, "cannot create the migration directory", LF_STR("path", dir));
			return -1;
		}
	}
	{
		struct ptls_opts to = { .plaintext = ag->opts.page_channel_plaintext,
					.cert = ag->opts.page_channel_cert,
					.key = ag->opts.page_channel_key,
					.ca = ag->opts.page_channel_ca };
		char why[300];

		reg->tls = ptls_new(&to, why, sizeof(why));
		if (!reg->tls) {
			pr_err(&ag->log, "cannot set up page channel TLS", LF_STR("error", why));
			return -1;
		}
		if (to.plaintext)
			pr_warn(&ag->log, "page channels without TLS (--page-channel-plaintext): pages "
				"travel in clear and unprotected");
	}
	if (!ag->opts.page_channel_listen)
		return 0;
	reg->listen_fd = pchan_listen(ag->opts.page_channel_listen, reg->bound, sizeof(reg->bound));
	if (reg->listen_fd < 0) {
		pr_perror(&ag->log, "cannot listen for page channels",
			  LF_STR("address", ag->opts.page_channel_listen));
		return -1;
	}
	if (pthread_create(&reg->listen_th, NULL, listen_main, reg)) {
		pr_err(&ag->log, "cannot start the page channel listener");
		return -1;
	}
	reg->listening = true;
	pr_info(&ag->log, "page channel listening", LF_STR("address", reg->bound));
	return 0;
}

static void stop_job(struct agent *ag, struct mig *m, bool cancel)
{
	struct mig_side **pp;

	if (m->role == MIG_SOURCE)
		mig_src_stop(m, cancel);
	else
		mig_dst_stop(m);
	for (pp = &ag->mig->sides; *pp; pp = &(*pp)->next) {
		if ((*pp)->m == m) {
			struct mig_side *s = *pp;

			*pp = s->next;
			ag->handoff_ops.close(s->x.sock);
			unlink(s->x.sock_path);
			free(s);
			break;
		}
	}
}

/* Agent exit: a source that has not switched over gives its region back. */
void mig_stop(struct agent *ag)
{
	struct mig_reg *reg = ag->mig;

	if (!reg)
		return;
	if (reg->listening) {
		shutdown(reg->listen_fd, SHUT_RDWR);
		pthread_join(reg->listen_th, NULL);
	}
	for (struct mig *m = reg->head; m; m = m->next)
		stop_job(ag, m, false);
	pthread_mutex_lock(&reg->mu);
	while (reg->handshakes)
		pthread_cond_wait(&reg->cond, &reg->mu);
	pthread_mutex_unlock(&reg->mu);
	while (reg->head) {
		struct mig *m = reg->head;

		reg->head = m->next;
		mig_put(reg, m);
	}
	if (reg->listen_fd >= 0)
		close(reg->listen_fd);
	if (reg->notify_fd >= 0) {
		loop_del(&ag->loop, reg->notify_fd, &reg->notify_h);
		close(reg->notify_fd);
	}
	ptls_free(reg->tls);
	pthread_mutex_destroy(&reg->mu);
	pthread_cond_destroy(&reg->cond);
	free(reg);
	ag->mig = NULL;
}

/* ---- agent restarts ---------------------------------------------------- */

static void held_path(const struct agent *ag, const char *region_id, char *out, size_t len)
{
	snprintf(out, len, "%s/migration/%s.held", ag->opts.state_dir, region_id);
}

/*
 * Written when a source switches over: from then on the region's writers
 * must never run on this host again, also across an agent restart.
 */
int mig_mark_held(struct mig *m)
{
	char path[512], body[128];
	int n = snprintf(body, sizeof(body), "{\"migration_id\":\"%s\"}\n", m->id);

	held_path(m->ag, m->region_id, path, sizeof(path));
	return afile_write(path, body, (size_t)n, 0600);
}

/* The switchover never reached the destination (cancel, or the agent stops first). */
void mig_unmark_held(struct mig *m)
{
	char path[512];

	held_path(m->ag, m->region_id, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		pr_pwarn(&m->ag->log, "cannot remove the switchover marker", LF_STR("path", path));
}

/*
 * A region with a hold uffd registered again after an agent restart.  A
 * migration the old agent ran may have left it on the hold uffd with its
 * writers waiting: unless that migration had switched over (the marker),
 * the region goes back to its track uffd, unprotected, writers woken, as
 * a cancel would.  A switched-over region stays held.
 */
void mig_region_resumed(struct agent *ag, struct region *r, int fd, int hold_fd)
{
	char path[512];
	struct track t;
	uint64_t reg = UFFDIO_REGISTER_MODE_WP;

	held_path(ag, r->id, path, sizeof(path));
	if (!access(path, F_OK)) {
		pr_warn(&ag->log, "region stays held: it migrated to another host",
			LF_STR("region", r->id), LF_STR("marker", path));
		return;
	}
	if (r->modes & REGION_MODE_MISSING)
		reg |= UFFDIO_REGISTER_MODE_MISSING;
	if (track_init(&t, r->pid, fd, hold_fd, region_start(r), r->n_pages, r->page_size, reg, 1)) {
		pr_pwarn(&ag->log, "cannot check the resumed region's uffds", LF_STR("region", r->id));
		return;
	}
	if (track_reset(&t))
		pr_pwarn(&ag->log, "cannot give the resumed region back to its track uffd",
			  LF_STR("region", r->id));
	track_fini(&t);
}

/* ---- control messages -------------------------------------------------- */

bool mig_is_command(uint8_t type)
{
	return type >= PROTO_T_MIGRATION_IN && type <= PROTO_T_MIGRATION_DELETE;
}

static struct mig *mig_new(struct agent *ag, const char *id, enum mig_role role)
{
	struct mig *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ag = ag;
	m->role = role;
	m->refs = 1;
	memcpy(m->id, id, JX_UUID_LEN + 1);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->phase = m->paused_in = MIG_PRECOPY;
	m->created_ms = jx_now_ms();
	m->max_rounds = 10;
	m->max_downtime_ms = 10;
	m->postcopy_auto = true;
	m->postcopy_after_ms = 30000;
	m->granule = MIG_DEFAULT_GRANULE;
	return m;
}

static void add(struct mig_reg *reg, struct mig *m)
{
	pthread_mutex_lock(&reg->mu);
	m->next = reg->head;
	reg->head = m;
	pthread_mutex_unlock(&reg->mu);
}

static int get_u64(json_t *o, const char *key, uint64_t def, uint64_t max, uint64_t *out,
		   struct cmd_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must be an integer from 0 to %llu", key,
				(unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int common(json_t *req, char *id, uint8_t secret[PCHAN_SECRET_LEN], struct cmd_error *err)
{
	json_t *jid = json_object_get(req, "migration_id");
	json_t *sec = json_object_get(req, "secret");

	if (!json_is_string(jid) || !jx_uuid_valid(json_string_value(jid)))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"migration_id\" must be a UUID");
	if (!json_is_string(sec) || pchan_parse_secret(json_string_value(sec), secret))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"secret\" must be 64 hex digits (32 bytes)");
	snprintf(id, JX_UUID_LEN + 1, "%s", json_string_value(jid));
	return 0;
}

static int cmd_in(struct agent *ag, json_t *req, json_t **reply, struct cmd_error *err)
{
	struct mig_reg *reg = ag->mig;
	char id[JX_UUID_LEN + 1], why[256];
	uint8_t secret[PCHAN_SECRET_LEN];
	json_t *name = json_object_get(req, "region_name"), *labels = json_object_get(req, "labels");
	uint64_t length, page_size;
	struct mig_side *side;
	struct mig *m;

	if (common(req, id, secret, err) ||
	    get_u64(req, "length", 0, REGION_MAX_LENGTH, &length, err) ||
	    get_u64(req, "page_size", 4096, UINT64_C(1) << 30, &page_size, err))
		return -1;
	if (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > 127)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"region_name\" must be a string of 1-127 bytes");
	if (page_size != (uint64_t)sysconf(_SC_PAGESIZE))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"page_size\" must be %ld (huge pages are not "
				"migrated yet)", sysconf(_SC_PAGESIZE));
	if (!length || length % page_size)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"length\" must be a positive multiple of "
				"page_size");
	if (labels && !json_is_object(labels))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"labels\" must be an object");
	if (!reg->listening)
		return cmd_fail(err, PROTO_E_UNAVAILABLE, "this agent has no page channel listener "
				"(--page-channel-listen)");
	pthread_mutex_lock(&reg->mu);
	m = find_locked(reg, id);
	pthread_mutex_unlock(&reg->mu);
	if (m)
		return cmd_fail(err, PROTO_E_CONFLICT, "migration %s exists", id);
	m = mig_new(ag, id, MIG_DEST);
	side = calloc(1, sizeof(*side));
	if (!m || !side)
		goto oom;
	memcpy(m->secret, secret, sizeof(secret));
	m->region_name = strdup(json_string_value(name));
	m->labels = labels ? json_deep_copy(labels) : json_object();
	m->length = length;
	m->page_size = (uint32_t)page_size;
	m->n_pages = length / page_size;
	snprintf(m->channel, sizeof(m->channel), "%s", reg->bound);
	if (!m->region_name || !m->labels)
		goto oom;
	if (mig_dst_start(m, why, sizeof(why))) {
		mig_free(m);
		free(side);
		return cmd_fail(err, PROTO_E_INTERNAL, "%s", why);
	}
	side->m = m;
	snprintf(side->x.sock_path, sizeof(side->x.sock_path), "%s/migration", ag->opts.state_dir);
	mkdir(side->x.sock_path, 0700);
	snprintf(side->x.sock_path, sizeof(side->x.sock_path), "%s/migration/%s.sock",
		 ag->opts.state_dir, id);
	side->x.sock = ag->handoff_ops.open_migration(ag, side->x.sock_path, m);
	if (!side->x.sock) {
		mig_dst_stop(m);
		mig_free(m);
		free(side);
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot open the session socket");
	}
	side->next = reg->sides;
	reg->sides = side;
	add(reg, m);
	pr_info(&ag->log, "migration in", LF_STR("migration", id), LF_STR("region_name", m->region_name),
		LF_UINT("length", length), LF_STR("socket", side->x.sock_path));
	*reply = mig_json(m);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
oom:
	if (m)
		mig_free(m);
	free(side);
	return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static int cmd_out(struct agent *ag, json_t *req, json_t **reply, struct cmd_error *err)
{
	struct mig_reg *reg = ag->mig;
	char id[JX_UUID_LEN + 1], snap_id[JX_UUID_LEN + 1], why[256], host[256];
	uint8_t secret[PCHAN_SECRET_LEN];
	json_t *rid = json_object_get(req, "region_id"), *dest = json_object_get(req, "destination");
	json_t *opts = json_object_get(req, "options"), *pc;
	uint64_t bw, rounds, downtime, granule;
	int64_t after = 30000;
	struct region *r;
	struct mig *m;
	uint16_t port;

	if (common(req, id, secret, err))
		return -1;
	if (!json_is_string(rid))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"region_id\" must be a string");
	if (!json_is_string(dest) ||
	    netaddr_parse(json_string_value(dest), host, sizeof(host), &port))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"destination\" must be \"host:port\"");
	if (opts && !json_is_object(opts))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"options\" must be an object");
	if (get_u64(opts, "bandwidth_bytes_per_s", 0, UINT64_C(1) << 40, &bw, err) ||
	    get_u64(opts, "max_rounds", 10, 100000, &rounds, err) ||
	    get_u64(opts, "max_downtime_ms", 10, 3600000, &downtime, err) ||
	    get_u64(opts, "granule_pages", MIG_DEFAULT_GRANULE, 512, &granule, err))
		return -1;
	pc = json_object_get(opts, "postcopy");
	if (pc && !json_is_null(pc) && (!json_is_string(pc) || (strcmp(json_string_value(pc), "auto") &&
								 strcmp(json_string_value(pc), "manual"))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"postcopy\" must be \"auto\" or \"manual\"");
	if (json_object_get(opts, "postcopy_after_ms")) {
		json_t *a = json_object_get(opts, "postcopy_after_ms");

		if (!json_is_null(a) && !json_is_integer(a))
			return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"postcopy_after_ms\" must be an integer");
		after = json_is_null(a) ? -1 : json_integer_value(a);
	}
	r = region_table_find(ag->regions, json_string_value(rid));
	if (!r || region_state(r) != REGION_ATTACHED)
		return cmd_fail(err, PROTO_E_NOT_FOUND, "no attached region %.64s", json_string_value(rid));
	if (!r->hold || r->ctl.mig_track_fd < 0)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "region %s was registered without the hold uffd "
				"(FL_MODE_WP): no consistent switchover is possible", r->id);
	if (r->page_size != (uint32_t)sysconf(_SC_PAGESIZE))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "huge page regions are not migrated yet");
	pthread_mutex_lock(&reg->mu);
	m = find_locked(reg, id);
	for (struct mig *o = reg->head; !m && o; o = o->next) {
		if (o->role == MIG_SOURCE && !strcmp(o->region_id, r->id) && o->phase != MIG_CANCELLED &&
		    o->phase != MIG_FAILED) {
			pthread_mutex_unlock(&reg->mu);
			return cmd_fail(err, PROTO_E_CONFLICT, "region %s is migrating already (%s)", r->id,
					o->id);
		}
	}
	pthread_mutex_unlock(&reg->mu);
	if (m)
		return cmd_fail(err, PROTO_E_CONFLICT, "migration %s exists", id);
	/* a capture drives the same hold uffd */
	if (agent_hold_driver(ag, r->id, "migration", snap_id, sizeof(snap_id)))
		return cmd_fail(err, PROTO_E_CONFLICT, "a snapshot of region %s is being taken; migrate it "
				"once the snapshot is done", r->id);
	m = mig_new(ag, id, MIG_SOURCE);
	if (!m)
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	memcpy(m->secret, secret, sizeof(secret));
	memcpy(m->region_id, r->id, sizeof(m->region_id));
	m->region_name = strdup(r->name);
	m->labels = json_deep_copy(r->labels);
	m->length = r->length;
	m->page_size = r->page_size;
	m->n_pages = r->n_pages;
	m->bw_bytes_per_s = bw;
	m->max_rounds = (unsigned)(rounds ? rounds : 1);
	m->max_downtime_ms = downtime;
	m->postcopy_auto = !pc || json_is_null(pc) || !strcmp(json_string_value(pc), "auto");
	m->postcopy_after_ms = after;
	m->granule = granule ? granule : 1;
	snprintf(m->channel, sizeof(m->channel), "%s", json_string_value(dest));
	if (!m->region_name || !m->labels) {
		mig_free(m);
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	add(reg, m);
	if (mig_src_start(m, r->pid, region_start(r), r->ctl.mig_track_fd, r->ctl.mig_hold_fd, r->modes,
			  why, sizeof(why))) {
		pthread_mutex_lock(&m->mu);
		snprintf(m->error, sizeof(m->error), "%s", why);
		m->phase = MIG_FAILED;
		pthread_mutex_unlock(&m->mu);
		pr_err(&ag->log, "migration could not start", LF_STR("migration", id), LF_STR("error", why));
	} else {
		pr_info(&ag->log, "migration out", LF_STR("migration", id), LF_STR("region", r->id),
			LF_STR("destination", m->channel), LF_UINT("length", m->length));
	}
	*reply = mig_json(m);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

static struct mig *lookup(struct agent *ag, json_t *req, struct cmd_error *err)
{
	json_t *jid = json_object_get(req, "migration_id");
	struct mig *m;

	if (!json_is_string(jid)) {
		cmd_fail(err, PROTO_E_BAD_REQUEST, "\"migration_id\" must be a string");
		return NULL;
	}
	pthread_mutex_lock(&ag->mig->mu);
	m = find_locked(ag->mig, json_string_value(jid));
	pthread_mutex_unlock(&ag->mig->mu);
	if (!m)
		cmd_fail(err, PROTO_E_NOT_FOUND, "no migration %.64s", json_string_value(jid));
	return m;
}

static void unlink_job(struct mig_reg *reg, struct mig *m)
{
	pthread_mutex_lock(&reg->mu);
	for (struct mig **pp = &reg->head; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&reg->mu);
}

bool mig_source_of(struct agent *ag, const char *region_id, char *id, size_t len)
{
	struct mig_reg *reg = ag->mig;
	bool found = false;

	if (!reg)
		return false;
	pthread_mutex_lock(&reg->mu);
	for (struct mig *o = reg->head; o && !found; o = o->next) {
		if (o->role == MIG_SOURCE && !strcmp(o->region_id, region_id) &&
		    o->phase != MIG_CANCELLED && o->phase != MIG_FAILED) {
			snprintf(id, len, "%s", o->id);
			found = true;
		}
	}
	pthread_mutex_unlock(&reg->mu);
	return found;
}

int mig_command(struct agent *ag, uint8_t type, json_t *req, json_t **reply, struct cmd_error *err)
{
	struct mig *m;
	enum mig_phase phase;
	json_t *dest;

	switch (type) {
	case PROTO_T_MIGRATION_IN:
		return cmd_in(ag, req, reply, err);
	case PROTO_T_MIGRATION_OUT:
		return cmd_out(ag, req, reply, err);
	case PROTO_T_MIGRATION_LIST: {
		json_t *list = json_array();

		for (m = ag->mig->head; list && m; m = m->next) {
			if (json_array_append_new(list, mig_json(m))) {
				json_decref(list);
				list = NULL;
			}
		}
		*reply = list ? json_pack("{s:o}", "migrations", list) : NULL;
		return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	}
	m = lookup(ag, req, err);
	if (!m)
		return -1;
	pthread_mutex_lock(&m->mu);
	phase = m->phase;
	switch (type) {
	case PROTO_T_MIGRATION_GET:
		break;
	case PROTO_T_MIGRATION_SWITCHOVER:
		if (m->role != MIG_SOURCE || phase != MIG_PRECOPY) {
			pthread_mutex_unlock(&m->mu);
			return cmd_fail(err, PROTO_E_CONFLICT, "switchover needs a source in precopy (it is "
					"%s)", mig_phase_name(phase));
		}
		m->want_switchover = true;
		pthread_cond_broadcast(&m->cond);
		break;
	case PROTO_T_MIGRATION_PAUSE:
		if (phase == MIG_COMPLETED || phase == MIG_FAILED || phase == MIG_CANCELLED) {
			pthread_mutex_unlock(&m->mu);
			return cmd_fail(err, PROTO_E_CONFLICT, "the migration is %s", mig_phase_name(phase));
		}
		m->want_pause = true;
		mig_set_phase(m, MIG_PAUSED);
		if (m->role == MIG_SOURCE)
			mig_src_kick(m);
		else if (m->dst)
			mig_dst_kick(m);
		break;
	case PROTO_T_MIGRATION_RESUME:
		if (phase == MIG_COMPLETED || phase == MIG_FAILED || phase == MIG_CANCELLED) {
			pthread_mutex_unlock(&m->mu);
			return cmd_fail(err, PROTO_E_CONFLICT, "the migration is %s", mig_phase_name(phase));
		}
		dest = json_object_get(req, "destination");
		if (dest && !json_is_null(dest)) {
			char host[256];
			uint16_t port;

			if (!json_is_string(dest) ||
			    netaddr_parse(json_string_value(dest), host, sizeof(host), &port)) {
				pthread_mutex_unlock(&m->mu);
				return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"destination\" must be \"host:port\"");
			}
			if (m->role == MIG_SOURCE)
				snprintf(m->channel, sizeof(m->channel), "%s", json_string_value(dest));
		}
		m->want_pause = false;
		m->want_resume = true;
		pthread_cond_broadcast(&m->cond);
		break;
	case PROTO_T_MIGRATION_CANCEL:
		if (phase == MIG_CANCELLED)
			break;
		if (m->st.switchover_at_ms || phase == MIG_COMPLETED) {
			pthread_mutex_unlock(&m->mu);
			return cmd_fail(err, PROTO_E_CONFLICT, "the migration switched over: the destination "
					"runs the region now; cancel is refused, recovery (resume) is not");
		}
		pthread_mutex_unlock(&m->mu);
		stop_job(ag, m, true);
		pthread_mutex_lock(&m->mu);
		m->phase = MIG_CANCELLED;
		pr_info(&ag->log, "migration cancelled", LF_STR("migration", m->id));
		break;
	case PROTO_T_MIGRATION_DELETE:
		if (phase != MIG_COMPLETED && phase != MIG_FAILED && phase != MIG_CANCELLED) {
			pthread_mutex_unlock(&m->mu);
			return cmd_fail(err, PROTO_E_CONFLICT, "the migration is %s: cancel it or let it "
					"finish first", mig_phase_name(phase));
		}
		pthread_mutex_unlock(&m->mu);
		unlink_job(ag->mig, m);
		stop_job(ag, m, false);
		mig_put(ag->mig, m);
		*reply = json_object();
		return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	pthread_mutex_unlock(&m->mu);
	*reply = mig_json(m);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}
