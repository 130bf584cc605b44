/*
 * The migration control messages (PROTOCOL.md §1.9): migration_in, _out,
 * _get, _list, _switchover, _pause, _resume, _cancel, _delete.
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

/* An optional integer in [min, max]; def when absent or null. */
static int get_u64(json_t *o, const char *key, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
		   struct cmd_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
	    (uint64_t)json_integer_value(v) > max)
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"%s\" must be an integer from %llu to %llu", key,
				(unsigned long long)min, (unsigned long long)max);
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

static struct mig *dst_create(struct agent *ag, const char *id, const uint8_t *secret,
			      const char *name, json_t *labels, uint64_t length, uint32_t page_size,
			      json_t *j, struct cmd_error *err);

static int cmd_in(struct agent *ag, json_t *req, json_t **reply, struct cmd_error *err)
{
	struct mig_reg *reg = ag->mig;
	char id[JX_UUID_LEN + 1];
	uint8_t secret[PCHAN_SECRET_LEN];
	json_t *name = json_object_get(req, "region_name"), *labels = json_object_get(req, "labels");
	uint64_t length, page_size;
	struct mig *m;

	if (common(req, id, secret, err) ||
	    get_u64(req, "length", 0, 0, REGION_MAX_LENGTH, &length, err) ||
	    get_u64(req, "page_size", 4096, 0, UINT64_C(1) << 30, &page_size, err))
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
	m = mig_find_locked(reg, id);
	pthread_mutex_unlock(&reg->mu);
	if (m)
		return cmd_fail(err, PROTO_E_CONFLICT, "migration %s exists", id);
	m = dst_create(ag, id, secret, json_string_value(name), labels, length, (uint32_t)page_size,
		       NULL, err);
	if (!m)
		return -1;
	*reply = mig_json(m);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

/*
 * A destination job: its staging, its session socket, its journal (written
 * before the job is listed or answered).  j: the journal it is made again
 * from, NULL for a new one.  Loop thread.
 */
static struct mig *dst_create(struct agent *ag, const char *id, const uint8_t *secret,
			      const char *name, json_t *labels, uint64_t length, uint32_t page_size,
			      json_t *j, struct cmd_error *err)
{
	struct mig_reg *reg = ag->mig;
	struct mig_side *side;
	struct mig *m;
	char why[256];

	m = mig_new(ag, id, MIG_DEST);
	side = calloc(1, sizeof(*side));
	if (!m || !side)
		goto oom;
	if (secret)
		memcpy(m->secret, secret, PCHAN_SECRET_LEN);
	m->need_secret = !secret;
	m->region_name = strdup(name);
	m->labels = labels ? json_deep_copy(labels) : json_object();
	m->length = length;
	m->page_size = page_size;
	m->n_pages = length / page_size;
	snprintf(m->channel, sizeof(m->channel), "%s", reg->bound);
	if (!m->region_name || !m->labels)
		goto oom;
	if (mig_dst_start(m, why, sizeof(why))) {
		mig_free(m);
		free(side);
		cmd_fail(err, PROTO_E_INTERNAL, "%s", why);
		return NULL;
	}
	if (j)
		mig_dst_restore(m, j);
	if (mig_journal_write(m)) {
		cmd_fail(err, PROTO_E_INTERNAL, "cannot record the migration: %s", strerror(errno));
		goto stop;
	}
	side->m = m;
	snprintf(side->x.sock_path, sizeof(side->x.sock_path), "%s/migration", ag->opts.state_dir);
	mkdir(side->x.sock_path, 0700);
	snprintf(side->x.sock_path, sizeof(side->x.sock_path), "%s/migration/%s.sock",
		 ag->opts.state_dir, id);
	side->x.sock = ag->handoff_ops.open_migration(ag, side->x.sock_path, m);
	if (!side->x.sock) {
		cmd_fail(err, PROTO_E_INTERNAL, "cannot open the session socket");
		if (!j)
			mig_journal_forget(m);
		goto stop;
	}
	side->next = reg->sides;
	reg->sides = side;
	add(reg, m);
	pr_info(&ag->log, j ? "migration in, resumed from its journal" : "migration in",
		LF_STR("migration", id), LF_STR("region_name", m->region_name), LF_UINT("length", length),
		LF_STR("socket", side->x.sock_path));
	return m;
stop:
	mig_dst_stop(m);
	mig_free(m);
	free(side);
	return NULL;
oom:
	if (m)
		mig_free(m);
	free(side);
	cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	return NULL;
}

static int dst_recover(struct agent *ag, json_t *o, char *why, size_t why_len)
{
	json_t *jid = json_object_get(o, "migration_id"), *name = json_object_get(o, "region_name");
	json_t *len = json_object_get(o, "length"), *ps = json_object_get(o, "page_size");
	json_t *labels = json_object_get(o, "labels");
	struct cmd_error err = { 0 };
	struct mig *m;

	if (!json_is_string(jid) || !jx_uuid_valid(json_string_value(jid)) || !json_is_string(name) ||
	    !json_is_integer(len) || !json_is_integer(ps) ||
	    json_integer_value(ps) != (json_int_t)sysconf(_SC_PAGESIZE) || json_integer_value(len) <= 0 ||
	    json_integer_value(len) % json_integer_value(ps) || (labels && !json_is_object(labels)) ||
	    strcmp(json_string_value(json_object_get(o, "role")) ?: "", "destination"))
		return snprintf(why, why_len, "not a destination job this agent can resume"), -1;
	if (!ag->mig->listening)
		return snprintf(why, why_len, "this agent has no page channel listener "
					      "(--page-channel-listen)"), -1;
	m = dst_create(ag, json_string_value(jid), NULL, json_string_value(name), labels,
		       (uint64_t)json_integer_value(len), (uint32_t)json_integer_value(ps), o, &err);
	if (!m)
		return snprintf(why, why_len, "%s", err.message), -1;
	return 0;
}

static uint64_t opt_u64(json_t *o, const char *k, uint64_t def)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : def;
}

