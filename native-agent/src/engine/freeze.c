/*
 * Stopping a workload's threads for a moment; see freeze.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "freeze.h"
#include "mono.h"

/* freeze_end() on threads not stopped yet: how long it waits for them */
#define FREEZE_END_WAIT_NS 2000000000u

static struct freeze_thread *find(struct freeze *f, pid_t tid)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->th[i].tid == tid)
			return &f->th[i];
	}
	return NULL;
}

static int add(struct freeze *f, pid_t tid)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct freeze_thread *th = realloc(f->th, cap * sizeof(*th));

		if (!th)
			return -1;
		f->th = th;
		f->cap = cap;
	}
	f->th[f->n++] = (struct freeze_thread){ .tid = tid };
	return 0;
}

static void drop(struct freeze *f, struct freeze_thread *t)
{
	*t = f->th[--f->n];
}

/*
 * Whether a thread is exiting (a zombie until reaped) or gone: seizing it
 * fails with EPERM, and it runs no code of the workload any more.
 */
static bool exiting(pid_t pid, pid_t tid)
{
	char path[80], buf[512], *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* "tid (comm) S ...": the state follows the last parenthesis (comm may hold one) */
	close_paren = strrchr(buf, ')');
	return !close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' || close_paren[2] == 'X';
}

/*
 * Whether this thread traces tid already: a thread the workload created
 * after one of its threads was seized is attached by the kernel
 * (PTRACE_O_TRACECLONE) and may show in /proc before its clone event is
 * read; seizing it again fails with EPERM.
 */
static bool traced_by_me(pid_t pid, pid_t tid)
{
	char path[80], buf[2048], *at;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	at = strstr(buf, "\nTracerPid:");
	return at && strtol(at + 11, NULL, 10) == (long)syscall(SYS_gettid);
}

/*
 * Seizes one thread: 0 (also when it was attached as a clone already), 1
 * when it exited meanwhile, -1 with errno.  A thread refuses to be seized
 * (EPERM) from the moment it begins to exit, but /proc shows it as a
 * zombie only at the end of its exit: an EPERM of a thread other than the
 * main one is tried again for up to 50 ms (an exiting thread may wait that
 * long for a CPU beside the workload's running threads), until the thread
 * is seen exiting or is seized.  A workload that may not be traced refuses its
 * main thread at once.
 */
static int seize(struct freeze *f, pid_t tid)
{
	uint64_t deadline = mono_now_ns() + UINT64_C(50000000);

	for (;;) {
		if (!ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)PTRACE_O_TRACECLONE))
			return 0;
		if (errno == ESRCH)
			return 1;
		if (errno == EPERM && traced_by_me(f->pid, tid))
			return 0;
		if (errno != EPERM || tid == f->pid)
			return -1;
		if (exiting(f->pid, tid))
			return 1;
		if (mono_now_ns() > deadline) {
			errno = EPERM;
			return -1;
		}
		sched_yield();
	}
}

/*
 * Seizes and interrupts every thread of the workload not seized yet.
 * Returns how many were new, or -1 (EPERM: not allowed to trace it; ESRCH:
 * the workload is gone).
 */
static int seize_new(struct freeze *f)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int added = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)f->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? (errno = ESRCH, -1) : -1;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

		if (tid <= 0 || find(f, tid))
			continue;
		switch (seize(f, tid)) {
		case 1:
			continue; /* exited meanwhile */
		case -1:
			goto fail;
		}
		if (add(f, tid)) {
			errno = ENOMEM;
			goto fail;
		}
		added++;
		if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) && errno != ESRCH)
			goto fail;
	}
	closedir(d);
	return added;
fail:
	{
		int err = errno;

		closedir(d);
		errno = err;
	}
	return -1;
}

int freeze_begin(struct freeze *f, pid_t pid)
{
	f->pid = pid;
	f->n = 0;
	f->active = true;
	f->begin_ns = mono_now_ns();
	if (seize_new(f) < 0) {
		int err = errno;

		freeze_end(f);
		errno = err;
		return -1;
	}
	return 0;
}

