/*
 * faultline-demo: a workload for the agent, for the quick start, the tests
 * and manual experiments.
 *
 *   faultline-demo make-image --out FILE --size SIZE [--seed N]
 *   faultline-demo restore --socket PATH --size SIZE [--seed N]
 *                  [--pattern seq|random|hot10] [--threads N] [--hold]
 *                  [--hugetlb] [--thp] [--pause-after PAGES] [--name NAME]
 *   faultline-demo anon --socket PATH --size SIZE [--hold]
 *   faultline-demo session --socket CONTROL_SOCKET --image PATH [--options JSON]
 *
 * restore maps fresh memory, registers it through libfaultline on a
 * restore session socket, touches it in the pattern, checks every byte of
 * every touched page against the image content (content.h) and prints a
 * JSON summary.  With --hold the region stays registered: SIGUSR1 checks
 * the whole region again and prints the result, SIGTERM ends.  session
 * creates a restore session on the agent's control socket and prints it
 * (normally the control plane does this).  Exit status: 0 all bytes right,
 * 1 a mismatch, 2 bad usage, 3 setup failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "content.h"
#include "demo_mig.h"
#include "faultline.h"
#include "proto.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif
#define HUGE_2M (UINT64_C(2) << 20)

static const char *const pattern_names[] = {
	[CONTENT_SEQ] = "seq", [CONTENT_RANDOM] = "random", [CONTENT_HOT10] = "hot10",
};

struct args {
	const char *cmd, *socket, *out, *name, *image, *options;
	uint64_t size, seed, pause_after, mark;
	enum content_pattern pattern;
	unsigned threads;
	bool hold, hugetlb, thp, anon;
};

struct toucher {
	pthread_t t;
	const struct args *a;
	uint8_t *mem;
	const uint64_t *pages;
	uint64_t n, mismatches;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: faultline-demo make-image --out FILE --size SIZE [--seed N]\n"
		"       faultline-demo restore --socket PATH --size SIZE [--seed N]\n"
		"                      [--pattern seq|random|hot10] [--threads N] [--hold]\n"
		"                      [--hugetlb] [--thp] [--pause-after PAGES] [--name NAME]\n"
		"       faultline-demo anon --socket PATH --size SIZE [--hold]\n"
		"       faultline-demo session --socket CONTROL_SOCKET --image PATH [--options JSON]\n"
		"       faultline-demo mig-source --socket HANDOFF --size SIZE [--name NAME] [--threads N]\n"
		"       faultline-demo mig-dest --socket SESSION --size SIZE --name NAME --dump FILE\n"
		"                      [--mark N]\n");
	return 2;
}

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },	{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'e' },	{ "socket", required_argument, NULL, 'S' },
		{ "pattern", required_argument, NULL, 'p' },	{ "threads", required_argument, NULL, 't' },
		{ "hold", no_argument, NULL, 'H' },		{ "hugetlb", no_argument, NULL, 'g' },
		{ "thp", no_argument, NULL, 'T' },		{ "pause-after", required_argument, NULL, 'P' },
		{ "name", required_argument, NULL, 'n' },	{ "image", required_argument, NULL, 'i' },
		{ "options", required_argument, NULL, 'O' },	{ "dump", required_argument, NULL, 'o' },
		{ "mark", required_argument, NULL, 'M' },	{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->seed = 1;
	a->threads = 1;
	a->name = "demo";
	if (argc < 2)
		return -1;
	a->cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->out = optarg;
			break;
		case 's':
			if (content_parse_size(optarg, &a->size))
				return -1;
			break;
		case 'e':
			a->seed = strtoull(optarg, &end, 0);
			if (*end)
				return -1;
			break;
		case 'S':
			a->socket = optarg;
			break;
		case 'p':
			if (content_pattern_parse(optarg, &a->pattern))
				return -1;
			break;
		case 't':
			a->threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !a->threads || a->threads > 256)
				return -1;
			break;
		case 'H':
			a->hold = true;
			break;
		case 'g':
			a->hugetlb = true;
			break;
		case 'T':
			a->thp = true;
			break;
		case 'P':
			a->pause_after = strtoull(optarg, &end, 10);
			if (*end)
				return -1;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'i':
			a->image = optarg;
			break;
		case 'O':
			a->options = optarg;
			break;
		case 'M':
			a->mark = strtoull(optarg, &end, 10);
			if (*end)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* Fresh memory: anonymous, hugetlb 2 MiB pages, or 2 MiB aligned for THP. */
