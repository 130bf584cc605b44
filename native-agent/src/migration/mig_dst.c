/*
 * The destination side of a migration (PROTOCOL.md §3): pages are staged
 * as they arrive (anonymous memory of the agent), the workload attaches by
 * region name on the job's session socket in MISSING mode, and after the
 * switchover its faults are served from the staging when the staged page
 * is current, else requested from the source on the preempt channel.
 *
 * Threads: one fault thread per attached workload (reads its uffd, serves
 * from staging, sends demand requests, installs staged pages in the
 * background when idle), and one thread per page channel connection (the
 * listener's handshake thread carries on as its reader; mig_dst_conn.c).  Pages are
 * installed by whichever thread has them first; UFFDIO_COPY of a page
 * already present answers EEXIST, and its wake-up reaches a thread that
 * faulted on it whether or not its fault message was read yet, so
 * nobody waits for a page that is there.  Page bitmaps are atomic words.
 *
 * Acknowledgement: a data frame of the main channel is acknowledged
 * (cumulatively, by its sequence number) once its pages are in the
 * staging, which outlives connections: a reconnecting source learns the
 * last frame processed from AUTH_OK and resends whatever came after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "bitmap.h"
#include "conn.h"
#include "hsk.h"
#include "mig.h"
#include "mono.h"
#include "ptls.h"
#include "region.h"
#include "uffd_compat.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_dst.h"

void mig_dst_wake_fault_thread(struct mig_dst *d)
{
	uint64_t one = 1;

	if (d->ev_fd >= 0 && write(d->ev_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_pwarn(&d->m->ag->log, "cannot wake the fault thread");
}

/* ---- installing -------------------------------------------------------- */

static void served(struct mig_dst *d, uint64_t p, uint64_t now)
{
	struct mig *m = d->m;
	uint64_t t = atomic_exchange(&d->fault_ns[p], 0);

	if (!t)
		return;
	pthread_mutex_lock(&m->mu);
	/* a workload that attached early waited for the switchover, not for a page */
	if (t < d->switch_ns)
		t = d->switch_ns;
	if (!m->st.first_fault_ms)
		m->st.first_fault_ms = jx_now_ms();
	mig_latency(m, now > t ? now - t : 0);
	pthread_mutex_unlock(&m->mu);
}

/*
 * Installs the staged, current pages of [first, first + n) that are not
 * installed yet.  Only after the switchover and with a workload attached.
 */
static void install(struct mig_dst *d, uint64_t first, uint64_t n)
{
	struct mig *m = d->m;
	uint64_t p = first, end = first + n;

	if (!d->attached)
		return;
	while (p < end) {
		uint64_t q;
		struct uffdio_copy cp;
		uint64_t done, now;

		if (abit_test(d->installed, p) || !abit_test(d->ready, p) || abit_test(d->removed, p)) {
			p++;
			continue;
		}
		q = p + 1;
		while (q < end && !abit_test(d->installed, q) && abit_test(d->ready, q) &&
		       !abit_test(d->removed, q))
			q++;
		cp = (struct uffdio_copy){ .dst = d->start + p * m->page_size,
					   .src = (uintptr_t)(d->staging + p * m->page_size),
					   .len = (q - p) * m->page_size };
		if (ioctl(d->uffd, UFFDIO_COPY, &cp) && errno != EEXIST && errno != EAGAIN) {
			if (errno != ENOENT && errno != ESRCH)
				pr_pwarn(&m->ag->log, "cannot install a page", LF_STR("migration", m->id),
					 LF_UINT("page", p));
			return;
		}
		done = cp.copy > 0 ? (uint64_t)cp.copy / m->page_size : 0;
		if (!done) {
			/*
			 * Present already (EEXIST), or the mm is changing (EAGAIN: a
			 * removal not read yet, and the page is not installed).  Either
			 * way its thread is woken: it faults again, and that fault is
			 * served once the removal has been applied.
			 */
			struct uffdio_range r = { .start = cp.dst, .len = m->page_size };
			bool present = errno == EEXIST;

			ioctl(d->uffd, UFFDIO_WAKE, &r);
			if (present) {
				abit_set(d->installed, p);
				served(d, p, mono_now_ns());
			}
			p++;
			continue;
		}
		now = mono_now_ns();
		for (uint64_t k = p; k < p + done; k++) {
			abit_set(d->installed, k);
			served(d, k, now);
		}
		p += done;
	}
}

