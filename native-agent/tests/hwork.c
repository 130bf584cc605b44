/*
 * Workload helpers for end-to-end tests; see hwork.h.  Per-test state in
 * file-scope variables, as in harness.c: each test is its own process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "content.h"
#include "hwork.h"

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static const char *demo_path;
static long saved_hugepages = -1;
static pid_t procs[16];
static unsigned n_procs;

void h_work_setup(const char *path)
{
	demo_path = path;
}

static int write_long(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n = snprintf(buf, sizeof(buf), "%ld\n", v);
	int ret = fd >= 0 && write(fd, buf, (size_t)n) == n ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return ret;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Demos still running are killed; reserved huge pages are given back. */
void h_work_cleanup(void)
{
	for (unsigned i = 0; i < n_procs; i++) {
		if (procs[i] > 0 && !kill(procs[i], SIGKILL))
			waitpid(procs[i], NULL, 0);
	}
	if (saved_hugepages >= 0 && write_long(NR_HUGEPAGES, saved_hugepages))
		printf("    cannot restore %s to %ld\n", NR_HUGEPAGES, saved_hugepages);
}

/* n more 2 MiB pages than the host had; a failure names the reason. */
int h_hugepages(unsigned n)
{
	long old = read_long(NR_HUGEPAGES), got;

	if (old < 0) {
		printf("    cannot read %s: huge pages unsupported\n", NR_HUGEPAGES);
		return -1;
	}
	if (saved_hugepages < 0)
		saved_hugepages = old;
	if (write_long(NR_HUGEPAGES, old + n)) {
		printf("    cannot write %s (needs root): %s\n", NR_HUGEPAGES, strerror(errno));
		return -1;
	}
	got = read_long(NR_HUGEPAGES);
	if (got < old + n) {
		printf("    reserved only %ld of %ld huge pages (memory fragmented?)\n", got, old + n);
		return -1;
	}
	return 0;
}

