/*
 * Fault engine: worker threads, their loop, commands from the loop thread
 * and completions back to it.  See fault.h for the design.
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

#include "fault.h"
#include "install.h"
#include "region.h"
#include "ufd.h"

#define LOG_COMP "fault"
#include "log.h"

/* virtual size of the zero source for huge page copies (never touched) */
#define FAULT_ZERO_LEN (UINT64_C(1) << 30)
/* a spin budget below this is not worth a window */
#define FAULT_SPIN_MIN_NS 2000u
/* mm-changing retries that yield before the worker sleeps 1 ms between them */
#define FAULT_RETRY_YIELDS 64u
#define FAULT_EVENTS 32

enum fault_cmd_kind { FC_ATTACH, FC_DETACH, FC_RELEASE, FC_STOP };

struct fault_cmd {
	struct fault_cmd *next;
	enum fault_cmd_kind kind;
	struct ufd *u;
	struct region *r;
	bool populate;
};

struct fault_engine {
	struct log *log;
	struct fault_cfg cfg;
	struct fault_worker *workers;
	unsigned n_workers;
	int notify_fd;
	pthread_mutex_t mu; /* guards the completion queue */
	struct fault_done *done;
	size_t n_done, cap_done;
	void *zero;
};

uint64_t fault_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("pause");
#endif
}

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

/* ---- commands (loop thread -> worker) ---------------------------------- */

static int send_cmd(struct fault_worker *w, struct fault_cmd *c)
{
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&w->mu);
	if (w->cmds_tail)
		w->cmds_tail->next = c;
	else
		w->cmds = c;
	w->cmds_tail = c;
	pthread_mutex_unlock(&w->mu);
	do
		n = write(w->cmd_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	return 0;
}

static int queue_cmd(struct fault_worker *w, enum fault_cmd_kind kind, struct ufd *u,
		     struct region *r, bool populate)
{
	struct fault_cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->kind = kind;
	c->u = u;
	c->r = r;
	c->populate = populate;
	return send_cmd(w, c);
}

/* n_ufds already counts u (fault_attach counts before the worker runs). */
static void add_ufd(struct fault_worker *w, struct ufd *u)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &u->tag };

	u->next = w->ufds;
	w->ufds = u;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, u->fd, &ev)) {
		pr_perror(w->log, "cannot watch a uffd");
		ufd_gone(u, "internal error");
		return;
	}
	if (u->pidfd >= 0) {
		ev.data.ptr = &u->pid_tag;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, u->pidfd, &ev))
			pr_pwarn(w->log, "cannot watch the workload's pidfd", LF_INT("pid", u->pid));
	}
}

/* A uffd born in the worker (a forked child's). */
void fault_worker_add_ufd(struct fault_worker *w, struct ufd *u)
{
	atomic_fetch_add(&w->n_ufds, 1);
	add_ufd(w, u);
}

/* A region starts being served: resumed ones may have threads blocked on
 * faults a previous agent read and never answered, so wake them all to
 * fault again into this worker. */
static void start_region(struct fault_worker *w, struct ufd *u, struct region *r)
{
	uint64_t now = fault_now_ns();

	r->w.populate_at_ns = now + (uint64_t)(r->w.populate_after_ms > 0 ? r->w.populate_after_ms : 0) * 1000000u;
	install_wake(u, region_start(r), r->length);
	if (r->w.n_prefetch == 0) {
		struct fault_done d = { .kind = FAULT_READY, .r = r };

		fault_post(w->e, &d);
	}
}

static struct ufd *owner_of(struct fault_worker *w, const struct region *r)
{
	for (struct ufd *u = w->ufds; u; u = u->next) {
		for (unsigned i = 0; i < u->n_regs; i++) {
			if (u->regs[i] == r)
				return u;
		}
	}
	return NULL;
}

static void run_cmd(struct fault_worker *w, struct fault_cmd *c)
{
	struct ufd *u;

	switch (c->kind) {
	case FC_ATTACH:
		add_ufd(w, c->u);
		for (unsigned i = 0; i < c->u->n_regs && !c->u->dead; i++)
			start_region(w, c->u, c->u->regs[i]);
		break;
	case FC_DETACH:
	case FC_RELEASE:
		u = owner_of(w, c->r);
		if (!u)
			break; /* already let go of; its FAULT_DETACHED is on its way */
		if (c->kind == FC_DETACH && c->populate)
			c->r->w.detach = true;
		else
			ufd_drop_region(u, c->r, true,
					c->kind == FC_DETACH ? "detached" : "unregistered by the workload");
		break;
	case FC_STOP:
		w->stop = true;
		break;
	}
}