/*
 * A source job read back from its journal: it waits, paused, until its
 * workload registered the region again and the control plane gave the
 * secret again (migration_resume); it starts then (mig_src_start): a
 * fresh precopy if it had not switched over (the restarted agent gave the
 * region back to its writers), else, the region held (its marker), every
 * page and the switchover again.
 */
static int src_recover(struct agent *ag, json_t *o, char *why, size_t why_len)
{
	json_t *jid = json_object_get(o, "migration_id"), *rid = json_object_get(o, "region_id");
	json_t *name = json_object_get(o, "region_name"), *dest = json_object_get(o, "destination");
	json_t *labels = json_object_get(o, "labels"), *opts = json_object_get(o, "options");
	uint64_t len = opt_u64(o, "length", 0), ps = opt_u64(o, "page_size", 0);
	char marker[512];
	struct mig *m;

	if (!json_is_string(jid) || !jx_uuid_valid(json_string_value(jid)) || !json_is_string(rid) ||
	    !jx_uuid_valid(json_string_value(rid)) || !json_is_string(name) || !json_is_string(dest) ||
	    ps != (uint64_t)sysconf(_SC_PAGESIZE) || !len || len % ps ||
	    (labels && !json_is_object(labels)) || !json_is_object(opts))
		return snprintf(why, why_len, "not a source job this agent can resume"), -1;
	m = mig_new(ag, json_string_value(jid), MIG_SOURCE);
	if (!m)
		return snprintf(why, why_len, "out of memory"), -1;
	snprintf(m->region_id, sizeof(m->region_id), "%s", json_string_value(rid));
	m->region_name = strdup(json_string_value(name));
	m->labels = labels ? json_deep_copy(labels) : json_object();
	m->length = len;
	m->page_size = (uint32_t)ps;
	m->n_pages = len / ps;
	m->created_ms = opt_u64(o, "created_ms", m->created_ms);
	snprintf(m->channel, sizeof(m->channel), "%s", json_string_value(dest));
	m->bw_bytes_per_s = opt_u64(opts, "bandwidth_bytes_per_s", 0);
	m->max_rounds = (unsigned)opt_u64(opts, "max_rounds", 10);
	m->max_rounds = m->max_rounds ? m->max_rounds : 1;
	m->max_downtime_ms = opt_u64(opts, "max_downtime_ms", 10);
	m->postcopy_auto = !json_is_false(json_object_get(opts, "postcopy_auto"));
	m->postcopy_after_ms = json_is_integer(json_object_get(opts, "postcopy_after_ms"))
				       ? json_integer_value(json_object_get(opts, "postcopy_after_ms"))
				       : 30000;
	m->granule = opt_u64(opts, "granule_pages", MIG_DEFAULT_GRANULE);
	if (!m->granule || m->granule > MIG_MAX_GRANULE)
		m->granule = MIG_DEFAULT_GRANULE; /* not one this agent wrote */
	m->track_on_hold = json_is_true(json_object_get(opts, "tracking_hold"));
	m->compress_zstd = json_is_true(json_object_get(opts, "compress_zstd"));
	/* journals from before the option: the default */
	m->skip_unchanged = !json_is_false(json_object_get(opts, "skip_unchanged"));
	m->auto_converge = json_is_true(json_object_get(opts, "auto_converge"));
	m->push_conns = (unsigned)opt_u64(opts, "push_connections", 1);
	if (!m->push_conns || m->push_conns > 1 + PCHAN_MAX_PUSH)
		m->push_conns = 1; /* journals from before the option, or not one this agent wrote */
	m->need_secret = true;
	if (!m->region_name || !m->labels) {
		mig_free(m);
		return snprintf(why, why_len, "out of memory"), -1;
	}
	snprintf(marker, sizeof(marker), "%s/migration/%s.held", ag->opts.state_dir, m->region_id);
	if (!access(marker, F_OK))
		m->st.switchover_at_ms = jx_now_ms(); /* switched over: no cancel any more */
	if (mig_journal_ended(m, o)) {
		/* stays so: nothing is started again */
	} else if (json_is_true(json_object_get(o, "completed"))) {
		m->phase = m->paused_in = MIG_COMPLETED;
		m->st.completed_ms = jx_now_ms();
		m->released = true; /* told before the restart, or its workload is gone */
	} else {
		m->phase = MIG_PAUSED;
		m->paused_in = m->st.switchover_at_ms ? MIG_POSTCOPY : MIG_PRECOPY;
		snprintf(m->error, sizeof(m->error), "the agent restarted: the job waits for its region "
			 "to be registered again and for its secret (migration_resume with \"secret\")");
	}
	add(ag->mig, m);
	pr_info(&ag->log, "migration out, read back from its journal", LF_STR("migration", m->id),
		LF_STR("region", m->region_id), LF_STR("phase", mig_phase_name(m->phase)));
	return 0;
}