/* One thread's news, if any: 1 stopped (or gone), 0 still running, -1 failure. */
static int look(struct freeze *f, struct freeze_thread *t)
{
	int st, event;
	pid_t got;
	unsigned long msg;

	do
		got = waitpid(t->tid, &st, WNOHANG | __WALL);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return 0;
	if (got < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
		drop(f, t); /* gone (ECHILD: reaped as the thread group ended) */
		return 1;
	}
	if (!WIFSTOPPED(st))
		return 0;
	event = st >> 16;
	t->stopped = true;
	if (event == PTRACE_EVENT_CLONE) {
		/* a new thread, seized already: it reports a stop of its own */
		if (!ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &msg) && !find(f, (pid_t)msg) &&
		    add(f, (pid_t)msg))
			return -1;
	} else if (!event) {
		/* a signal-delivery stop (an interrupt stops with an event): delivered at the end */
		t->sig = WSTOPSIG(st);
	}
	return 1;
}

/*
 * 1 when every thread of the workload is stopped (nothing of it runs),
 * 0 not yet (poll again; keep serving faults meanwhile), -1 on failure.
 */
int freeze_poll(struct freeze *f)
{
	bool all = true;
	int added;

	for (size_t i = 0; i < f->n;) {
		struct freeze_thread *t = &f->th[i];
		size_t before = f->n;
		int r;

		if (t->stopped) {
			i++;
			continue;
		}
		r = look(f, t);
		if (r < 0)
			return -1;
		if (r == 0)
			all = false;
		if (f->n >= before)
			i++; /* else the last one moved into slot i: look at it next */
	}
	if (!all)
		return 0;
	/* nothing runs now, so no thread can be created: the list is complete when nothing is new */
	added = seize_new(f);
	if (added < 0)
		return errno == ESRCH && !f->n ? 1 : -1;
	return added == 0;
}

/*
 * A thread killed while stopped (SIGKILL ends a ptrace stop) exits as our
 * tracee: its parent learns of the exit only once we have collected it, so
 * it is waited for here (until deadline) rather than left to block the
 * parent's waitpid().
 */
static void reap(pid_t tid, uint64_t deadline)
{
	for (;;) {
		struct timespec ms = { .tv_nsec = 1000000 };
		int st;
		pid_t got = waitpid(tid, &st, WNOHANG | __WALL);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || (got == tid && (WIFEXITED(st) || WIFSIGNALED(st))))
			return; /* collected (ECHILD: not ours any more) */
		if (mono_now_ns() >= deadline)
			return;
		if (got == tid && WIFSTOPPED(st)) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL); /* a stop after all: let it go */
			continue;
		}
		nanosleep(&ms, NULL);
	}
}

bool freeze_gone(const struct freeze *f)
{
	return exiting(f->pid, f->pid);
}

/* Every thread goes on (with the signal it caught, if any). */
void freeze_end(struct freeze *f)
{
	uint64_t deadline = mono_now_ns() + FREEZE_END_WAIT_NS;

	if (!f->active)
		return;
	while (f->n) {
		size_t i = f->n - 1;
		pid_t tid = f->th[i].tid;

		/* PTRACE_DETACH needs a stopped thread; a freeze cut short waits for it */
		while (i < f->n && f->th[i].tid == tid && !f->th[i].stopped &&
		       mono_now_ns() < deadline) {
			struct timespec ms = { .tv_nsec = 1000000 };

			if (look(f, &f->th[i]) < 0)
				break;
			if (i < f->n && f->th[i].tid == tid && !f->th[i].stopped)
				nanosleep(&ms, NULL);
		}
		if (i < f->n && f->th[i].tid == tid) {
			if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)f->th[i].sig) && errno == ESRCH)
				reap(tid, deadline);
			drop(f, &f->th[i]);
		}
	}
	free(f->th);
	f->th = NULL;
	f->n = f->cap = 0;
	f->active = false;
}