static uint8_t *map_memory(const struct args *a)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *p;

	if (a->hugetlb) {
		p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	p = mmap(NULL, a->size + HUGE_2M, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (a->thp) {
		uint8_t *aligned = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));

		if (aligned > p)
			munmap(p, (size_t)(aligned - p));
		munmap(aligned + a->size, (size_t)(p + a->size + HUGE_2M - aligned - a->size));
		if (madvise(aligned, a->size, MADV_HUGEPAGE))
			return NULL;
		return aligned;
	}
	munmap(p + a->size, HUGE_2M);
	return p;
}

/* Blocks until the test (or the user) writes a line, for --pause-after. */
static void pause_here(uint64_t done)
{
	char line[64];

	printf("{\"paused\":%llu}\n", (unsigned long long)done);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		fprintf(stderr, "faultline-demo: stdin closed while paused, continuing\n");
}

static bool check_page(const struct args *a, const uint8_t *p, uint64_t page)
{
	size_t bad;

	if (a->anon) {
		/* written by us: its own page number in every word */
		for (size_t i = 0; i < CONTENT_PAGE / 8; i++) {
			uint64_t w;

			memcpy(&w, p + i * 8, 8);
			if (w != page)
				return false;
		}
		return true;
	}
	bad = content_check(a->seed, page, p);
	if (bad)
		fprintf(stderr, "faultline-demo: page %llu differs at byte %zu\n",
			(unsigned long long)page, bad - 1);
	return !bad;
}

static void *touch(void *arg)
{
	struct toucher *t = arg;

	for (uint64_t i = 0; i < t->n; i++) {
		uint64_t page = t->pages[i];
		uint8_t *p = t->mem + page * CONTENT_PAGE;

		if (t->a->anon) {
			/* fresh anonymous memory reads zero, then keeps what is written */
			for (size_t k = 0; k < CONTENT_PAGE; k++) {
				if (p[k]) {
					t->mismatches++;
					break;
				}
			}
			for (size_t k = 0; k < CONTENT_PAGE / 8; k++)
				memcpy(p + k * 8, &page, 8);
		}
		if (!check_page(t->a, p, page))
			t->mismatches++;
		if (t->a->pause_after && i + 1 == t->a->pause_after)
			pause_here(i + 1);
	}
	return NULL;
}

static uint64_t verify_all(const struct args *a, const uint8_t *mem)
{
	uint64_t bad = 0;

	for (uint64_t p = 0; p < a->size / CONTENT_PAGE; p++)
		bad += !check_page(a, mem + p * CONTENT_PAGE, p);
	return bad;
}

/* uffds this process still holds: 0 once the agent released the region. */
static unsigned count_uffds(void)
{
	char path[64], target[64];
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		n += !strcmp(target, "anon_inode:[userfaultfd]");
	}
	return n;
}

/* --hold: SIGUSR1 verifies everything again, SIGTERM/SIGINT end. */
static uint64_t hold(const struct args *a, const uint8_t *mem, const sigset_t *set)
{
	uint64_t bad = 0;
	int sig;

	for (;;) {
		if (sigwait(set, &sig))
			return bad;
		if (sig != SIGUSR1)
			return bad;
		bad = verify_all(a, mem);
		printf("{\"verify\":\"%s\",\"pages\":%llu,\"mismatches\":%llu,\"uffds\":%u}\n",
		       bad ? "mismatch" : "ok", (unsigned long long)(a->size / CONTENT_PAGE),
		       (unsigned long long)bad, count_uffds());
		fflush(stdout);
	}
}

