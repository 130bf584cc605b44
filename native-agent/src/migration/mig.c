/*
 * Migration jobs on the loop thread: the job registry, their JSON, start
 * and stop, the destination's session socket, and telling a source
 * workload that its region moved.  The control messages (PROTOCOL.md
 * §1.9) are in mig_ctl.c, the page channel listener in mig_listen.c.
 * See mig.h.
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

#include "mig_reg.h"
#include "mig_journal.h"

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
	mig_journal_write(m); /* a restart must not start it again */
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

struct mig *mig_find_locked(struct mig_reg *reg, const char *id)
{
	for (struct mig *m = reg->head; m; m = m->next) {
		if (!strcmp(m->id, id))
			return m;
	}
	return NULL;
}

void mig_free(struct mig *m)
{
	free(m->region_name);
	json_decref(m->labels);
	OPENSSL_cleanse(m->secret, sizeof(m->secret));
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cond);
	free(m);
}

void mig_put(struct mig_reg *reg, struct mig *m)
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
	uint64_t now = jx_now_ms(), end, resumed;
	json_t *o, *stats, *pages;
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
	/* until the first served fault; a destination that never waited for one ran from the switchover */
	resumed = st.first_fault_ms ? st.first_fault_ms : st.running_at_ms;
	jx_put(stats, "downtime_ms",
	       resumed && st.switchover_at_ms
		       ? json_integer((json_int_t)(resumed > st.switchover_at_ms ? resumed - st.switchover_at_ms : 0))
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
	if (m->role == MIG_SOURCE) {
		jx_put(stats, "tracking", st.tracking ? json_string(st.tracking) : json_null(), &ok);
		jx_put(stats, "tracking_faults", json_integer((json_int_t)st.tracking_faults), &ok);
		jx_put(stats, "compressed_pages", json_integer((json_int_t)st.compressed_pages), &ok);
		jx_put(stats, "compressed_bytes", json_integer((json_int_t)st.compressed_bytes), &ok);
		jx_put(stats, "unchanged_pages", json_integer((json_int_t)st.unchanged_pages), &ok);
		jx_put(stats, "throttle", st.throttle ? json_string(st.throttle) : json_null(), &ok);
		jx_put(stats, "throttle_pct", json_integer((json_int_t)st.throttle_pct), &ok);
		jx_put(stats, "throttled_ms", json_integer((json_int_t)st.throttled_ms), &ok);
		pages = json_array();
		for (unsigned i = 0; pages && i < (st.push_connections ? st.push_connections : 1); i++)
			json_array_append_new(pages, json_integer((json_int_t)st.push_pages[i]));
		jx_put(stats, "push_pages", pages, &ok);
	}
	jx_put(stats, "push_connections", json_integer(st.push_connections ? st.push_connections : 1), &ok);
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
	/* read back from its journal after an agent restart: migration_resume must give the secret */
	jx_put(o, "needs_secret", json_boolean(atomic_load(&m->need_secret)), &ok);
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
		mig_journal_write(m); /* completed: a restart does not send it again */
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
	if (!ag->opts.page_channel_listen) {
		mig_journal_recover(ag);
		return 0;
	}
	reg->listen_fd = pchan_listen(ag->opts.page_channel_listen, reg->bound, sizeof(reg->bound));
	if (reg->listen_fd < 0) {
		pr_perror(&ag->log, "cannot listen for page channels",
			  LF_STR("address", ag->opts.page_channel_listen));
		return -1;
	}
	if (pthread_create(&reg->listen_th, NULL, mig_listen_main, reg)) {
		pr_err(&ag->log, "cannot start the page channel listener");
		return -1;
	}
	reg->listening = true;
	pr_info(&ag->log, "page channel listening", LF_STR("address", reg->bound));
	mig_journal_recover(ag);
	return 0;
}

void mig_stop_job(struct agent *ag, struct mig *m, bool cancel)
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
		mig_stop_job(ag, m, false);
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
		r->mig_held = true; /* the engine leaves it protected too (worker.c) */
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
