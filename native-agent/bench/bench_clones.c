/*
 * faultline-bench --clones N: the memory N clones of one image hold
 * together.  One clone session; N processes each map the image through it
 * (libfaultline), read every page and write a tenth of them; then the
 * agent's accounting (PROTOCOL.md §1.8 "clone": each clone's PSS from
 * /proc/PID/smaps, the shared copy's resident bytes) is printed beside what
 * N private copies would take.  Every clone checks the bytes it read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "faultline.h"

#define CLONES_MAX 64
#define CLONES_WAIT_MS 600000

/* One clone: reads all, writes every 10th page, says so, waits for the parent to close the pipe. */
static int clone_main(const struct bench_env *env, const char *socket, int ready, int hold)
{
	uint64_t pages = env->size / CONTENT_PAGE, bad = 0;
	uint8_t *mem = mmap(NULL, env->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fl_client *c;
	fl_region *r;
	char b = 1;

	if (mem == MAP_FAILED)
		return 3;
	c = fl_connect(socket);
	if (!c || fl_region_register(c, mem, env->size, "clone", NULL, FL_MODE_MISSING, &r)) {
		fprintf(stderr, "faultline-bench: clone: %s\n", fl_last_error());
		return 3;
	}
	for (uint64_t p = 0; p < pages; p++)
		bad += content_check(env->seed, p, mem + p * CONTENT_PAGE) != 0;
	for (uint64_t p = 0; p < pages; p += 10)
		mem[p * CONTENT_PAGE] ^= 0xff;
	if (write(ready, &b, 1) != 1)
		return 3;
	/* held until the parent has read the accounting */
	while (read(hold, &b, 1) > 0)
		;
	fl_disconnect(c);
	return bad ? 1 : 0;
}

static int wait_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	return poll(&p, 1, CLONES_WAIT_MS) == 1 && read(fd, &b, 1) == 1 ? 0 : -1;
}

static long long num(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	return json_integer_value(path2 ? json_object_get(v, path2) : v);
}

int bench_clones(const struct bench_env *env, unsigned n)
{
	struct bench_case c = { .clone = true, .fault_around = 16 };
	pid_t pids[CLONES_MAX];
	int ready[2], hold[2], ret = -1;
	char socket[256], id[40];
	unsigned started = 0;
	json_t *s, *cl;

	if (!n || n > CLONES_MAX || pipe2(ready, O_CLOEXEC) || pipe2(hold, O_CLOEXEC))
		return -1;
	if (bench_restore_create((struct bench_agent *)&env->spin, env, &c, socket, sizeof(socket), id,
				 sizeof(id)))
		return -1;
	fflush(NULL);
	for (; started < n; started++) {
		pids[started] = fork();
		if (pids[started] < 0)
			break;
		if (!pids[started]) {
			close(ready[0]);
			close(hold[1]);
			_exit(clone_main(env, socket, ready[1], hold[0]));
		}
	}
	close(ready[1]);
	close(hold[0]);
	for (unsigned i = 0; i < started; i++) {
		if (wait_ready(ready[0])) {
			fprintf(stderr, "faultline-bench: a clone did not get ready\n");
			goto release;
		}
	}
	s = bench_restore_get((struct bench_agent *)&env->spin, id);
	cl = json_object_get(s, "clone");
	if (s && cl) {
		long long copy = num(json_object_get(cl, "shared_copy"), "resident_bytes", NULL);
		long long pss = num(cl, "pss_bytes", NULL), priv = num(cl, "private_bytes", NULL);

		printf("\n### %u clones of one %llu MiB image, each reads all of it and writes 10%%\n\n"
		       "| clones | sum of PSS | shared copy (resident) | sum of PSS + shared copy |"
		       " private (written) | %u private copies |\n|---:|---:|---:|---:|---:|---:|\n",
		       n, (unsigned long long)(env->size >> 20), n);
		printf("| %zu | %.1f MiB | %.1f MiB | **%.1f MiB** | %.1f MiB | %.1f MiB |\n",
		       json_array_size(json_object_get(cl, "clones")), pss / 1048576.0,
		       copy / 1048576.0, (pss + copy) / 1048576.0, priv / 1048576.0,
		       (double)n * (double)env->size / 1048576.0);
		ret = json_array_size(json_object_get(cl, "clones")) == n ? 0 : -1;
	}
	json_decref(s);
release:
	close(hold[1]);
	for (unsigned i = 0; i < started; i++) {
		int st = 0;

		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "faultline-bench: clone %u failed (status %d)\n", i, st);
			ret = -1;
		}
	}
	close(ready[0]);
	if (bench_restore_delete((struct bench_agent *)&env->spin, id))
		ret = -1;
	return ret;
}