static void drain_cmds(struct fault_worker *w)
{
	struct fault_cmd *c;
	uint64_t count;

	if (read(w->cmd_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_pwarn(w->log, "reading the command eventfd failed");
	pthread_mutex_lock(&w->mu);
	c = w->cmds;
	w->cmds = w->cmds_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (c) {
		struct fault_cmd *next = c->next;

		run_cmd(w, c);
		free(c);
		c = next;
	}
}

/* ---- the worker loop --------------------------------------------------- */

/*
 * Background installs run at SCHED_IDLE so that they only use CPU nobody
 * else wants; demand faults are served at normal priority.  Only done when
 * the switch back is allowed (CAP_SYS_NICE or a permissive RLIMIT_NICE).
 */
static void set_idle(struct fault_worker *w, bool idle)
{
	struct sched_param sp = { 0 };

	if (!w->can_idle || w->idle_prio == idle)
		return;
	if (sched_setscheduler(0, idle ? SCHED_IDLE : SCHED_OTHER, &sp)) {
		pr_pwarn(w->log, "cannot change worker priority, staying as is");
		w->can_idle = false;
		return;
	}
	w->idle_prio = idle;
}

static void serve(struct ufd *u)
{
	for (int rounds = 0; rounds < 4 && !u->dead; rounds++) {
		int n = ufd_read(u);

		if (n < 0)
			return;
		if (u->n_todo && ufd_resolve(u) < 0)
			return;
		if (n < FAULT_BATCH)
			return;
	}
}

/* Returns true when a uffd had messages. */
static bool handle(struct fault_worker *w, const struct epoll_event *ev, int n)
{
	bool served = false;

	for (int i = 0; i < n; i++) {
		struct fault_tag *t = ev[i].data.ptr;

		switch (t->kind) {
		case TAG_CMD:
			drain_cmds(w);
			break;
		case TAG_UFD:
			if (!t->u->dead) {
				serve(t->u);
				served = true;
			}
			break;
		case TAG_PIDFD:
			if (!t->u->dead)
				ufd_gone(t->u, "workload exited");
			break;
		}
	}
	return served;
}

/* Faults that met a changing mm: read the events that explain it, retry. */
static bool retry_pending(struct fault_worker *w)
{
	bool pending = false;

	for (struct ufd *u = w->ufds; u; u = u->next) {
		if (u->dead || !u->mm_changing)
			continue;
		if (ufd_read(u) < 0 || ufd_resolve(u) < 0)
			continue;
		pending |= u->mm_changing;
	}
	if (!pending) {
		w->retry_spins = 0;
		return false;
	}
	/* the thread changing the mm needs the CPU to finish */
	if (++w->retry_spins <= FAULT_RETRY_YIELDS)
		sched_yield();
	return true;
}

static void reap(struct fault_worker *w)
{
	struct ufd **pp = &w->ufds;

	while (*pp) {
		struct ufd *u = *pp;

		if (!u->dead) {
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		epoll_ctl(w->ep, EPOLL_CTL_DEL, u->fd, NULL);
		if (u->pidfd >= 0)
			epoll_ctl(w->ep, EPOLL_CTL_DEL, u->pidfd, NULL);
		atomic_fetch_sub(&w->n_ufds, 1);
		ufd_free(u);
	}
}

/*
 * 0 when something is runnable now, the milliseconds to the next
 * background start, or -1 to sleep until an event.
 */
static int next_timeout(struct fault_worker *w, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (struct ufd *u = w->ufds; u; u = u->next) {
		if (u->dead)
			continue;
		if (u->mm_changing)
			return w->retry_spins > FAULT_RETRY_YIELDS ? 1 : 0;
		for (unsigned i = 0; i < u->n_regs; i++) {
			struct region *r = u->regs[i];

			if (install_pending(r, now))
				return 0;
			if (r->w.populate_after_ms >= 0 && !r->w.failed && r->w.populate_at_ns > now &&
			    r->w.populate_at_ns < next)
				next = r->w.populate_at_ns;
		}
	}
	if (next == UINT64_MAX)
		return -1;
	return (int)((next - now + 999999) / 1000000);
}

/* One chunk of background work, regions taken in turn. */
static void run_job(struct fault_worker *w, uint64_t now, unsigned *rr)
{
	unsigned k = 0, n = 0;

	for (struct ufd *u = w->ufds; u; u = u->next)
		n += u->dead ? 0 : u->n_regs;
	if (!n)
		return;
	for (unsigned tries = 0; tries < n; tries++) {
		unsigned want = (*rr + tries) % n;

		k = 0;
		for (struct ufd *u = w->ufds; u; u = u->next) {
			if (u->dead)
				continue;
			if (want >= k + u->n_regs) {
				k += u->n_regs;
				continue;
			}
			if (install_pending(u->regs[want - k], now)) {
				set_idle(w, true);
				if (install_step(u, u->regs[want - k], now) == INSTALL_GONE)
					ufd_gone(u, "workload exited");
				*rr = want + 1;
				return;
			}
			break;
		}
	}
}

/*
 * Poll for the next fault instead of sleeping: sleeping costs a cross-CPU
 * wake-up (tens of microseconds on small VMs) on the next fault.  The
 * budget doubles when a sleep turned out shorter than the cap (a spin
 * would have caught it) and halves after every empty window, so an agent
 * whose faults stopped stops spinning within a few windows and an idle
 * agent never spins (it only spins after serving a fault).
 */
static void spin(struct fault_worker *w)
{
	struct epoll_event ev[FAULT_EVENTS];
	uint64_t budget = w->spin_ns, deadline;

	if (budget < FAULT_SPIN_MIN_NS)
		return;
	deadline = fault_now_ns() + budget;
	while (!w->stop) {
		int n = epoll_wait(w->ep, ev, FAULT_EVENTS, 0);

		if (n > 0) {
			if (handle(w, ev, n))
				deadline = fault_now_ns() + budget;
			retry_pending(w);
			continue;
		}
		if (fault_now_ns() >= deadline)
			break;
		for (int i = 0; i < 16; i++)
			cpu_relax();
	}
	w->spin_ns = budget / 2;
}

static void after_sleep(struct fault_worker *w, uint64_t slept_ns)
{
	uint64_t cap = (uint64_t)w->cfg->spin_us * 1000u;

	if (!cap)
		return;
	if (slept_ns <= cap) {
		uint64_t want = w->spin_ns * 2 > slept_ns * 2 ? w->spin_ns * 2 : slept_ns * 2;

		w->spin_ns = want < FAULT_SPIN_MIN_NS ? FAULT_SPIN_MIN_NS : want > cap ? cap : want;
	} else {
		w->spin_ns /= 2;
	}
}

static void *worker_main(void *arg)
{
	struct fault_worker *w = arg;
	struct epoll_event ev[FAULT_EVENTS];
	unsigned rr = 0;
	char name[16];

	snprintf(name, sizeof(name), "fl-worker-%u", w->idx);
	prctl(PR_SET_NAME, name);
	while (!w->stop) {
		uint64_t now = fault_now_ns();
		int timeout = next_timeout(w, now), n;

		if (timeout)
			set_idle(w, false);
		n = epoll_wait(w->ep, ev, FAULT_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror(w->log, "epoll_wait failed, worker stops");
			break;
		}
		if (n > 0) {
			set_idle(w, false);
			if (timeout)
				after_sleep(w, fault_now_ns() - now);
			if (handle(w, ev, n))
				spin(w);
			retry_pending(w);
		} else if (!retry_pending(w)) {
			run_job(w, fault_now_ns(), &rr);
		}
		reap(w);
	}
	set_idle(w, false);
	return NULL;
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

static int worker_init(struct fault_engine *e, struct fault_worker *w, unsigned idx, bool can_idle)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->cmd_tag };

	w->e = e;
	w->log = e->log;
	w->cfg = &e->cfg;
	w->idx = idx;
	w->can_idle = can_idle;
	w->spin_ns = (uint64_t)e->cfg.spin_us * 1000u;
	w->zero = e->zero;
	w->zero_len = FAULT_ZERO_LEN;
	w->cmd_tag.kind = TAG_CMD;
	pthread_mutex_init(&w->mu, NULL);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ep < 0 || w->cmd_fd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->cmd_fd, &ev))
		return -1;
	return 0;
}