/* An image in the agent's default image directory. */
int h_image(const struct h_agent *a, const char *name, uint64_t size, uint64_t seed, char *path,
	    size_t path_len)
{
	snprintf(path, path_len, "%s/images/%s", a->state, name);
	if (content_write_image(path, size, seed)) {
		printf("    cannot write image %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int h_ctl_open(const struct h_agent *a)
{
	int fd = h_connect(a->sock);

	if (fd >= 0 && h_hello(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint64_t next_id = 100;

json_t *h_callj(int fd, uint8_t type, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	json_t *r = s ? h_request(fd, type, ++next_id, s) : NULL;

	free(s);
	return r;
}

static json_t *vpack(const char *fmt, va_list ap)
{
	json_error_t err;
	json_t *j = json_vpack_ex(&err, 0, fmt, ap);

	if (!j)
		printf("    json_pack(%s): %s\n", fmt, err.text);
	return j;
}

/* A request built with json_pack; the reply or NULL. */
json_t *h_call(int fd, uint8_t type, const char *fmt, ...)
{
	json_t *req, *r;
	va_list ap;

	va_start(ap, fmt);
	req = vpack(fmt, ap);
	va_end(ap);
	r = req ? h_callj(fd, type, req) : NULL;
	json_decref(req);
	return r;
}

int h_call_error(int fd, uint8_t type, const char *code, const char *fmt, ...)
{
	json_t *req;
	char *s;
	va_list ap;
	int ret = -1;

	va_start(ap, fmt);
	req = vpack(fmt, ap);
	va_end(ap);
	s = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (s && !h_send_frame(fd, type, 0, ++next_id, s))
		ret = h_expect_error(fd, type, next_id, code);
	free(s);
	json_decref(req);
	return ret;
}

json_t *h_region_of(int ctl, const char *id)
{
	return h_call(ctl, PROTO_T_REGION_GET, "{s:s}", "id", id);
}

/* stats.<group>.<name>, or stats.<name> when group is NULL. */
uint64_t h_stat(json_t *region, const char *group, const char *name)
{
	json_t *s = json_object_get(region, "stats");

	if (group)
		s = json_object_get(s, group);
	return (uint64_t)json_integer_value(json_object_get(s, name));
}

json_t *h_restore_create(int ctl, const char *image, const char *extra_json)
{
	json_t *req = extra_json ? json_loads(extra_json, 0, NULL) : json_object(), *r;

	if (!req)
		return NULL;
	json_object_set_new(req, "image", json_string(image));
	r = h_callj(ctl, PROTO_T_RESTORE_CREATE, req);
	json_decref(req);
	return r;
}

/* faultline-demo ARGS... with pipes on stdin, stdout and stderr. */
int h_demo(struct h_proc *p, const char *const *args)
{
	int in[2], out[2], err[2];
	const char *argv[32];
	int n = 0;

	memset(p, 0, sizeof(*p));
	argv[n++] = demo_path;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -1;
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(demo_path, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	if (n_procs < 16)
		procs[n_procs++] = p->pid;
	return 0;
}

static void dump_stderr(struct h_proc *p)
{
	char buf[4096];
	ssize_t n;

	fcntl(p->err, F_SETFL, O_NONBLOCK);
	n = read(p->err, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		printf("    demo stderr: %s", buf);
	}
}

/* The next stdout line of the demo, parsed as JSON. */
json_t *h_proc_json(struct h_proc *p, int timeout_ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		long left;
		ssize_t n;

		if (nl) {
			json_t *j;

			*nl = '\0';
			j = json_loads(p->buf, 0, NULL);
			if (!j)
				printf("    demo printed: %s\n", p->buf);
			p->len -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->len);
			return j;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			printf("    no output from the demo within %d ms\n", timeout_ms);
			dump_stderr(p);
			return NULL;
		}
		n = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (n <= 0) {
			printf("    demo closed its output\n");
			dump_stderr(p);
			return NULL;
		}
		p->len += (size_t)n;
	}
}

int h_proc_write(struct h_proc *p, const char *s)
{
	return write(p->in, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
}

/* Waits for the demo to exit (pidfd); its exit status in p->status. */
int h_proc_wait(struct h_proc *p, int timeout_ms)
{
	struct h_agent a = { .pid = p->pid };

	a.pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (a.pidfd < 0 || h_agent_wait_exit(&a, timeout_ms))
		return -1;
	p->exited = true;
	p->status = h_agent_exit_code(&a);
	for (unsigned i = 0; i < n_procs; i++) {
		if (procs[i] == p->pid)
			procs[i] = 0;
	}
	if (p->status)
		dump_stderr(p);
	close(p->in);
	close(p->out);
	close(p->err);
	return 0;
}

/* Runs a demo to completion: its summary and exit status. */
int h_demo_run(const char *const *args, json_t **summary)
{
	struct h_proc p;

	*summary = NULL;
	if (h_demo(&p, args))
		return -1;
	*summary = h_proc_json(&p, 60000);
	if (h_proc_wait(&p, 60000))
		return -1;
	return p.status;
}

/* ---- reads that may hang, and removals that zap late -------------------- */

struct bread {
	const void *src;
	size_t len;
	uint8_t *copy; /* the thread's own: a caller's buffer may be gone when it ends */
	struct bread *next;
};

static void *bread_main(void *arg)
{
	struct bread *b = arg;

	memcpy(b->copy, b->src, b->len);
	return NULL;
}

/* Reads whose threads stayed blocked: reachable, so LeakSanitizer reports no leak. */
static struct bread *volatile abandoned;

/*
 * Copies [src, src + len) to dst in another thread; -1 (ETIMEDOUT) if that
 * has not finished within timeout_ms, e.g. because a fault is never
 * resolved.  The blocked thread is left behind with its state (the test
 * process ends soon after).
 */
int h_read_within(const void *src, size_t len, void *dst, int timeout_ms)
{
	struct bread *b = calloc(1, sizeof(*b));
	struct timespec deadline;
	pthread_t t;

	if (!b || !(b->copy = malloc(len ? len : 1))) {
		free(b);
		return -1;
	}
	b->src = src;
	b->len = len;
	if (pthread_create(&t, NULL, bread_main, b)) {
		free(b->copy);
		free(b);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(t, NULL, &deadline)) {
		pthread_detach(t);
		b->next = abandoned;
		abandoned = b;
		errno = ETIMEDOUT;
		return -1;
	}
	memcpy(dst, b->copy, len);
	free(b->copy);
	free(b);
	return 0;
}

int h_read_bounded(const void *src, size_t len, void *dst)
{
	return h_read_within(src, len, dst, H_READ_BOUND_MS);
}

struct racer {
	void *addr;
	size_t len;
	int cpu;
	atomic_bool stop;
	int ret, err;
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void *busy_main(void *arg)
{
	struct racer *rc = arg;

	if (pin(rc->cpu))
		return NULL;
	while (!atomic_load_explicit(&rc->stop, memory_order_relaxed))
		;
	return NULL;
}

static void *remover_main(void *arg)
{
	struct racer *rc = arg;
	struct sched_param sp = { 0 };

	rc->ret = -1;
	if (pin(rc->cpu) || sched_setscheduler(0, SCHED_IDLE, &sp)) {
		rc->err = errno;
		return NULL;
	}
	rc->ret = madvise(rc->addr, rc->len, MADV_DONTNEED);
	rc->err = errno;
	return NULL;
}

/*
 * MADV_DONTNEED of [addr, addr + len), from a thread at SCHED_IDLE on a CPU
 * another thread keeps busy.  The kernel sends UFFD_EVENT_REMOVE before it
 * zaps the range and lets installs through again as soon as the event is
 * read: this widens that window from microseconds to milliseconds, as a
 * descheduled vCPU thread does.  Needs a second CPU for the agent.
 */
int h_remove_late(void *addr, size_t len)
{
	struct racer rc = { .addr = addr, .len = len, .cpu = sched_getcpu() == 0 ? 1 : 0 };
	pthread_t busy, remover;

	if (pthread_create(&busy, NULL, busy_main, &rc))
		return -1;
	if (pthread_create(&remover, NULL, remover_main, &rc)) {
		atomic_store(&rc.stop, true);
		pthread_join(busy, NULL);
		return -1;
	}
	pthread_join(remover, NULL);
	atomic_store(&rc.stop, true);
	pthread_join(busy, NULL);
	errno = rc.err;
	return rc.ret;
}

/* utime + stime of a process, in clock ticks; -1 when it cannot be read. */
long h_proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* after the command: state, then fields 4..13, then utime (14) and stime (15) */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}