static int run(const struct args *a)
{
	uint64_t pages = a->size / CONTENT_PAGE, n = 0, bad = 0, t0, t1, t2;
	struct toucher *ts = calloc(a->threads, sizeof(*ts));
	fl_client *c = NULL;
	fl_region *r = NULL;
	uint64_t *order;
	uint8_t *mem;
	sigset_t set;

	if (!a->socket || !a->size || a->size % (a->hugetlb ? HUGE_2M : CONTENT_PAGE) ||
	    (a->pause_after && a->threads != 1) || !ts)
		return usage();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	order = a->anon ? content_order(CONTENT_SEQ, pages, a->seed, &n)
			: content_order(a->pattern, pages, a->seed, &n);
	mem = map_memory(a);
	if (!order || !mem) {
		fprintf(stderr, "faultline-demo: cannot map %llu bytes: %s\n",
			(unsigned long long)a->size, strerror(errno));
		return 3;
	}
	t0 = now_us();
	c = fl_connect(a->socket);
	if (!c || fl_region_register(c, mem, a->size, a->name, "app=faultline-demo",
				     FL_MODE_MISSING, &r)) {
		fprintf(stderr, "faultline-demo: %s\n", fl_last_error());
		return 3;
	}
	t1 = now_us();
	for (unsigned i = 0; i < a->threads; i++) {
		ts[i].a = a;
		ts[i].mem = mem;
		ts[i].pages = order + n * i / a->threads;
		ts[i].n = n * (i + 1) / a->threads - n * i / a->threads;
		if (pthread_create(&ts[i].t, NULL, touch, &ts[i])) {
			fprintf(stderr, "faultline-demo: cannot start threads\n");
			return 3;
		}
	}
	for (unsigned i = 0; i < a->threads; i++) {
		pthread_join(ts[i].t, NULL);
		bad += ts[i].mismatches;
	}
	t2 = now_us();
	printf("{\"region_id\":\"%s\",\"pages\":%llu,\"touched\":%llu,\"mismatches\":%llu,"
	       "\"threads\":%u,\"pattern\":\"%s\",\"register_ms\":%.3f,\"touch_ms\":%.3f,"
	       "\"total_ms\":%.3f,\"errors\":%llu}\n",
	       fl_region_id(r), (unsigned long long)pages, (unsigned long long)n,
	       (unsigned long long)bad, a->threads,
	       a->anon ? "anon" : pattern_names[a->pattern],
	       (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0, (double)(t2 - t0) / 1000.0,
	       (unsigned long long)bad);
	fflush(stdout);
	if (a->hold)
		bad += hold(a, mem, &set);
	fl_region_unregister(r);
	fl_disconnect(c);
	free(order);
	free(ts);
	return bad ? 1 : 0;
}

static int send_frame(int fd, uint8_t type, uint64_t id, const char *json)
{
	struct proto_hdr h = proto_hdr_make(type, 0, id, (uint32_t)strlen(json));
	uint8_t hdr[PROTO_HDR_LEN];

	proto_encode_hdr(&h, hdr);
	return write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) &&
	       write(fd, json, strlen(json)) == (ssize_t)strlen(json) ? 0 : -1;
}

/* Reads one frame and prints its payload; 0 for a reply, 1 for an error reply. */
static int print_reply(int fd)
{
	uint8_t hdr[PROTO_HDR_LEN];
	struct proto_hdr h;
	char *payload;
	size_t got = 0;

	if (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    proto_decode_hdr(hdr, sizeof(hdr), PROTO_MAX_PAYLOAD, &h) != PROTO_OK ||
	    !(payload = malloc(h.length + 1)))
		return -1;
	while (got < h.length) {
		ssize_t n = read(fd, payload + got, h.length - got);

		if (n <= 0) {
			free(payload);
			return -1;
		}
		got += (size_t)n;
	}
	payload[h.length] = '\0';
	printf("%s\n", payload);
	free(payload);
	return h.flags & PROTO_F_ERROR ? 1 : 0;
}

/* restore_create on the control socket, for trying things without the service. */
static int session(const struct args *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *req = a->options ? json_loads(a->options, 0, NULL) : json_object();
	char *body;
	int fd, ret;

	if (!a->socket || !a->image || !req || strlen(a->socket) >= sizeof(sa.sun_path))
		return usage();
	json_object_set_new(req, "image", json_string(a->image));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	memcpy(sa.sun_path, a->socket, strlen(a->socket));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!body || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send_frame(fd, PROTO_T_HELLO, 1, "{\"client\":\"faultline-demo\"}") ||
	    print_reply(fd) != 0 || send_frame(fd, PROTO_T_RESTORE_CREATE, 2, body)) {
		fprintf(stderr, "faultline-demo: %s: %s\n", a->socket, strerror(errno));
		free(body);
		return 3;
	}
	ret = print_reply(fd);
	free(body);
	close(fd);
	return ret ? 3 : 0;
}

int main(int argc, char **argv)
{
	struct args a;

	if (parse(argc, argv, &a))
		return usage();
	if (!strcmp(a.cmd, "make-image")) {
		if (!a.out || !a.size || a.size % CONTENT_PAGE)
			return usage();
		if (content_write_image(a.out, a.size, a.seed)) {
			fprintf(stderr, "faultline-demo: %s: %s\n", a.out, strerror(errno));
			return 3;
		}
		return 0;
	}
	if (!strcmp(a.cmd, "restore"))
		return run(&a);
	if (!strcmp(a.cmd, "anon")) {
		a.anon = true;
		return run(&a);
	}
	if (!strcmp(a.cmd, "session"))
		return session(&a);
	if (!strcmp(a.cmd, "mig-source") && a.socket && a.size && !(a.size % CONTENT_PAGE))
		return demo_mig_source(a.socket, a.size, a.name, a.threads);
	if (!strcmp(a.cmd, "mig-dest") && a.socket && a.size && !(a.size % CONTENT_PAGE) && a.out)
		return demo_mig_dest(a.socket, a.size, a.name, a.out, a.mark);
	return usage();
}
