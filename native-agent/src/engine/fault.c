/*
 * Fault engine: starting and stopping the workers, handing them uffds, and
 * the completions they send back.  See fault.h for the design.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "crew.h"
#include "fault.h"
#include "install.h"
#include "region.h"
#include "ufd.h"
#include "worker.h"

#define LOG_COMP "fault"
#include "log.h"

/* virtual size of the zero source for huge page copies (never touched) */
#define FAULT_ZERO_LEN (UINT64_C(1) << 30)

struct fault_engine {
	struct log *log;
	struct fault_cfg cfg;
	struct worker *workers;
	unsigned n_workers;
	int notify_fd;
	pthread_mutex_t mu; /* guards the completion queue */
	struct fault_done *done;
	size_t n_done, cap_done;
	void *zero;
	struct crew *crew;
};

/* ---- completions (worker -> loop thread) ------------------------------- */

void fault_post(struct fault_engine *e, const struct fault_done *d)
{
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&e->mu);
	if (e->n_done == e->cap_done) {
		size_t cap = e->cap_done ? e->cap_done * 2 : 64;
		struct fault_done *q = realloc(e->done, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&e->mu);
			pr_err(e->log, "out of memory posting a completion, lost",
			       LF_UINT("kind", d->kind));
			return;
		}
		e->done = q;
		e->cap_done = cap;
	}
	e->done[e->n_done++] = *d;
	pthread_mutex_unlock(&e->mu);
	do
		n = write(e->notify_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

int fault_notify_fd(const struct fault_engine *e)
{
	return e->notify_fd;
}

/* Takes queued completions in the order they were posted. */
unsigned fault_take(struct fault_engine *e, struct fault_done *out, unsigned max)
{
	uint64_t count;
	unsigned n;

	if (read(e->notify_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_pwarn(e->log, "reading the completion eventfd failed");
	pthread_mutex_lock(&e->mu);
	n = e->n_done < max ? (unsigned)e->n_done : max;
	memcpy(out, e->done, n * sizeof(*out));
	memmove(e->done, e->done + n, (e->n_done - n) * sizeof(*out));
	e->n_done -= n;
	pthread_mutex_unlock(&e->mu);
	return n;
}

/* ---- engine ------------------------------------------------------------ */

/* Whether a thread may return from SCHED_IDLE: probed once, in a thread
 * that is thrown away, so no worker can get stuck at idle priority. */
static void *probe_idle(void *arg)
{
	struct sched_param sp = { 0 };

	*(bool *)arg = !sched_setscheduler(0, SCHED_IDLE, &sp) &&
		       !sched_setscheduler(0, SCHED_OTHER, &sp);
	return NULL;
}

static bool can_leave_idle(void)
{
	bool ok = false;
	pthread_t t;

	if (pthread_create(&t, NULL, probe_idle, &ok))
		return false;
	pthread_join(t, NULL);
	return ok;
}

struct fault_engine *fault_start(struct log *lg, const struct fault_cfg *cfg)
{
	struct fault_engine *e = calloc(1, sizeof(*e));
	bool can_idle;

	if (!e)
		return NULL;
	e->log = lg;
	e->cfg = *cfg;
	e->n_workers = cfg->workers ? cfg->workers : 1;
	pthread_mutex_init(&e->mu, NULL);
	e->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->zero = mmap(NULL, FAULT_ZERO_LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	e->workers = calloc(e->n_workers, sizeof(*e->workers));
	if (e->notify_fd < 0 || e->zero == MAP_FAILED || !e->workers) {
		pr_perror(lg, "cannot set up the fault engine");
		goto free_engine;
	}
	for (unsigned i = 0; i < e->n_workers; i++)
		e->workers[i].ep = e->workers[i].cmd_fd = -1;
	e->crew = crew_start(lg, cfg->install_helpers, cfg->spin_us);
	if (!e->crew) {
		pr_perror(lg, "cannot start the install helpers");
		goto free_engine;
	}
	can_idle = cfg->workers && can_leave_idle();
	for (unsigned i = 0; i < e->n_workers; i++) {
		struct worker *w = &e->workers[i];

		if (worker_init(w, e, lg, &e->cfg, i, can_idle, e->zero, FAULT_ZERO_LEN)) {
			pr_perror(lg, "cannot set up a fault worker", LF_UINT("worker", i));
			goto stop_workers;
		}
		w->crew = e->crew;
		if (!cfg->workers)
			continue; /* driven by hand (tests) */
		if ((errno = pthread_create(&w->thread, NULL, worker_main, w))) {
			pr_perror(lg, "cannot start a fault worker", LF_UINT("worker", i));
			goto stop_workers;
		}
		w->running = true;
	}
	pr_info(lg, "fault engine started", LF_UINT("workers", cfg->workers),
		LF_UINT("install_helpers", cfg->install_helpers),
		LF_UINT("spin_us", cfg->spin_us), LF_UINT("chunk_pages", cfg->chunk_pages),
		LF_BOOL("idle_priority", can_idle));
	return e;

stop_workers:
	fault_stop(e, NULL, NULL);
	return NULL;
free_engine:
	crew_stop(e->crew);
	if (e->notify_fd >= 0)
		close(e->notify_fd);
	if (e->zero != MAP_FAILED && e->zero)
		munmap(e->zero, FAULT_ZERO_LEN);
	free(e->workers);
	pthread_mutex_destroy(&e->mu);
	free(e);
	return NULL;
}

/*
 * Stops the workers and closes the agent's uffd copies.  Regions are left
 * as they are (the loop thread owns them); workloads keep their own copies,
 * so their faults wait for the next agent.  Completions the workers posted
 * on the way out (aborted snapshots) go to drain, when given.
 */
void fault_stop(struct fault_engine *e, fault_drain_fn drain, void *arg)
{
	for (unsigned i = 0; i < e->n_workers; i++) {
		struct worker *w = &e->workers[i];

		if (!w->running)
			continue;
		if (worker_send(w, WC_STOP, NULL, NULL, false))
			w->stop = true; /* racy but only on out of memory: the join still ends */
		pthread_join(w->thread, NULL);
	}
	/* after the workers: no install runs any more */
	crew_stop(e->crew);
	for (unsigned i = 0; i < e->n_workers; i++)
		worker_fini(&e->workers[i]);
	for (size_t i = 0; i < e->n_done; i++) {
		if (drain)
			drain(arg, &e->done[i]);
		else
			wset_rec_free(&e->done[i].rec);
	}
	free(e->done);
	free(e->workers);
	close(e->notify_fd);
	munmap(e->zero, FAULT_ZERO_LEN);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/*
 * Hands a uffd (and the hold uffd of a write-protect-managed region, or -1)
 * and its regions to the least busy worker.  The engine owns fd, hold_fd
 * and pidfd from here on, also when this fails.
 */
int fault_attach(struct fault_engine *e, int fd, int hold_fd, int pidfd, pid_t pid,
		 struct region **regs, unsigned n)
{
	struct worker *w = &e->workers[0];
	struct ufd *u;

	for (unsigned i = 1; i < e->n_workers; i++) {
		if (atomic_load(&e->workers[i].n_ufds) < atomic_load(&w->n_ufds))
			w = &e->workers[i];
	}
	u = ufd_new(w, fd, pidfd, pid);
	if (!u)
		goto close_fds;
	u->hold_fd = hold_fd;
	for (unsigned i = 0; i < n; i++) {
		regs[i]->ctl.worker = w->idx;
		if (ufd_add_region(u, regs[i]))
			goto free_ufd;
	}
	if (worker_send(w, WC_ATTACH, u, NULL, false))
		goto free_ufd;
	/* counted now so that attaches in a row spread before the worker runs */
	atomic_fetch_add(&w->n_ufds, 1);
	return 0;

free_ufd:
	ufd_free(u);
	return -1;
close_fds:
	close(fd);
	if (hold_fd >= 0)
		close(hold_fd);
	if (pidfd >= 0)
		close(pidfd);
	return -1;
}

int fault_detach(struct fault_engine *e, struct region *r, bool populate)
{
	return worker_send(&e->workers[r->ctl.worker], WC_DETACH, NULL, r, populate);
}

int fault_release(struct fault_engine *e, struct region *r)
{
	return worker_send(&e->workers[r->ctl.worker], WC_RELEASE, NULL, r, false);
}

/* A strategy (strategy.h) takes over r on its worker; it reports back its own way. */
int fault_strategy(struct fault_engine *e, struct region *r, const struct region_strategy *s,
		   void *ctx)
{
	return worker_send_strategy(&e->workers[r->ctl.worker], r, s, ctx);
}

/* Tests: the single worker of an engine started with workers = 0. */
struct worker *fault_manual_worker(struct fault_engine *e)
{
	return &e->workers[0];
}