static void worker_fini(struct fault_worker *w)
{
	while (w->ufds) {
		struct ufd *u = w->ufds;

		w->ufds = u->next;
		ufd_free(u);
	}
	while (w->cmds) {
		struct fault_cmd *c = w->cmds;

		w->cmds = c->next;
		if (c->kind == FC_ATTACH)
			ufd_free(c->u);
		free(c);
	}
	if (w->ep >= 0)
		close(w->ep);
	if (w->cmd_fd >= 0)
		close(w->cmd_fd);
	pthread_mutex_destroy(&w->mu);
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
	can_idle = cfg->workers && can_leave_idle();
	for (unsigned i = 0; i < e->n_workers; i++) {
		struct fault_worker *w = &e->workers[i];

		if (worker_init(e, w, i, can_idle)) {
			pr_perror(lg, "cannot set up a fault worker", LF_UINT("worker", i));
			goto stop_workers;
		}
		if (!cfg->workers)
			continue; /* driven by hand (tests) */
		if ((errno = pthread_create(&w->thread, NULL, worker_main, w))) {
			pr_perror(lg, "cannot start a fault worker", LF_UINT("worker", i));
			goto stop_workers;
		}
		w->running = true;
	}
	pr_info(lg, "fault engine started", LF_UINT("workers", cfg->workers),
		LF_UINT("spin_us", cfg->spin_us), LF_UINT("chunk_pages", cfg->chunk_pages),
		LF_BOOL("idle_priority", can_idle));
	return e;

stop_workers:
	fault_stop(e);
	return NULL;
free_engine:
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
 * so their faults wait for the next agent.
 */
void fault_stop(struct fault_engine *e)
{
	for (unsigned i = 0; i < e->n_workers; i++) {
		struct fault_worker *w = &e->workers[i];

		if (!w->running)
			continue;
		if (queue_cmd(w, FC_STOP, NULL, NULL, false))
			w->stop = true; /* racy but only on out of memory: the join still ends */
		pthread_join(w->thread, NULL);
	}
	for (unsigned i = 0; i < e->n_workers; i++)
		worker_fini(&e->workers[i]);
	for (size_t i = 0; i < e->n_done; i++)
		wset_rec_free(&e->done[i].rec);
	free(e->done);
	free(e->workers);
	close(e->notify_fd);
	munmap(e->zero, FAULT_ZERO_LEN);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/*
 * Hands a uffd and its regions to the least busy worker.  The engine owns
 * fd and pidfd from here on, also when this fails.
 */
int fault_attach(struct fault_engine *e, int fd, int pidfd, pid_t pid, struct region **regs,
		 unsigned n)
{
	struct fault_worker *w = &e->workers[0];
	struct ufd *u;

	for (unsigned i = 1; i < e->n_workers; i++) {
		if (atomic_load(&e->workers[i].n_ufds) < atomic_load(&w->n_ufds))
			w = &e->workers[i];
	}
	u = ufd_new(w, fd, pidfd, pid);
	if (!u)
		goto close_fds;
	for (unsigned i = 0; i < n; i++) {
		regs[i]->ctl.worker = w->idx;
		if (ufd_add_region(u, regs[i]))
			goto free_ufd;
	}
	if (queue_cmd(w, FC_ATTACH, u, NULL, false))
		goto free_ufd;
	/* counted now so that attaches in a row spread before the worker runs */
	atomic_fetch_add(&w->n_ufds, 1);
	return 0;

free_ufd:
	ufd_free(u);
	return -1;
close_fds:
	close(fd);
	if (pidfd >= 0)
		close(pidfd);
	return -1;
}

int fault_detach(struct fault_engine *e, struct region *r, bool populate)
{
	return queue_cmd(&e->workers[r->ctl.worker], FC_DETACH, NULL, r, populate);
}

int fault_release(struct fault_engine *e, struct region *r)
{
	return queue_cmd(&e->workers[r->ctl.worker], FC_RELEASE, NULL, r, false);
}

/* Tests: the single worker of an engine started with workers = 0. */
struct fault_worker *fault_manual_worker(struct fault_engine *e)
{
	return &e->workers[0];
}
