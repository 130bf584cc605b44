/*
 * The destination side of a migration (PROTOCOL.md §3): pages are staged
 * as they arrive (anonymous memory of the agent), the workload attaches by
 * region name on the job's session socket in MISSING mode, and its region
 * is served by the fault engine like any other, through the strategy of
 * mig_dst_serve.c: after the switchover its faults are served from the
 * staging when the staged page is current, else requested from the source
 * on the preempt channel.  See mig_dst.h for the threads.
 *
 * Acknowledgement: a data frame of the main channel is acknowledged
 * (cumulatively, by its sequence number) once its pages are in the
 * staging, which outlives connections: a reconnecting source learns the
 * last frame processed from AUTH_OK and resends whatever came after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "bitmap.h"
#include "conn.h"
#include "fault.h"
#include "hsk.h"
#include "mig.h"
#include "mono.h"
#include "ptls.h"
#include "region.h"
#include "strategy.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_dst.h"
#include "mig_journal.h"

/* Tells the region's worker to look (pages ready, a new channel, the end). */
void mig_dst_poke(struct mig_dst *d)
{
	uint64_t one = 1;

	if (d->ev_fd >= 0 && write(d->ev_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_pwarn(&d->m->ag->log, "cannot wake the destination's fault worker");
}

void mig_dst_send_done(struct mig_dst *d)
{
	struct mig *m = d->m;
	struct pchan_hdr h = { .type = PCHAN_T_DONE };
	struct ptls_conn *c;

	bool due;

	pthread_mutex_lock(&m->mu);
	/* every page installed in the workload, not only staged: the staging dies with the agent */
	due = d->switched && atomic_load(&d->all_installed) && !d->done_sent && d->main_c;
	if (due)
		d->done_sent = true;
	pthread_mutex_unlock(&m->mu);
	if (!due)
		return;
	pr_info(&m->ag->log, "migration: every page is here", LF_STR("migration", m->id));
	/* the descriptor is read under send_mu: its reader clears it there before closing it */
	pthread_mutex_lock(&d->send_mu);
	c = d->main_c;
	if (c && pchan_send(c, &h, NULL))
		pr_pwarn(&m->ag->log, "cannot send done", LF_STR("migration", m->id));
	pthread_mutex_unlock(&d->send_mu);
}

/*
 * Pages of a PAGES frame (data: their bytes are in the staging already;
 * after the switchover they were received aside and copied in only where
 * the page was not ready, mig_dst_conn.c: a ready page may be installed at
 * any moment, and once the source holds a second copy is the same bytes)
 * or of a ZERO frame.  Connection threads.
 */
void mig_dst_deliver(struct mig_dst *d, uint64_t first, uint64_t n, bool data, bool demand)
{
	struct mig *m = d->m;
	uint64_t fresh = 0;
	bool switched;

	pthread_mutex_lock(&m->mu);
	switched = d->switched;
	pthread_mutex_unlock(&m->mu);
	/* a zero run before the switchover: one call for all of it */
	if (!data && !switched && madvise(d->staging + first * m->page_size, n * m->page_size, MADV_DONTNEED))
		memset(d->staging + first * m->page_size, 0, n * m->page_size);
	for (uint64_t p = first; p < first + n; p++) {
		if (switched && abit_test(d->ready, p))
			continue; /* the source holds: a second copy is the same bytes */
		if (!data && switched && madvise(d->staging + p * m->page_size, m->page_size, MADV_DONTNEED))
			memset(d->staging + p * m->page_size, 0, m->page_size);
		if (!abit_set(d->ready, p))
			fresh++;
		abit_clear(d->want, p);
	}
	pthread_mutex_lock(&m->mu);
	if (!m->st.setup_ms)
		m->st.setup_ms = jx_now_ms() - m->created_ms;
	if (demand) {
		m->st.demand_pages += n;
		m->st.demand_bytes += data ? n * m->page_size : 0;
	}
	if (switched) {
		d->held += fresh;
		m->st.remaining_pages = m->n_pages - d->held;
	}
	pthread_mutex_unlock(&m->mu);
	if (switched) {
		/* the worker installs them (and wakes the faults parked for them) */
		pthread_mutex_lock(&d->q_mu);
		/* no region served yet: its background install finds them staged */
		if (d->on_worker && d->n_arrived == d->cap_arrived) {
			size_t cap = d->cap_arrived ? d->cap_arrived * 2 : 16;
			struct dst_run *q = realloc(d->arrived, cap * sizeof(*q));

			if (q) {
				d->arrived = q;
				d->cap_arrived = cap;
			}
		}
		/* out of memory: their faults still find them staged */
		if (d->on_worker && d->n_arrived < d->cap_arrived)
			d->arrived[d->n_arrived++] = (struct dst_run){ .first = first, .n = n, .demand = demand };
		pthread_mutex_unlock(&d->q_mu);
		mig_dst_poke(d);
		mig_dst_send_done(d);
	}
}

/* ---- the workload attaches --------------------------------------------- */

static struct region *new_region(struct mig *m, struct conn *c, const struct hsk_register *hr)
{
	struct mig_dst *d = m->dst;
	/* the workload registers again after an agent restart: same region, same id */
	bool resumed = hr->resume && !strcmp(hr->resume_id, m->region_id);
	struct region *r = region_new(resumed ? hr->resume_id : NULL, hr->name, hr->labels ? hr->labels : m->labels, hr->start,
				      hr->length, hr->page_size);

	if (!r)
		return NULL;
	r->pid = conn_peer(c)->pid;
	r->uid = conn_peer(c)->uid;
	r->modes = hr->modes;
	r->features = hr->features;
	r->source = REGION_SRC_LIBFAULTLINE;
	r->kind = REGION_STAGED;
	r->ctl.conn = conn_ref(c);
	r->w.staged = d->staging;
	r->w.strat = &mig_dst_strategy;
	r->w.strat_ctx = d;
	r->resumed = resumed; /* its present pages are learnt from its pagemap (engine) */
	{
		char dir[512];

		/* pages it removes read zero also after an agent restart (mig_journal.c) */
		mig_journal_dir(m->ag, dir, sizeof(dir));
		if (region_removed_open(r, dir, resumed))
			pr_pwarn(&m->ag->log, "removed pages of the destination region will not survive "
				 "an agent restart", LF_STR("migration", m->id));
	}
	d->regs[0] = (struct dst_reg){ .r = r };
	d->n_regs = 1;
	pthread_mutex_lock(&d->q_mu);
	d->on_worker = true;
	pthread_mutex_unlock(&d->q_mu);
	return r;
}

int mig_dst_register(struct mig *m, struct conn *c, json_t *req, int fd, json_t **reply,
		     struct cmd_error *err)
{
	struct agent *ag = m->ag;
	struct mig_dst *d = m->dst;
	struct hsk_register hr;
	struct region *r;
	char why[256];
	int pidfd, fl;

	if (hsk_parse_register(req, (uint32_t)sysconf(_SC_PAGESIZE), &hr, why, sizeof(why))) {
		close(fd);
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "%s", why);
	}
	if (!d || d->r) {
		close(fd);
		return cmd_fail(err, PROTO_E_CONFLICT, "a workload is attached to this migration already");
	}
	if (m->region_id[0] && !(hr.resume && !strcmp(hr.resume_id, m->region_id))) {
		close(fd);
		return cmd_fail(err, PROTO_E_CONFLICT, "region %s of this migration was attached before: "
				"only its workload registers again (resume_id)", m->region_id);
	}
	if (strcmp(hr.name, m->region_name) || hr.length != m->length ||
	    hr.page_size != m->page_size || !(hr.modes & REGION_MODE_MISSING)) {
		close(fd);
		return cmd_fail(err, PROTO_E_BAD_REQUEST,
				"this migration takes region \"%s\" of %llu bytes, page size %u, "
				"in missing mode",
				m->region_name, (unsigned long long)m->length, m->page_size);
	}
	if (!ag->engine) {
		close(fd);
		return cmd_fail(err, PROTO_E_INTERNAL, "the fault engine is not running");
	}
	/* the engine reads it without blocking (libfaultline opens it so; made sure of) */
	fl = fcntl(fd, F_GETFL);
	pidfd = fl >= 0 && !fcntl(fd, F_SETFL, fl | O_NONBLOCK)
			? (int)syscall(SYS_pidfd_open, conn_peer(c)->pid, 0)
			: -1;
	r = pidfd >= 0 ? new_region(m, c, &hr) : NULL;
	if (!r) {
		close(fd);
		if (pidfd >= 0)
			close(pidfd);
		d->n_regs = 0;
		pthread_mutex_lock(&d->q_mu);
		d->on_worker = false;
		pthread_mutex_unlock(&d->q_mu);
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot attach the workload: %s", strerror(errno));
	}
	/* the engine owns fd and pidfd from here on, also when this fails */
	if (fault_attach(ag->engine, fd, -1, pidfd, r->pid, &r, 1)) {
		d->n_regs = 0;
		pthread_mutex_lock(&d->q_mu);
		d->on_worker = false;
		pthread_mutex_unlock(&d->q_mu);
		region_put(r);
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot attach the workload: %s", strerror(errno));
	}
	/* listed like any region; the job keeps a reference of its own until it ends */
	region_table_add(ag->regions, r);
	r->ctl.refs++;
	d->r = r;
	pthread_mutex_lock(&m->mu);
	memcpy(m->region_id, r->id, sizeof(m->region_id));
	pthread_mutex_unlock(&m->mu);
	/* the id it resumes with after an agent restart */
	mig_journal_write(m);
	pr_info(&ag->log, r->resumed ? "migration destination attached again" : "migration destination attached", LF_STR("migration", m->id),
		LF_STR("region", m->region_id), LF_INT("pid", r->pid), LF_HEX("start", hr.start),
		LF_UINT("worker", r->ctl.worker));
	*reply = json_pack("{s:s, s:{s:s, s:s}}", "id", m->region_id, "backing", "kind", "migration",
			   "migration_id", m->id);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

/*
 * The job ends (deleted, or the agent stops): the region's worker lets go
 * of it, and the staging can go.  With every page here the worker installs
 * what is still only staged and unregisters the range, so the workload owns
 * plain memory that no agent serves any more (a page it drops later reads
 * zero, as anonymous memory does).  A job that had not got every page
 * leaves the range registered and not served: its faults wait rather than
 * read zeros.  Loop thread; waits for the worker (it never waits for this
 * thread).
 */
static void let_go(struct mig_dst *d)
{
	struct mig *m = d->m;
	bool all_held;

	if (!d->r)
		return;
	pthread_mutex_lock(&m->mu);
	all_held = d->switched && (d->held == m->n_pages || atomic_load(&d->all_installed));
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&d->q_mu);
	d->end = true;
	d->all_held = all_held;
	pthread_mutex_unlock(&d->q_mu);
	mig_dst_poke(d);
	pthread_mutex_lock(&d->q_mu);
	while (d->on_worker)
		pthread_cond_wait(&d->q_cond, &d->q_mu);
	pthread_mutex_unlock(&d->q_mu);
	region_put(d->r);
	d->r = NULL;
}

/* ---- start and stop ---------------------------------------------------- */

int mig_dst_start(struct mig *m, char *why, size_t why_len)
{
	struct mig_dst *d = calloc(1, sizeof(*d));
	uint64_t words = BITMAP_WORDS(m->n_pages);

	if (!d)
		return snprintf(why, why_len, "out of memory"), -1;
	m->dst = d;
	d->m = m;
	pthread_mutex_init(&d->send_mu, NULL);
	pthread_mutex_init(&d->q_mu, NULL);
	pthread_cond_init(&d->q_cond, NULL);
	d->staging = mmap(NULL, m->length, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	d->ready = calloc(words, sizeof(uint64_t));
	d->want = calloc(words, sizeof(uint64_t));
	d->fault_ns = calloc(m->n_pages, sizeof(uint64_t));
	d->regs = calloc(4, sizeof(*d->regs));
	d->cap_regs = 4;
	d->ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->staging == MAP_FAILED || !d->ready || !d->want || !d->fault_ns || !d->regs ||
	    d->ev_fd < 0) {
		if (d->staging == MAP_FAILED)
			d->staging = NULL;
		snprintf(why, why_len, "cannot allocate the staging: %s", strerror(errno));
		mig_dst_stop(m);
		return -1;
	}
	return 0;
}

void mig_dst_stop(struct mig *m)
{
	struct mig_dst *d = m->dst;

	if (!d)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	mig_dst_shutdown(d, true);
	pthread_cond_broadcast(&m->cond);
	while (d->threads)
		pthread_cond_wait(&m->cond, &m->mu);
	m->dst = NULL;
	pthread_mutex_unlock(&m->mu);
	let_go(d);
	if (d->ev_fd >= 0)
		close(d->ev_fd);
	if (d->staging)
		munmap(d->staging, m->length);
	free((void *)d->ready);
	free((void *)d->want);
	free(d->fault_ns);
	free(d->arrived);
	free(d->regs);
	pthread_mutex_destroy(&d->send_mu);
	pthread_mutex_destroy(&d->q_mu);
	pthread_cond_destroy(&d->q_cond);
	free(d);
}

/*
 * A job read back from its journal (mig_journal.c): nothing staged, the
 * secret not known.  A job whose pages were all installed in the workload
 * is live at once: a page its workload does not hold was removed by it and
 * reads zero (the staging is zero); else the source sends every page again
 * when it reconnects (the destination answers with sequence 0), and the
 * switchover too.  Loop thread, before the job is listed.
 */
void mig_dst_restore(struct mig *m, json_t *j)
{
	struct mig_dst *d = m->dst;
	json_t *rid = json_object_get(j, "region_id");
	bool all = json_is_true(json_object_get(j, "installed_all"));

	if (json_is_string(rid) && jx_uuid_valid(json_string_value(rid)))
		snprintf(m->region_id, sizeof(m->region_id), "%s", json_string_value(rid));
	if (json_is_integer(json_object_get(j, "created_ms")))
		m->created_ms = (uint64_t)json_integer_value(json_object_get(j, "created_ms"));
	if (json_is_integer(json_object_get(j, "switchover_at_ms")))
		m->st.switchover_at_ms = (uint64_t)json_integer_value(json_object_get(j, "switchover_at_ms"));
	if (all) {
		for (uint64_t p = 0; p < m->n_pages; p++)
			abit_set(d->ready, p);
		d->switched = true;
		d->held = m->n_pages;
		atomic_store(&d->live, true);
		atomic_store(&d->all_installed, true);
	}
	m->st.remaining_pages = m->n_pages - d->held;
	if (mig_journal_ended(m, j))
		return;
	if (json_is_true(json_object_get(j, "completed"))) {
		m->phase = m->paused_in = MIG_COMPLETED;
		m->st.completed_ms = jx_now_ms();
		return;
	}
	m->paused_in = m->st.switchover_at_ms ? MIG_POSTCOPY : MIG_PRECOPY;
	m->phase = MIG_PAUSED;
	snprintf(m->error, sizeof(m->error), "the agent restarted: the job waits for its secret "
		 "(migration_resume with \"secret\")");
}

/* An operator pause: the connections go, and stay refused until resume. */
void mig_dst_kick(struct mig *m)
{
	mig_dst_shutdown(m->dst, true);
}

/* Under mu: the main channel, the push connections and, with preempt, the preempt channel end. */
void mig_dst_shutdown(struct mig_dst *d, bool preempt)
{
	if (d->main_c)
		ptls_shutdown(d->main_c);
	if (preempt && d->pre_c)
		ptls_shutdown(d->pre_c);
	for (unsigned i = 0; i < PCHAN_MAX_PUSH; i++) {
		if (d->push_c[i])
			ptls_shutdown(d->push_c[i]);
	}
}