int mig_recover(struct agent *ag, json_t *o, char *why, size_t why_len)
{
	const char *role = json_string_value(json_object_get(o, "role"));

	if (role && !strcmp(role, "source"))
		return src_recover(ag, o, why, why_len);
	return dst_recover(ag, o, why, why_len);
}

/*
 * migration_resume of a source job read back from its journal: it starts
 * once its region is attached again and its secret is known.  Loop thread,
 * m->mu not held.
 */
static int src_restart(struct agent *ag, struct mig *m, struct cmd_error *err)
{
	struct region *r = region_table_find(ag->regions, m->region_id);
	char why[256];

	if (!r || region_state(r) != REGION_ATTACHED)
		return cmd_fail(err, PROTO_E_CONFLICT, "region %s is not registered again yet: resume "
				"once its workload is back (region_get says ATTACHED)", m->region_id);
	if (!r->hold || r->ctl.mig_track_fd < 0)
		return cmd_fail(err, PROTO_E_CONFLICT, "region %s came back without its hold uffd",
				m->region_id);
	pthread_mutex_lock(&m->mu);
	m->error[0] = '\0';
	m->phase = m->paused_in = MIG_PRECOPY;
	pthread_mutex_unlock(&m->mu);
	if (mig_src_start(m, r, why, sizeof(why))) {
		pthread_mutex_lock(&m->mu);
		snprintf(m->error, sizeof(m->error), "%s", why);
		m->phase = MIG_FAILED;
		pthread_mutex_unlock(&m->mu);
		mig_journal_write(m);
		pr_err(&ag->log, "migration could not start again", LF_STR("migration", m->id),
		       LF_STR("error", why));
		return 0;
	}
	pr_info(&ag->log, "migration out started again after an agent restart", LF_STR("migration", m->id),
		LF_STR("region", r->id), LF_STR("held", r->mig_held ? "yes" : "no"));
	return 0;
}

