/*
 * faultline-demo: a workload for the agent, for the quick start, the tests
 * and manual experiments.
 *
 *   faultline-demo make-image --out FILE --size SIZE [--seed N]
 *   faultline-demo restore --socket PATH --size SIZE [--seed N]
 *                  [--pattern seq|random|hot10] [--threads N] [--hold]
 *                  [--hugetlb] [--thp] [--pause-after PAGES] [--name NAME] [--clone]
 *   faultline-demo anon --socket PATH --size SIZE [--hold]
 *   faultline-demo ledger --socket PATH --size SIZE [--accounts N] [--rate N] [--name NAME]
 *                  [--quiesce] [--quiesce-delay-ms MS]
 *   faultline-demo ledger-check --socket PATH --size SIZE [--accounts N]
 *   faultline-demo session --socket CONTROL_SOCKET --image PATH [--options JSON]
 *
 * restore maps fresh memory, registers it through libfaultline on a
 * restore session socket, touches it in the pattern, checks every byte of
 * every touched page against the image content (content.h) and prints a
 * JSON summary.  With --hold the region stays registered: SIGUSR1 checks
 * the whole region again and prints the result, SIGTERM ends.  session
 * creates a restore session on the agent's control socket and prints it
 * (normally the control plane does this).  restore and anon register their
 * memory in missing and write-protect modes, so it can be snapshotted;
 * restore --clone registers in missing mode alone, as a clone session
 * takes (PROTOCOL.md §2.6: libfaultline maps the session's shared copy).
 *
 * ledger is a workload whose consistency is checkable at any instant:
 * accounts spread over the region's pages, transfers between them that
 * keep the total constant, each one journaled (intent with the balances
 * before, apply, done) in page 0.  It prints {"region_id",...} once set up
 * and transfers until SIGTERM (--rate: transfers per second, default as
 * fast as it can; --quiesce: a quiesce handler pauses the transfers between
 * two of them until the snapshot's instant has passed, after MS with
 * --quiesce-delay-ms).  ledger-check registers a restored region, rolls back a
 * transfer the journal shows in progress, and checks every account and the
 * total.  Exit status: 0 all bytes right (ledger-check: the invariant
 * holds), 1 a mismatch, 2 bad usage, 3 setup failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
	uint64_t size, seed, pause_after, mark, accounts, rate, quiesce_delay_ms;
	enum content_pattern pattern;
	unsigned threads;
	bool hold, hugetlb, thp, anon, quiesce, clone, same_writer;
	enum demo_fill fill;
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
		"                      [--hugetlb] [--thp] [--pause-after PAGES] [--name NAME] [--clone]\n"
		"       faultline-demo anon --socket PATH --size SIZE [--hold]\n"
		"       faultline-demo ledger --socket PATH --size SIZE [--accounts N] [--rate N]\n"
		"                      [--name NAME] [--quiesce] [--quiesce-delay-ms MS]\n"
		"       faultline-demo ledger-check --socket PATH --size SIZE [--accounts N]\n"
		"       faultline-demo session --socket CONTROL_SOCKET --image PATH [--options JSON]\n"
		"       faultline-demo mig-source --socket HANDOFF --size SIZE [--name NAME] [--threads N]\n"
		"                      [--rate WRITES_PER_S] [--zero-holes | --fill stripes|mixed]\n"
		"                      [--writer random|same]\n"
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
		{ "mark", required_argument, NULL, 'M' },	{ "accounts", required_argument, NULL, 'a' },
		{ "rate", required_argument, NULL, 'r' },	{ "quiesce", no_argument, NULL, 'Q' },
		{ "quiesce-delay-ms", required_argument, NULL, 'D' },	{ "clone", no_argument, NULL, 'C' },
		{ "zero-holes", no_argument, NULL, 'z' },	{ "fill", required_argument, NULL, 'F' },
		{ "writer", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->seed = 1;
	a->threads = 1;
	a->name = "demo";
	a->accounts = 10000;
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
			/* 0: mig-source without writers (its pages keep their fill) */
			if (*end || a->threads > 256)
				return -1;
			break;
		case 'C':
			a->clone = true;
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
		case 'a':
			a->accounts = strtoull(optarg, &end, 10);
			if (*end || a->accounts < 2)
				return -1;
			break;
		case 'r':
			a->rate = strtoull(optarg, &end, 10);
			if (*end)
				return -1;
			break;
		case 'Q':
			a->quiesce = true;
			break;
		case 'z':
			a->fill = DEMO_FILL_ZERO_HOLES;
			break;
		case 'F':
			if (!strcmp(optarg, "stripes"))
				a->fill = DEMO_FILL_STRIPES;
			else if (!strcmp(optarg, "mixed"))
				a->fill = DEMO_FILL_MIXED;
			else
				return -1;
			break;
		case 'w':
			/* same: each write stores the bytes that are there already */
			if (strcmp(optarg, "random") && strcmp(optarg, "same"))
				return -1;
			a->same_writer = !strcmp(optarg, "same");
			break;
		case 'D':
			a->quiesce = true;
			a->quiesce_delay_ms = strtoull(optarg, &end, 10);
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
	    (a->pause_after && a->threads != 1) || !a->threads || !ts)
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
				     a->clone ? FL_MODE_MISSING : FL_MODE_MISSING | FL_MODE_WP, &r)) {
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

/* ---- ledger ------------------------------------------------------------------ */

#define LEDGER_ID UINT64_C(0x4C45444745520000) /* "LEDGER" in the high bytes, the account below */
#define LEDGER_BALANCE 1000

enum { J_NONE, J_INTENT, J_DONE };

struct ledger_acct {
	uint64_t id;
	int64_t balance;
};

/* page 0: the journal of the transfer in progress (one writer) */
struct ledger_journal {
	uint64_t seq, state, from, to;
	int64_t amount, from_before, to_before;
};

static struct ledger_acct *account(uint8_t *mem, uint64_t pages, uint64_t i)
{
	uint64_t spread = pages - 1;

	return (struct ledger_acct *)(mem + (1 + i % spread) * CONTENT_PAGE) + i / spread;
}

static volatile sig_atomic_t ledger_stop;

/* quiesce: the handler asks for a pause, the transfer loop confirms it between two transfers */
static _Atomic int pause_req, paused;

static int on_quiesce(void *arg, int phase)
{
	const struct args *a = arg;

	if (phase == FL_QUIESCE_END) {
		atomic_store(&pause_req, 0);
		return 0;
	}
	if (a->quiesce_delay_ms)
		usleep((useconds_t)(a->quiesce_delay_ms * 1000));
	atomic_store(&pause_req, 1);
	for (int i = 0; i < 20000 && !atomic_load(&paused); i++)
		usleep(50);
	return atomic_load(&paused) ? 0 : 1;
}

static void on_term(int sig)
{
	(void)sig;
	ledger_stop = 1;
}

static int ledger_setup(const struct args *a, uint64_t *pages, uint8_t **mem, fl_client **c,
			fl_region **r, unsigned modes)
{
	*pages = a->size / CONTENT_PAGE;
	if (!a->socket || !a->size || a->size % CONTENT_PAGE || *pages < 2 ||
	    a->accounts > (*pages - 1) * (CONTENT_PAGE / sizeof(struct ledger_acct)))
		return usage();
	*mem = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*mem == MAP_FAILED) {
		fprintf(stderr, "faultline-demo: cannot map %llu bytes: %s\n",
			(unsigned long long)a->size, strerror(errno));
		return 3;
	}
	*c = fl_connect(a->socket);
	if (!*c || fl_region_register(*c, *mem, a->size, a->name, "app=faultline-ledger", modes, r)) {
		fprintf(stderr, "faultline-demo: %s\n", fl_last_error());
		return 3;
	}
	return 0;
}

