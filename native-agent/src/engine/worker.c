/*
 * Fault workers: each thread's loop, the commands it takes from the loop
 * thread, and how it spends its time between faults (spinning, background
 * installs at idle priority).  See fault.h for the design.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "fault.h"
#include "install.h"
#include "mono.h"
#include "proto.h"
#include "region.h"
#include "strategy.h"
#include "track.h"
#include "ufd.h"
#include "uffd_compat.h"
#include "worker.h"

#define LOG_COMP "fault"
#include "log.h"

/* a spin budget below this is not worth a window */
#define WORKER_SPIN_MIN_NS 2000u
/* mm-changing retries that yield before the worker sleeps 1 ms between them */
#define WORKER_RETRY_YIELDS 64u
#define WORKER_EVENTS 32

struct worker_msg {
	struct worker_msg *next;
	enum worker_cmd kind;
	struct ufd *u;
	struct region *r;
	bool populate;
	const struct region_strategy *strat;
	void *ctx;
};

/* ---- commands (loop thread -> worker) ---------------------------------- */

int worker_send(struct worker *w, enum worker_cmd kind, struct ufd *u, struct region *r,
		bool populate)
{
	struct worker_msg *c = calloc(1, sizeof(*c));
	uint64_t one = 1;
	ssize_t n;

	if (!c)
		return -1;
	c->kind = kind;
	c->u = u;
	c->r = r;
	c->populate = populate;
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

int worker_send_strategy(struct worker *w, struct region *r, const struct region_strategy *s,
			 void *ctx)
{
	struct worker_msg *m = calloc(1, sizeof(*m));
	uint64_t one = 1;
	ssize_t n;

	if (!m)
		return -1;
	m->kind = WC_STRATEGY;
	m->r = r;
	m->strat = s;
	m->ctx = ctx;
	pthread_mutex_lock(&w->mu);
	if (w->cmds_tail)
		w->cmds_tail->next = m;
	else
		w->cmds = m;
	w->cmds_tail = m;
	pthread_mutex_unlock(&w->mu);
	do
		n = write(w->cmd_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	return 0;
}

/* n_ufds already counts u (fault_attach counts before the worker runs). */
static void add_ufd(struct worker *w, struct ufd *u)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &u->tag };

	u->next = w->ufds;
	w->ufds = u;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, u->own_fd, &ev)) {
		pr_perror(w->log, "cannot watch a uffd");
		ufd_gone(u, "internal error");
		return;
	}
	ev.data.ptr = &u->hold_tag;
	if (u->hold_fd >= 0 && epoll_ctl(w->ep, EPOLL_CTL_ADD, u->hold_fd, &ev)) {
		pr_perror(w->log, "cannot watch a hold uffd");
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
void worker_add_ufd(struct worker *w, struct ufd *u)
{
	atomic_fetch_add(&w->n_ufds, 1);
	add_ufd(w, u);
}

/*
 * Write tracking of a region that came with a hold uffd.  A resumed region
 * may have been left on the hold uffd by the agent before, protected, with
 * a capture half done and writers waiting: it goes back to the track uffd,
 * unprotected, so that no writer stays blocked (the capture of the dead
 * agent is lost; its .tmp is never taken for an image).
 */
static void start_tracking(struct worker *w, struct ufd *u, struct region *r)
{
	uint64_t mode = UFFDIO_REGISTER_MODE_WP;
	/* the granule is in base pages: a 2 MiB page is one granule of its own (a
	 * 16-page granule of them would copy 32 MiB on one write fault) */
	uint64_t granule = (uint64_t)w->cfg->track_granule * (uint64_t)sysconf(_SC_PAGESIZE) / r->page_size;

	if (!r->hold || u->hold_fd < 0 || u->n_regs != 1)
		return;
	if (r->modes & REGION_MODE_MISSING)
		mode |= UFFDIO_REGISTER_MODE_MISSING;
	r->w.wp = calloc(1, sizeof(*r->w.wp));
	if (!r->w.wp || track_init(r->w.wp, u->pid, u->own_fd, u->hold_fd, region_start(r), r->n_pages,
				   r->page_size, mode, granule ? granule : 1)) {
		pr_pwarn(w->log, "region cannot be tracked; snapshots of it are refused",
			 LF_STR("region", r->id));
		free(r->w.wp);
		r->w.wp = NULL;
		return;
	}
	/* a region that migrated away stays held: the destination runs it now */
	if (r->resumed && !r->mig_held) {
		if (track_reset(r->w.wp))
			pr_pwarn(w->log, "resumed region: releasing its write protection failed",
				 LF_STR("region", r->id));
		else
			pr_info(w->log, "resumed region back on its track uffd, unprotected",
				LF_STR("region", r->id));
	}
	u->fd = track_fd(r->w.wp);
}

/* A region starts being served: resumed ones may have threads blocked on
 * faults a previous agent read and never answered, so wake them all to
 * fault again into this worker. */
static void start_region(struct worker *w, struct ufd *u, struct region *r)
{
	uint64_t delay_ms = r->w.populate_after_ms > 0 ? (uint64_t)r->w.populate_after_ms : 0;

	r->w.populate_at_ns = mono_now_ns() + delay_ms * 1000000u;
	if (r->resumed && region_learn_present(r))
		pr_pwarn(w->log, "resumed region: pages present before the restart are found one by one",
			 LF_STR("region", r->id));
	start_tracking(w, u, r);
	install_wake(u, region_start(r), r->length);
	if (r->w.n_prefetch == 0) {
		struct fault_done d = { .kind = FAULT_READY, .r = r };

		fault_post(w->e, &d);
	}
}

static struct ufd *owner_of(struct worker *w, const struct region *r)
{
	for (struct ufd *u = w->ufds; u; u = u->next) {
		for (unsigned i = 0; i < u->n_regs; i++) {
			if (u->regs[i] == r)
				return u;
		}
	}
	return NULL;
}

static void run_cmd(struct worker *w, struct worker_msg *c)
{
	struct ufd *u;

	switch (c->kind) {
	case WC_ATTACH:
		add_ufd(w, c->u);
		for (unsigned i = 0; i < c->u->n_regs && !c->u->dead; i++)
			start_region(w, c->u, c->u->regs[i]);
		break;
	case WC_DETACH:
	case WC_RELEASE:
		u = owner_of(w, c->r);
		if (!u)
			break; /* already let go of; its FAULT_DETACHED is on its way */
		if (c->kind == WC_DETACH && c->populate)
			c->r->w.detach = true;
		else
			ufd_drop_region(u, c->r, true,
					c->kind == WC_DETACH ? "detached" : "unregistered by the workload");
		break;
	case WC_STOP:
		w->stop = true;
		/* writers must never wait for an agent that is gone */
		for (u = w->ufds; u; u = u->next) {
			for (unsigned i = 0; i < u->n_regs && !u->dead; i++) {
				struct region *r = u->regs[i];

				strategy_abort(u, r, PROTO_E_INTERNAL, "the agent is stopping");
				if (r->w.wp && !track_reset(r->w.wp))
					u->fd = track_fd(r->w.wp);
			}
		}
		break;
	case WC_STRATEGY:
		u = owner_of(w, c->r);
		if (!u || c->r->w.strat) {
			c->strat->refuse(w->e, c->r, c->ctx, u ? PROTO_E_CONFLICT : PROTO_E_NOT_FOUND,
					 u ? c->r->w.strat->name : "the region is not served any more");
			break;
		}
		c->strat->start(u, c->r, c->ctx);
		break;
	}
}

static void drain_cmds(struct worker *w)
{
	struct worker_msg *c;
	uint64_t count;

	if (read(w->cmd_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_pwarn(w->log, "reading the command eventfd failed");
	pthread_mutex_lock(&w->mu);
	c = w->cmds;
	w->cmds = w->cmds_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (c) {
		struct worker_msg *next = c->next;

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
static void set_idle(struct worker *w, bool idle)
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

static void serve(struct ufd *u, int fd)
{
	for (int rounds = 0; rounds < 4 && !u->dead; rounds++) {
		int n = ufd_read_fd(u, fd);

		if (n < 0)
			return;
		if (u->n_todo && !u->waits_space && ufd_resolve(u) < 0)
			return;
		if (n < FAULT_BATCH)
			return;
	}
}

/* Returns true when a uffd had messages. */
static bool handle(struct worker *w, const struct epoll_event *ev, int n)
{
	bool served = false;

	for (int i = 0; i < n; i++) {
		struct fault_tag *t = ev[i].data.ptr;

		switch (t->kind) {
		case TAG_CMD:
			drain_cmds(w);
			break;
		case TAG_UFD:
		case TAG_HOLD:
			if (!t->u->dead) {
				serve(t->u, t->kind == TAG_HOLD ? t->u->hold_fd : t->u->own_fd);
				served = true;
			}
			break;
		case TAG_STRATEGY:
			if (!t->u->dead) {
				for (unsigned k = 0; k < t->u->n_regs; k++) {
					struct region *r = t->u->regs[k];

					if (r->w.strat)
						r->w.strat->wake(t->u, r);
				}
				/* faults that waited for room in the writer's buffer */
				if (t->u->waits_space && ufd_resolve(t->u) >= 0)
					served = true;
			}
			/* pages arrived: faults parked for them, on every uffd (forked children too) */
			for (struct ufd *u = w->ufds; u; u = u->next) {
				if (u->n_parked && !u->dead && ufd_unpark(u) >= 0)
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

/* Whether a strategy (a snapshot) still runs on one of u's regions (faults may wait for it). */
static bool capturing(const struct ufd *u)
{
	for (unsigned i = 0; i < u->n_regs; i++) {
		if (u->regs[i]->w.strat)
			return true;
	}
	return false;
}

/* Faults that met a changing mm: read the events that explain it, retry. */
static bool retry_pending(struct worker *w)
{
	bool pending = false;

	for (struct ufd *u = w->ufds; u; u = u->next) {
		/*
		 * Faults that waited for room in a snapshot's buffer whose snapshot
		 * ended meanwhile (aborted by a removal, say): nothing else would
		 * resolve them, and their threads would wait for ever.
		 */
		if (!u->dead && u->waits_space && !capturing(u))
			ufd_resolve(u);
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
	if (++w->retry_spins <= WORKER_RETRY_YIELDS)
		sched_yield();
	return true;
}

static void reap(struct worker *w)
{
	struct ufd **pp = &w->ufds;

	while (*pp) {
		struct ufd *u = *pp;

		if (!u->dead) {
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		epoll_ctl(w->ep, EPOLL_CTL_DEL, u->own_fd, NULL);
		if (u->hold_fd >= 0)
			epoll_ctl(w->ep, EPOLL_CTL_DEL, u->hold_fd, NULL);
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
static int next_timeout(struct worker *w, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (struct ufd *u = w->ufds; u; u = u->next) {
		if (u->dead)
			continue;
		if (u->mm_changing)
			return w->retry_spins > WORKER_RETRY_YIELDS ? 1 : 0;
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
static void run_job(struct worker *w, uint64_t now, unsigned *rr)
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
				/* a snapshot holds writers until it is done: never at idle priority */
				set_idle(w, !strategy_runnable(u->regs[want - k]));
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
 * wake-up (tens of microseconds on small VMs) on the next fault.  (Moving
 * the worker to the faulting thread's CPU instead does not work: the uffd
 * wake-up is not a "sync" one, so the scheduler then puts the woken thread
 * on the other, idle CPU; see docs/benchmarks.md.)  The
 * budget doubles when a sleep turned out shorter than the cap (a spin
 * would have caught it) and halves after every empty window, so an agent
 * whose faults stopped stops spinning within a few windows and an idle
 * agent never spins (it only spins after serving a fault).
 */
static void spin(struct worker *w)
{
	struct epoll_event ev[WORKER_EVENTS];
	uint64_t budget = w->spin_ns, deadline;

	if (budget < WORKER_SPIN_MIN_NS)
		return;
	deadline = mono_now_ns() + budget;
	while (!w->stop) {
		int n = epoll_wait(w->ep, ev, WORKER_EVENTS, 0);

		if (n > 0) {
			bool served = handle(w, ev, n);

			retry_pending(w);
			/* a uffd that died meanwhile leaves the epoll set (its pidfd stays readable) */
			reap(w);
			/* only served faults extend the window: events that stay ready and serve
			 * nothing would keep the worker here, away from its background work */
			if (served) {
				deadline = mono_now_ns() + budget;
				continue;
			}
		}
		if (mono_now_ns() >= deadline)
			break;
		/* the faulting thread may share this CPU: let it run */
		sched_yield();
	}
	w->spin_ns = budget / 2;
}

static void after_sleep(struct worker *w, uint64_t slept_ns)
{
	uint64_t cap = (uint64_t)w->cfg->spin_us * 1000u;

	if (!cap)
		return;
	if (slept_ns <= cap) {
		uint64_t want = w->spin_ns * 2 > slept_ns * 2 ? w->spin_ns * 2 : slept_ns * 2;

		w->spin_ns = want < WORKER_SPIN_MIN_NS ? WORKER_SPIN_MIN_NS : want > cap ? cap : want;
	} else {
		w->spin_ns /= 2;
	}
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[WORKER_EVENTS];
	unsigned rr = 0;
	char name[16];

	snprintf(name, sizeof(name), "fl-worker-%u", w->idx);
	prctl(PR_SET_NAME, name);
	while (!w->stop) {
		uint64_t now = mono_now_ns();
		int timeout = next_timeout(w, now), n;

		if (timeout)
			set_idle(w, false);
		n = epoll_wait(w->ep, ev, WORKER_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror(w->log, "epoll_wait failed, worker stops");
			break;
		}
		if (n > 0) {
			set_idle(w, false);
			if (timeout)
				after_sleep(w, mono_now_ns() - now);
			if (handle(w, ev, n))
				spin(w);
			retry_pending(w);
		} else if (!retry_pending(w)) {
			run_job(w, mono_now_ns(), &rr);
		}
		reap(w);
	}
	set_idle(w, false);
	return NULL;
}

int worker_init(struct worker *w, struct fault_engine *e, struct log *lg,
		const struct fault_cfg *cfg, unsigned idx, bool can_idle, const void *zero,
		size_t zero_len)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->cmd_tag };

	w->e = e;
	w->log = lg;
	w->cfg = cfg;
	w->idx = idx;
	w->can_idle = can_idle;
	w->spin_ns = (uint64_t)cfg->spin_us * 1000u;
	w->zero = zero;
	w->zero_len = zero_len;
	w->cmd_tag.kind = TAG_CMD;
	pthread_mutex_init(&w->mu, NULL);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ep < 0 || w->cmd_fd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->cmd_fd, &ev))
		return -1;
	return 0;
}

void worker_fini(struct worker *w)
{
	while (w->ufds) {
		struct ufd *u = w->ufds;

		w->ufds = u->next;
		ufd_free(u);
	}
	while (w->cmds) {
		struct worker_msg *c = w->cmds;

		w->cmds = c->next;
		if (c->kind == WC_ATTACH)
			ufd_free(c->u);
		if (c->kind == WC_STRATEGY)
			c->strat->refuse(w->e, c->r, c->ctx, PROTO_E_INTERNAL, "the agent is stopping");
		free(c);
	}
	if (w->ep >= 0)
		close(w->ep);
	if (w->cmd_fd >= 0)
		close(w->cmd_fd);
	pthread_mutex_destroy(&w->mu);
}