void mig_dst_send_done(struct mig_dst *d)
{
	struct mig *m = d->m;
	struct pchan_hdr h = { .type = PCHAN_T_DONE };
	struct ptls_conn *c;

	bool due;

	pthread_mutex_lock(&m->mu);
	due = d->held == m->n_pages && !d->done_sent && d->main_c;
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
 * Pages of a PAGES frame (data: their bytes were read straight into the
 * staging; once the source holds, a page read again gets the same bytes,
 * so a concurrent install from it reads the same either way) or of a ZERO
 * frame.
 */
void mig_dst_deliver(struct mig_dst *d, uint64_t first, uint64_t n, bool data, bool demand)
{
	struct mig *m = d->m;
	uint64_t fresh = 0;
	bool switched;

	pthread_mutex_lock(&m->mu);
	switched = d->switched;
	pthread_mutex_unlock(&m->mu);
	for (uint64_t p = first; p < first + n; p++) {
		if (switched && abit_test(d->ready, p))
			continue; /* the source holds: a second copy is the same bytes */
		if (!data && madvise(d->staging + p * m->page_size, m->page_size, MADV_DONTNEED))
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
		install(d, first, n);
		mig_dst_send_done(d);
	}
}

/* ---- the fault thread -------------------------------------------------- */

/*
 * Asks for page p and the missing pages right after it (a workload that
 * reads on will want them next; one round trip instead of sixteen).
 */
static void request(struct mig_dst *d, uint64_t p)
{
	struct mig *m = d->m;
	struct pchan_hdr h = { .type = PCHAN_T_REQUEST, .page = p, .count = 1 };

	if (abit_set(d->want, p))
		return; /* asked already; a new channel resends every pending request */
	while (h.count < DST_REQ_AHEAD && p + h.count < m->n_pages &&
	       !abit_test(d->ready, p + h.count) && !abit_test(d->removed, p + h.count) &&
	       !abit_set(d->want, p + h.count))
		h.count++;
	pthread_mutex_lock(&d->send_mu);
	if (d->pre_c && pchan_send(d->pre_c, &h, NULL))
		ptls_shutdown(d->pre_c);
	pthread_mutex_unlock(&d->send_mu);
	pthread_mutex_lock(&m->mu);
	m->st.postcopy_requests++;
	pthread_mutex_unlock(&m->mu);
}

/*
 * A missing fault on p.  It says the page is not there, whatever
 * `installed` says: an install can land after a removal's event was read
 * and before the kernel zapped the range (see on_remove), and only waking
 * the thread would make it fault again for ever.  So the page is installed
 * again (a thread that faulted on a page just installed meets EEXIST and
 * is woken).
 */
static void serve(struct mig_dst *d, uint64_t p)
{
	abit_clear(d->installed, p);
	if (abit_test(d->removed, p)) {
		/* dropped by the workload: it reads zero now, never the migrated bytes */
		struct uffdio_zeropage zp = {
			.range = { .start = d->start + p * d->m->page_size, .len = d->m->page_size },
		};
		int err = ioctl(d->uffd, UFFDIO_ZEROPAGE, &zp) ? errno : 0;

		/* EEXIST: there; EAGAIN: a removal not read yet, it faults again after it */
		if (err)
			ioctl(d->uffd, UFFDIO_WAKE, &zp.range);
		if (!err || err == EEXIST) {
			abit_set(d->installed, p);
			served(d, p, mono_now_ns());
		}
	} else if (abit_test(d->ready, p)) {
		install(d, p, 1);
	} else {
		request(d, p);
	}
}

static void resend_requests(struct mig_dst *d)
{
	struct mig *m = d->m;

	for (uint64_t p = 0; p < m->n_pages; p++) {
		if (abit_test(d->want, p) && !abit_test(d->ready, p)) {
			abit_clear(d->want, p);
			request(d, p);
		}
	}
}

/*
 * MADV_DONTNEED / munmap by the workload: those pages are not present any
 * more and must read as zero from now on.  The kernel zaps the range only
 * after this event was read, and refuses installs only while it is pending:
 * a page installed in between (by a reader thread, or the background
 * installer) is taken away again, so `installed` can be wrong for it until
 * its next fault, which serve() takes as the truth.
 */
static void on_remove(struct mig_dst *d, uint64_t start, uint64_t end)
{
	struct mig *m = d->m;
	uint64_t lo = start > d->start ? start : d->start;
	uint64_t hi = end < d->start + m->length ? end : d->start + m->length;

	for (uint64_t a = lo; a < hi; a += m->page_size) {
		uint64_t p = (a - d->start) / m->page_size;

		abit_set(d->removed, p);
		abit_clear(d->installed, p);
	}
}

static void *fault_main(void *arg)
{
	struct mig_dst *d = arg;
	struct mig *m = d->m;
	struct uffd_msg msgs[64];
	bool was_switched = false;

	for (;;) {
		struct pollfd pf[3] = { { .fd = d->uffd, .events = POLLIN },
					{ .fd = d->ev_fd, .events = POLLIN },
					{ .fd = d->pidfd, .events = POLLIN } };
		bool switched, pre_new, idle_work;
		uint64_t cnt;
		ssize_t n;

		pthread_mutex_lock(&m->mu);
		switched = d->switched;
		pre_new = d->pre_new;
		d->pre_new = false;
		pthread_mutex_unlock(&m->mu);
		if (d->ev_stop)
			break;
		if (switched && !was_switched) {
			/* faults that came before the switchover waited for it */
			was_switched = true;
			for (uint64_t p = 0; p < m->n_pages; p++) {
				if (atomic_load(&d->fault_ns[p]))
					serve(d, p);
			}
		}
		if (pre_new && switched)
			resend_requests(d);
		idle_work = switched && d->bg_cursor < m->n_pages;
		if (poll(pf, 3, idle_work ? 0 : -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents && read(d->ev_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			break;
		if (pf[2].revents) {
			pr_info(&m->ag->log, "the destination workload exited", LF_STR("migration", m->id));
			break;
		}
		if (!pf[0].revents) {
			if (idle_work) {
				/*
				 * Pages staged before the switchover that nobody touched yet:
				 * installed while idle.  Pages not here yet are installed
				 * when they arrive, removed ones read zero: both are skipped.
				 */
				while (d->bg_cursor < m->n_pages &&
				       (abit_test(d->installed, d->bg_cursor) ||
					abit_test(d->removed, d->bg_cursor) ||
					!abit_test(d->ready, d->bg_cursor)))
					d->bg_cursor++;
				if (d->bg_cursor < m->n_pages)
					install(d, d->bg_cursor,
						m->n_pages - d->bg_cursor < DST_BG_CHUNK
							? m->n_pages - d->bg_cursor
							: DST_BG_CHUNK);
			}
			continue;
		}
		n = read(d->uffd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			uint64_t addr = msgs[i].arg.pagefault.address, p, t;

			if (msgs[i].event == UFFD_EVENT_REMOVE || msgs[i].event == UFFD_EVENT_UNMAP) {
				on_remove(d, msgs[i].arg.remove.start, msgs[i].arg.remove.end);
				continue;
			}
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
				if (msgs[i].event == UFFD_EVENT_FORK)
					close((int)msgs[i].arg.fork.ufd);
				continue;
			}
			if (addr < d->start || addr - d->start >= m->length)
				continue;
			p = (addr - d->start) / m->page_size;
			t = 0;
			atomic_compare_exchange_strong(&d->fault_ns[p], &t, mono_now_ns());
			if (switched)
				serve(d, p);
		}
	}
	return NULL;
}

/* ---- the workload attaches --------------------------------------------- */

int mig_dst_register(struct mig *m, struct conn *c, json_t *req, int fd, json_t **reply,
		     struct cmd_error *err)
{
	struct mig_dst *d = m->dst;
	struct hsk_register hr;
	char why[256];
	int fl;

	if (hsk_parse_register(req, (uint32_t)sysconf(_SC_PAGESIZE), &hr, why, sizeof(why))) {
		close(fd);
		return cmd_fail(err, PROTO_E_BAD_REQUEST, "%s", why);
	}
	if (!d || d->attached) {
		close(fd);
		return cmd_fail(err, PROTO_E_CONFLICT, "a workload is attached to this migration already");
	}
	if (strcmp(hr.name, m->region_name) || hr.length != m->length ||
	    hr.page_size != m->page_size || !(hr.modes & REGION_MODE_MISSING)) {
		close(fd);
		return cmd_fail(err, PROTO_E_BAD_REQUEST,
				"this migration takes region \"%s\" of %llu bytes, page size %u, "
				"in missing mode",
				m->region_name, (unsigned long long)m->length, m->page_size);
	}
	d->pidfd = (int)syscall(SYS_pidfd_open, conn_peer(c)->pid, 0);
	fl = fcntl(fd, F_GETFL);
	if (d->pidfd < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		close(fd);
		if (d->pidfd >= 0)
			close(d->pidfd);
		d->pidfd = -1;
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot watch the workload: %s", strerror(errno));
	}
	d->uffd = fd;
	d->pid = conn_peer(c)->pid;
	d->start = hr.start;
	d->attached = true;
	if (pthread_create(&d->fault_th, NULL, fault_main, d)) {
		d->attached = false;
		close(fd);
		close(d->pidfd);
		d->uffd = d->pidfd = -1;
		return cmd_fail(err, PROTO_E_INTERNAL, "cannot start the fault thread");
	}
	d->fault_started = true;
	pthread_mutex_lock(&m->mu);
	jx_uuid_new(m->region_id);
	pthread_mutex_unlock(&m->mu);
	pr_info(&m->ag->log, "migration destination attached", LF_STR("migration", m->id),
		LF_STR("region", m->region_id), LF_INT("pid", d->pid), LF_HEX("start", d->start));
	*reply = json_pack("{s:s, s:{s:s, s:s}}", "id", m->region_id, "backing", "kind", "migration",
			   "migration_id", m->id);
	return *reply ? 0 : cmd_fail(err, PROTO_E_INTERNAL, "out of memory");
}

/*
 * The job ends (deleted, or the agent stops) after the destination got
 * every page: what is still only staged is installed, then the range is
 * unregistered, so the workload owns plain memory that no agent serves any
 * more (a page it drops later reads zero, as anonymous memory does).  A
 * job that had not got every page leaves the range registered: its
 * faults wait rather than read zeros.
 */
static void release_region(struct mig_dst *d)
{
	struct mig *m = d->m;
	struct uffdio_range r = { .start = d->start, .len = m->length };

	if (!d->attached || !d->switched || d->held != m->n_pages)
		return;
	install(d, 0, m->n_pages);
	for (uint64_t p = 0; p < m->n_pages; p++) {
		if (!abit_test(d->installed, p) && !abit_test(d->removed, p)) {
			pr_warn(&m->ag->log, "destination region left registered: a page is not installed",
				LF_STR("migration", m->id), LF_UINT("page", p));
			return;
		}
	}
	if (ioctl(d->uffd, UFFDIO_UNREGISTER, &r) && errno != ESRCH)
		pr_pwarn(&m->ag->log, "cannot unregister the destination region", LF_STR("migration", m->id));
	else
		pr_info(&m->ag->log, "destination region released to its workload",
			LF_STR("migration", m->id), LF_STR("region", m->region_id));
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
	d->uffd = d->pidfd = -1;
	pthread_mutex_init(&d->send_mu, NULL);
	d->staging = mmap(NULL, m->length, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	d->ready = calloc(words, sizeof(uint64_t));
	d->installed = calloc(words, sizeof(uint64_t));
	d->want = calloc(words, sizeof(uint64_t));
	d->removed = calloc(words, sizeof(uint64_t));
	d->fault_ns = calloc(m->n_pages, sizeof(uint64_t));
	d->ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->staging == MAP_FAILED || !d->ready || !d->installed || !d->want || !d->removed || !d->fault_ns ||
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
	if (d->main_c)
		ptls_shutdown(d->main_c);
	if (d->pre_c)
		ptls_shutdown(d->pre_c);
	pthread_cond_broadcast(&m->cond);
	while (d->threads)
		pthread_cond_wait(&m->cond, &m->mu);
	m->dst = NULL;
	pthread_mutex_unlock(&m->mu);
	if (d->fault_started) {
		d->ev_stop = true;
		mig_dst_wake_fault_thread(d);
		pthread_join(d->fault_th, NULL);
	}
	release_region(d);
	if (d->uffd >= 0)
		close(d->uffd);
	if (d->pidfd >= 0)
		close(d->pidfd);
	if (d->ev_fd >= 0)
		close(d->ev_fd);
	if (d->staging)
		munmap(d->staging, m->length);
	free((void *)d->ready);
	free((void *)d->installed);
	free((void *)d->want);
	free((void *)d->removed);
	free((void *)d->fault_ns);
	pthread_mutex_destroy(&d->send_mu);
	free(d);
}

/* An operator pause: the connections go, and stay refused until resume. */
void mig_dst_kick(struct mig *m)
{
	struct mig_dst *d = m->dst;

	if (d->main_c)
		ptls_shutdown(d->main_c);
	if (d->pre_c)
		ptls_shutdown(d->pre_c);
}