/* Transfers until SIGTERM; every store of a transfer is ordered after the journal's intent. */
static int ledger(const struct args *a)
{
	struct ledger_journal *j;
	uint64_t pages, x = a->seed * 2654435761u + 1, done = 0, t0;
	fl_client *c;
	fl_region *r;
	uint8_t *mem;
	int ret;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	/* whoever stops us may have closed our output already: the last line is best effort */
	signal(SIGPIPE, SIG_IGN);
	ret = ledger_setup(a, &pages, &mem, &c, &r, FL_MODE_MISSING | FL_MODE_WP);
	if (ret)
		return ret;
	if (a->quiesce && fl_set_quiesce_handler(c, on_quiesce, (void *)a)) {
		fprintf(stderr, "faultline-demo: %s\n", strerror(errno));
		return 3;
	}
	j = (struct ledger_journal *)mem;
	for (uint64_t i = 0; i < a->accounts; i++)
		*account(mem, pages, i) = (struct ledger_acct){ .id = LEDGER_ID | i, .balance = LEDGER_BALANCE };
	printf("{\"region_id\":\"%s\",\"accounts\":%llu,\"total\":%llu,\"pages\":%llu}\n",
	       fl_region_id(r), (unsigned long long)a->accounts,
	       (unsigned long long)(a->accounts * LEDGER_BALANCE), (unsigned long long)pages);
	fflush(stdout);
	t0 = now_us();
	while (!ledger_stop) {
		struct ledger_acct *from, *to;
		uint64_t f, t;
		int64_t amount;

		if (atomic_load_explicit(&pause_req, memory_order_acquire)) {
			/* quiet between two transfers until the snapshot's instant has passed */
			atomic_store(&paused, 1);
			while (atomic_load(&pause_req) && !ledger_stop)
				usleep(50);
			atomic_store(&paused, 0);
		}

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		f = x % a->accounts;
		t = (f + 1 + (x >> 32) % (a->accounts - 1)) % a->accounts;
		from = account(mem, pages, f);
		to = account(mem, pages, t);
		amount = from->balance ? (int64_t)((x >> 16) % (uint64_t)(from->balance + 1)) : 0;
		j->from = f;
		j->to = t;
		j->amount = amount;
		j->from_before = from->balance;
		j->to_before = to->balance;
		j->seq++;
		__atomic_store_n(&j->state, J_INTENT, __ATOMIC_RELEASE);
		__atomic_store_n(&from->balance, from->balance - amount, __ATOMIC_RELEASE);
		__atomic_store_n(&to->balance, to->balance + amount, __ATOMIC_RELEASE);
		__atomic_store_n(&j->state, J_DONE, __ATOMIC_RELEASE);
		done++;
		/* pacing only: the rate is an option of the workload, not a synchronisation */
		if (a->rate && done % 64 == 0) {
			uint64_t due = t0 + done * 1000000u / a->rate, now = now_us();

			if (due > now)
				usleep((useconds_t)(due - now));
		}
	}
	printf("{\"transfers\":%llu}\n", (unsigned long long)done);
	fflush(stdout);
	fl_region_unregister(r);
	fl_disconnect(c);
	return 0;
}

