/*
 * faultline-bench: one measurement.  The workload is the same in every
 * mode: fresh memory the size of the image, and 1 to BENCH_MAX_THREADS threads that touch
 * their share of the pages in the pattern's order with a write (an atomic
 * add of 0 to the page's first word: one write fault, and every mode must
 * then give the thread a private copy of the page).  Each touch is timed.
 *
 * A touch "took a fault" in the kernel modes always (every page is fresh);
 * in the uffd modes when it took over 1 us (a present page takes ~0.05 us,
 * a uffd round trip at least 5 us), since fault-around makes most touches
 * hit pages installed by an earlier fault.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "faultline.h"
#include "uffd.h"
#include "uffd_compat.h"

#define FAULT_NS 1000u

struct toucher {
	pthread_t t;
	uint8_t *mem;
	const uint64_t *pages;
	uint64_t n;
	uint32_t *lat;
	pthread_barrier_t *go;
	bool read;
	uint64_t first_ns; /* when its first touch was served */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Allocates, touches and frees memory so the host backs the guest's RAM again. */
void bench_warm(uint64_t bytes)
{
	uint8_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	for (uint64_t off = 0; off < bytes; off += CONTENT_PAGE)
		p[off] = 1;
	munmap(p, bytes);
}

static void *touch(void *arg)
{
	struct toucher *t = arg;

	pthread_barrier_wait(t->go);
	for (uint64_t i = 0; i < t->n; i++) {
		uint64_t *w = (uint64_t *)(t->mem + t->pages[i] * CONTENT_PAGE);
		uint64_t t0 = now_ns(), t1, d;

		if (t->read)
			(void)__atomic_load_n(w, __ATOMIC_RELAXED);
		else
			__atomic_fetch_add(w, 0, __ATOMIC_RELAXED);
		t1 = now_ns();
		d = t1 - t0;
		t->lat[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		if (!i)
			t->first_ns = t1;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Touches in parallel; returns the wall time from start to last touch, and when the first was served. */
static uint64_t run_touchers(uint8_t *mem, const uint64_t *order, uint64_t n, unsigned threads,
			     uint32_t *lat, bool read, uint64_t *first_ns)
{
	struct toucher ts[BENCH_MAX_THREADS];
	pthread_barrier_t go;
	uint64_t t0;

	pthread_barrier_init(&go, NULL, threads + 1);
	for (unsigned i = 0; i < threads; i++) {
		ts[i].mem = mem;
		ts[i].pages = order + n * i / threads;
		ts[i].n = n * (i + 1) / threads - n * i / threads;
		ts[i].lat = lat + n * i / threads;
		ts[i].go = &go;
		ts[i].read = read;
		ts[i].first_ns = UINT64_MAX;
		pthread_create(&ts[i].t, NULL, touch, &ts[i]);
	}
	pthread_barrier_wait(&go);
	t0 = now_ns();
	*first_ns = UINT64_MAX;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(ts[i].t, NULL);
		if (ts[i].first_ns < *first_ns)
			*first_ns = ts[i].first_ns;
	}
	t0 = now_ns() - t0;
	pthread_barrier_destroy(&go);
	return t0;
}

static void latencies(struct bench_result *r, uint32_t *lat, uint64_t n, bool all_fault)
{
	uint64_t k = 0;

	for (uint64_t i = 0; i < n; i++) {
		if (all_fault || lat[i] > FAULT_NS)
			lat[k++] = lat[i];
	}
	r->faults = k;
	if (!k)
		return;
	qsort(lat, k, sizeof(*lat), cmp_u32);
	r->p50_us = lat[k / 2] / 1000.0;
	r->p99_us = lat[k * 99 / 100] / 1000.0;
}

/*
 * --cold: the image's pages leave the page cache (clean pages of a file
 * nobody maps go at once), so the next run reads them from the disk.
 */
int bench_drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -1;
	err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * The baseline handler, after Firecracker's example: one thread, blocking
 * poll, one message per read, one page per UFFDIO_COPY from the image
 * mapped MAP_PRIVATE.  Runs in a child process, as a handler would.
 */
static pid_t minimal_handler(int uffd, const struct bench_env *env, uint8_t *base, int stop[2])
{
	pid_t pid = fork();
	int stop_fd = stop[0];

	if (pid)
		return pid;
	close(stop[1]); /* the parent's close of its copy is the stop signal */
	{
		int img = open(env->image, O_RDONLY | O_CLOEXEC);
		const uint8_t *src = mmap(NULL, env->size, PROT_READ, MAP_PRIVATE, img, 0);

		if (img < 0 || src == MAP_FAILED)
			_exit(3);
		for (;;) {
			struct pollfd pfd[2] = { { .fd = uffd, .events = POLLIN },
						 { .fd = stop_fd, .events = POLLIN } };
			struct uffd_msg m;
			struct uffdio_copy cp;
			uint64_t page;

			if (poll(pfd, 2, -1) < 0 && errno != EINTR)
				_exit(4);
			if (pfd[1].revents)
				_exit(0);
			if (read(uffd, &m, sizeof(m)) != (ssize_t)sizeof(m) ||
			    m.event != UFFD_EVENT_PAGEFAULT)
				continue;
			page = (m.arg.pagefault.address - (uintptr_t)base) / CONTENT_PAGE;
			cp = (struct uffdio_copy){ .dst = (uintptr_t)base + page * CONTENT_PAGE,
						   .src = (uintptr_t)(src + page * CONTENT_PAGE),
						   .len = CONTENT_PAGE };
			if (ioctl(uffd, UFFDIO_COPY, &cp) && errno != EEXIST)
				_exit(5);
		}
	}
}

static int uffd_for(uint8_t *mem, uint64_t len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct uffdio_register reg = { .range = { .start = (uintptr_t)mem, .len = len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	enum uffd_source src;
	bool umo;
	/* non-blocking as Firecracker makes it: poll() on a blocking uffd reports POLLERR */
	int fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &src, &umo, NULL, 0);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg))
		return -1;
	return fd;
}

static uint64_t verify(const struct bench_env *env, const uint8_t *mem, const uint64_t *order,
		       uint64_t n)
{
	uint64_t bad = 0;

	for (uint64_t i = 0; i < n; i += 61)
		bad += content_check(env->seed, order[i], mem + order[i] * CONTENT_PAGE) != 0;
	return bad;
}

/* The agent's side of restore to first fault: its session's timing, in ms (-1: none). */
static void agent_timing(struct bench_agent *a, const char *session, struct bench_result *r)
{
	json_t *s = bench_restore_get(a, session), *t = json_object_get(s, "timing");
	json_t *v[3] = { json_object_get(t, "reply_us"), json_object_get(t, "registered_us"),
			 json_object_get(t, "first_fault_us") };
	double *out[3] = { &r->agent_reply_ms, &r->agent_registered_ms, &r->agent_first_fault_ms };

	for (unsigned i = 0; i < 3; i++)
		*out[i] = json_is_integer(v[i]) ? (double)json_integer_value(v[i]) / 1000.0 : -1;
	json_decref(s);
}

/* CPU time (user + system, all threads) a process used so far, in ms; -1 when unknown. */
static double cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command's closing parenthesis: state is field 3, utime 14, stime 15 */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return -1;
	return (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int run_faultline(const struct bench_env *env, const struct bench_case *c, uint8_t *mem,
			 const uint64_t *order, uint64_t n, uint32_t *lat, struct bench_result *r)
{
	struct bench_agent *a = (struct bench_agent *)(c->other ? &env->other[c->other - 1]
						       : c->nospin ? &env->nospin : &env->spin);
	char socket[256], id[40], session[40];
	fl_client *cl;
	fl_region *reg;
	uint64_t t0, touch, t_req = now_ns(), first;
	double cpu0, cpu1;
	int ret;

	if (bench_restore_create(a, env, c, socket, sizeof(socket), session, sizeof(session)))
		return -1;
	t0 = now_ns();
	cl = fl_connect(socket);
	if (!cl || fl_region_register(cl, mem, env->size, "bench", NULL, FL_MODE_MISSING, &reg)) {
		fprintf(stderr, "faultline-bench: %s\n", fl_last_error());
		return -1;
	}
	r->total_ms = (double)(now_ns() - t0) / 1e6;
	cpu0 = cpu_ms(a->pid);
	touch = run_touchers(mem, order, n, c->threads, lat, c->read, &first);
	cpu1 = cpu_ms(a->pid);
	r->agent_cpu_ms = cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0;
	r->touch_ms = (double)touch / 1e6;
	r->total_ms += r->touch_ms;
	r->first_fault_ms = (double)(first - t_req) / 1e6;
	agent_timing(a, session, r);
	r->mismatches = verify(env, mem, order, n);
	snprintf(id, sizeof(id), "%s", fl_region_id(reg));
	/* unregistered first: the worker has then counted every fault */
	fl_region_unregister(reg);
	fl_disconnect(cl);
	ret = bench_region_stats(a, id, r);
	return bench_restore_delete(a, session) ? -1 : ret;
}

int bench_run(const struct bench_env *env, const struct bench_case *c, struct bench_result *r)
{
	uint64_t pages = env->size / CONTENT_PAGE, n, touch;
	uint64_t *order = content_order(c->pattern, pages, env->seed, &n);
	uint32_t *lat = calloc(pages, sizeof(*lat));
	int fd = -1, uffd = -1, stop[2] = { -1, -1 }, ret = -1;
	uint8_t *mem;
	pid_t handler = -1;
	uint64_t t_map, first;

	memset(r, 0, sizeof(*r));
	if (!order || !lat)
		goto free_bufs;
	bench_warm(2 * env->size);
	if (env->cold && bench_drop_cache(env->image))
		goto free_bufs;
	t_map = now_ns();
	if (c->mode == BM_FILE) {
		fd = open(env->image, O_RDONLY | O_CLOEXEC);
		mem = fd < 0 ? MAP_FAILED : mmap(NULL, env->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	} else {
		mem = mmap(NULL, env->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (mem == MAP_FAILED)
		goto close_fd;
	r->touched = n;
	if (c->mode == BM_FAULTLINE) {
		ret = run_faultline(env, c, mem, order, n, lat, r);
		latencies(r, lat, n, false);
		goto unmap;
	}
	if (c->mode == BM_MINIMAL) {
		if ((uffd = uffd_for(mem, env->size)) < 0 || pipe2(stop, O_CLOEXEC))
			goto unmap;
		handler = minimal_handler(uffd, env, mem, stop);
		if (handler < 0)
			goto unmap;
	}
	touch = run_touchers(mem, order, n, c->threads, lat, c->read, &first);
	r->touch_ms = r->total_ms = (double)touch / 1e6;
	r->first_fault_ms = (double)(first - t_map) / 1e6;
	if (c->mode != BM_ANON)
		r->mismatches = verify(env, mem, order, n);
	latencies(r, lat, n, c->mode != BM_MINIMAL);
	ret = 0;
unmap:
	if (handler > 0) {
		close(stop[1]);
		stop[1] = -1;
		waitpid(handler, NULL, 0);
	}
	if (stop[0] >= 0)
		close(stop[0]);
	if (stop[1] >= 0)
		close(stop[1]);
	if (uffd >= 0)
		close(uffd);
	munmap(mem, env->size);
close_fd:
	if (fd >= 0)
		close(fd);
free_bufs:
	if (!ret)
		r->ns_per_page = r->touch_ms * 1e6 / (double)(n ? n : 1);
	free(order);
	free(lat);
	return ret;
}