static int cmd_out(struct agent *ag, json_t *req, json_t **reply, struct cmd_error *err)
{
	struct mig_reg *reg = ag->mig;
	char id[JX_UUID_LEN + 1], snap_id[JX_UUID_LEN + 1], why[256] = "", host[256];
	uint8_t secret[PCHAN_SECRET_LEN];
	json_t *rid = json_object_get(req, "region_id"), *dest = json_object_get(req, "destination");
	json_t *opts = json_object_get(req, "options"), *pc, *tr, *cz, *su, *ac;
	uint64_t bw, rounds, downtime, granule, push;
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
	if (get_u64(opts, "bandwidth_bytes_per_s", 0, 0, UINT64_C(1) << 40, &bw, err) ||
	    get_u64(opts, "max_rounds", 10, 0, 100000, &rounds, err) ||
	    get_u64(opts, "max_downtime_ms", 10, 0, 3600000, &downtime, err) ||
	    get_u64(opts, "granule_pages", MIG_DEFAULT_GRANULE, 1, MIG_MAX_GRANULE, &granule, err) ||
	    get_u64(opts, "push_connections", 1, 1, 1 + PCHAN_MAX_PUSH, &push, err))
		return -1;
	pc = json_object_get(opts, "postcopy");
	if (pc && !json_is_null(pc) && (!json_is_string(pc) || (strcmp(json_string_value(pc), "auto") &&
								 strcmp(json_string_value(pc), "manual"))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"postcopy\" must be \"auto\" or \"manual\"");
	cz = json_object_get(opts, "compress");
	if (cz && !json_is_null(cz) && (!json_is_string(cz) || (strcmp(json_string_value(cz), "none") &&
								 strcmp(json_string_value(cz), "zstd"))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"compress\" must be \"none\" or \"zstd\"");
	ac = json_object_get(opts, "auto_converge");
	if (ac && !json_is_null(ac) && !json_is_boolean(ac))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"auto_converge\" must be true or false");
	tr = json_object_get(opts, "tracking");
	if (tr && !json_is_null(tr) && (!json_is_string(tr) || (strcmp(json_string_value(tr), "auto") &&
								 strcmp(json_string_value(tr), "hold"))))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"tracking\" must be \"auto\" or \"hold\"");
	su = json_object_get(opts, "skip_unchanged");
	if (su && !json_is_null(su) && !json_is_boolean(su))
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"skip_unchanged\" must be true or false");
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
	m = mig_find_locked(reg, id);
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
	m->track_on_hold = tr && json_is_string(tr) && !strcmp(json_string_value(tr), "hold");
	m->granule = granule;
	m->compress_zstd = cz && json_is_string(cz) && !strcmp(json_string_value(cz), "zstd");
	m->skip_unchanged = !json_is_false(su);
	m->auto_converge = json_is_true(ac);
	m->push_conns = (unsigned)push;
	snprintf(m->channel, sizeof(m->channel), "%s", json_string_value(dest));
	if (!m->region_name || !m->labels) {
		mig_free(m);
		return cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	add(reg, m);
	/* recorded before it starts: a restarted agent takes it up again */
	if (mig_journal_write(m))
		snprintf(why, sizeof(why), "cannot record the migration: %s", strerror(errno));
	if (why[0] || mig_src_start(m, r, why, sizeof(why))) {
		pthread_mutex_lock(&m->mu);
		snprintf(m->error, sizeof(m->error), "%s", why);
		m->phase = MIG_FAILED;
		pthread_mutex_unlock(&m->mu);
		mig_journal_write(m);
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
	m = mig_find_locked(ag->mig, json_string_value(jid));
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
	json_t *dest, *sec;

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
		sec = json_object_get(req, "secret");
		if (sec && !json_is_null(sec)) {
			uint8_t secret[PCHAN_SECRET_LEN];

			if (!json_is_string(sec) || pchan_parse_secret(json_string_value(sec), secret)) {
				pthread_mutex_unlock(&m->mu);
				return cmd_fail(err, PROTO_E_BAD_REQUEST, "\"secret\" must be 64 hex digits "
						"(32 bytes)");
			}
			memcpy(m->secret, secret, sizeof(secret));
			OPENSSL_cleanse(secret, sizeof(secret));
			if (m->need_secret)
				m->error[0] = '\0';
			m->need_secret = false;
		}
		m->want_pause = false;
		m->want_resume = true;
		pthread_cond_broadcast(&m->cond);
		if (m->role == MIG_SOURCE && !m->src) {
			if (m->need_secret) {
				pthread_mutex_unlock(&m->mu);
				return cmd_fail(err, PROTO_E_CONFLICT, "the agent restarted: give the job's "
						"\"secret\" again to resume it");
			}
			pthread_mutex_unlock(&m->mu);
			if (src_restart(ag, m, err))
				return -1;
			pthread_mutex_lock(&m->mu);
		}
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
		mig_stop_job(ag, m, true);
		pthread_mutex_lock(&m->mu);
		m->phase = MIG_CANCELLED;
		pthread_mutex_unlock(&m->mu);
		mig_journal_write(m); /* a restart must not start it again */
		pthread_mutex_lock(&m->mu);
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
		mig_stop_job(ag, m, false);
		mig_journal_forget(m);
		mig_put(ag->mig, m);
		*reply = json_object();
		return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
	}
	pthread_mutex_unlock(&m->mu);
	*reply = mig_json(m);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}