/* Restored ledger: roll back an unfinished transfer, then every account and the total. */
static int ledger_check(const struct args *a)
{
	struct ledger_journal *j;
	uint64_t pages, bad_ids = 0;
	int64_t total = 0;
	bool recovered = false;
	fl_client *c;
	fl_region *r;
	uint8_t *mem;
	int ret = ledger_setup(a, &pages, &mem, &c, &r, FL_MODE_MISSING);

	if (ret)
		return ret;
	j = (struct ledger_journal *)mem;
	if (j->state == J_INTENT && j->from < a->accounts && j->to < a->accounts) {
		account(mem, pages, j->from)->balance = j->from_before;
		account(mem, pages, j->to)->balance = j->to_before;
		j->state = J_DONE;
		recovered = true;
	}
	for (uint64_t i = 0; i < a->accounts; i++) {
		const struct ledger_acct *ac = account(mem, pages, i);

		bad_ids += ac->id != (LEDGER_ID | i) || ac->balance < 0;
		total += ac->balance;
	}
	ret = !bad_ids && total == (int64_t)(a->accounts * LEDGER_BALANCE) ? 0 : 1;
	printf("{\"region_id\":\"%s\",\"accounts\":%llu,\"total\":%lld,\"expected\":%llu,"
	       "\"bad_accounts\":%llu,\"journal_seq\":%llu,\"recovered\":%s,\"ok\":%s}\n",
	       fl_region_id(r), (unsigned long long)a->accounts, (long long)total,
	       (unsigned long long)(a->accounts * LEDGER_BALANCE), (unsigned long long)bad_ids,
	       (unsigned long long)j->seq, recovered ? "true" : "false", ret ? "false" : "true");
	fflush(stdout);
	fl_region_unregister(r);
	fl_disconnect(c);
	return ret;
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
		return demo_mig_source(a.socket, a.size, a.name, a.threads, a.rate, a.fill,
				       a.same_writer);
	if (!strcmp(a.cmd, "mig-dest") && a.socket && a.size && !(a.size % CONTENT_PAGE) && a.out)
		return demo_mig_dest(a.socket, a.size, a.name, a.out, a.mark);
	if (!strcmp(a.cmd, "ledger"))
		return ledger(&a);
	if (!strcmp(a.cmd, "ledger-check"))
		return ledger_check(&a);
	return usage();
}
