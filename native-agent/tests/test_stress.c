/*
 * Differential stress test of the fault engine (docs/reliability.md).
 *
 * A region restored from an image through libfaultline runs a seeded random
 * program beside a reference: the same bytes in a kernel MAP_PRIVATE |
 * MAP_ANONYMOUS mapping (anonymous, not a private mapping of the file:
 * after MADV_DONTNEED that would read the file again, whereas restored
 * memory is anonymous and reads zero, as a balloon expects).  Every op is
 * applied to both; every read must return the reference's bytes, and no
 * access may block longer than STRESS_BOUND_MS (a watchdog thread reports
 * the seed, the round, the thread and the op, and ends the run).
 *
 * Each round, THREADS threads run OPS ops each on pages they own (16-page
 * chunks dealt round-robin, so that every page has one writer and the
 * result does not depend on the interleaving): reads, writes and
 * MADV_DONTNEED of runs of pages.  Between rounds the main thread alone
 * changes the layout: mremap of a part of a segment (it becomes a region
 * of its own in the agent), munmap of a part, fork() (the child checks
 * every live page against its copy of the reference, writes, checks
 * again), or, in the snapshot variant, a snapshot_take that runs while the
 * next round's ops do.  The restore is caught at a moment the seed picks:
 * before its first fault (no background population), while the background
 * populator works, or after the session is COMPLETE.
 *
 * Each run is a child process with its own agent, so a hang or a crash is
 * one failed run.  Seeds and rounds: a fixed budget per variant, or
 * FAULTLINE_STRESS_SEED (one seed, to replay) and FAULTLINE_STRESS_ROUNDS;
 * FAULTLINE_STRESS_SEEDS changes how many seeds from the first one run.
 * The self-check runs the same program against build/faultline-agent-inject
 * with FAULTLINE_INJECT=ignore-remove and passes only if the run FAILS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "content.h"
#include "faultline.h"
#include "hwork.h"
#include "snapfile.h"
#include "test.h"

#define PS CONTENT_PAGE
#define THREADS 3
#define CHUNK 16        /* pages: the unit of ownership */
#define MAX_SEGS 64
#define STRESS_PAGES 512 /* 2 MiB */
#define STRESS_BOUND_MS 10000
#define RUN_BOUND_MS 120000

enum variant { V_RESTORE, V_SNAPSHOT, V_MIGRATION };
static const char *const variant_names[] = { "restore", "snapshot", "migration" };
enum start { START_FIRST_FAULT, START_POPULATING, START_COMPLETE, START_N };
static const char *const start_names[] = { "before the first fault", "during background population",
					   "after COMPLETE" };
/* the same moments of a migration destination */
static const char *const mig_start_names[] = { "before the switchover (faults wait for it)",
					       "during the background push", "after COMPLETE" };

struct seg {
	uint64_t lp, n; /* logical pages [lp, lp + n) */
	uint8_t *subj, *ref;
};

struct slot {
	_Atomic uint64_t since_ns; /* 0: not in an op */
	char what[160];
};

struct stress {
	uint64_t seed;
	unsigned rounds, round;
	enum variant variant;
	enum start start;
	bool self_check;
	struct seg segs[MAX_SEGS];
	unsigned n_segs;
	struct slot slots[THREADS + 1];
	pthread_barrier_t go, done;
	atomic_bool quit, failed;
	int wd_fd;
	pid_t agent_pid;
};

static struct stress S;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, and every seed gives a different stream */
static uint64_t rnd(uint64_t *st)
{
	uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *st, uint64_t n)
{
	return n ? rnd(st) % n : 0;
}

static const char *start_name(void)
{
	return S.variant == V_MIGRATION ? mig_start_names[S.start] : start_names[S.start];
}

static void replay_hint(void)
{
	printf("    replay: FAULTLINE_STRESS_SEED=%llu FAULTLINE_STRESS_ROUNDS=%u build/faultline-tests"
	       " -f stress/%s\n", (unsigned long long)S.seed, S.rounds, variant_names[S.variant]);
}

/* The first failure is reported; the run then ends as soon as the others see it. */
static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&S.failed, true))
		return;
	printf("    %s seed %llu round %u (%s): ", S.self_check ? "self-check caught:" : "FAIL stress",
	       (unsigned long long)S.seed, S.round, start_name());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!S.self_check)
		replay_hint();
	fflush(stdout);
}

/* ---- the watchdog ------------------------------------------------------- */

static void op_begin(unsigned who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_begin(unsigned who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(S.slots[who].what, sizeof(S.slots[who].what), fmt, ap);
	va_end(ap);
	atomic_store(&S.slots[who].since_ns, now_ns());
}

static void op_end(unsigned who)
{
	atomic_store(&S.slots[who].since_ns, 0);
}

static void print_file(const char *path, const char *indent, int max_lines)
{
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (max_lines-- > 0 && fgets(line, sizeof(line), f))
		printf("%s%s", indent, line);
	fclose(f);
}

/* Where every thread of pid waits (kernel stacks need root; names always). */
static void dump_threads(pid_t pid, const char *who)
{
	char path[300];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	printf("    threads of %s (%d):\n", who, (int)pid);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
		printf("      %s ", de->d_name);
		print_file(path, "", 1);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", (int)pid, de->d_name);
		print_file(path, "        ", 6);
	}
	closedir(d);
}

/* An op blocked longer than the bound ends the run: a hang is the bug. */
static void *watchdog_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd = { .fd = S.wd_fd, .events = POLLIN };
		uint64_t now;

		/* a periodic check: nothing else can tell that an op is stuck */
		if (poll(&pfd, 1, 100) != 0)
			return NULL;
		for (unsigned i = 0; i <= THREADS; i++) {
			uint64_t since = atomic_load(&S.slots[i].since_ns);

			/*
			 * The clock after the slot: read before it, an op that began
			 * in between would be older than the clock, and the unsigned
			 * difference enormous (a false hang, seen on loaded machines).
			 */
			now = now_ns();
			if (since && now > since && now - since > (uint64_t)STRESS_BOUND_MS * 1000000u) {
				failf("%s %u blocked for more than %d ms in: %s",
				      i == THREADS ? "the main thread" : "thread", i, STRESS_BOUND_MS,
				      S.slots[i].what);
				dump_threads(getpid(), "the workload");
				if (S.agent_pid > 0)
					dump_threads(S.agent_pid, "the agent");
				h_cleanup(false, false); /* stops the agent, prints its log */
				fflush(stdout);
				_exit(T_FAIL);
			}
		}
	}
}

/* ---- layout ------------------------------------------------------------- */

static struct seg *seg_of(uint64_t lp)
{
	for (unsigned i = 0; i < S.n_segs; i++) {
		if (lp >= S.segs[i].lp && lp < S.segs[i].lp + S.segs[i].n)
			return &S.segs[i];
	}
	return NULL;
}

static uint8_t *subj_at(const struct seg *s, uint64_t lp)
{
	return s->subj + (lp - s->lp) * PS;
}

static uint8_t *ref_at(const struct seg *s, uint64_t lp)
{
	return s->ref + (lp - s->lp) * PS;
}

static bool check_page(unsigned who, const struct seg *s, uint64_t lp, const char *when)
{
	const uint8_t *a = subj_at(s, lp), *b = ref_at(s, lp);

	op_begin(who, "read page %llu at %p (%s)", (unsigned long long)lp, (const void *)a, when);
	if (memcmp(a, b, PS)) {
		size_t i = 0;

		while (a[i] == b[i])
			i++;
		op_end(who);
		failf("thread %u: page %llu differs at byte %zu (%s): 0x%02x, the reference has 0x%02x",
		      who, (unsigned long long)lp, i, when, a[i], b[i]);
		return false;
	}
	op_end(who);
	return true;
}

/* ---- a round's ops (threads) ------------------------------------------- */

struct worker {
	unsigned idx;
	uint64_t rng;
	unsigned ops;
	uint64_t reads, writes, removes;
};

static void one_op(struct worker *w)
{
	unsigned n_chunks = STRESS_PAGES / CHUNK;
	uint64_t chunk = below(&w->rng, n_chunks / THREADS) * THREADS + w->idx;
	uint64_t lp = chunk * CHUNK + below(&w->rng, CHUNK), kind = below(&w->rng, 10);
	struct seg *s = seg_of(lp);

	if (chunk >= n_chunks || !s)
		return; /* unmapped: nothing to do there */
	if (kind < 5) {
		check_page(w->idx, s, lp, "a read");
		w->reads++;
	} else if (kind < 8) {
		size_t off = below(&w->rng, PS - 64), len = 1 + below(&w->rng, 64);
		uint8_t v = (uint8_t)rnd(&w->rng);

		op_begin(w->idx, "write %zu bytes at page %llu + %zu", len, (unsigned long long)lp, off);
		memset(subj_at(s, lp) + off, v, len);
		memset(ref_at(s, lp) + off, v, len);
		op_end(w->idx);
		w->writes++;
	} else {
		/* a run of pages of this chunk, inside this segment */
		uint64_t end = chunk * CHUNK + CHUNK, n;

		if (end > s->lp + s->n)
			end = s->lp + s->n;
		n = 1 + below(&w->rng, end - lp);
		op_begin(w->idx, "MADV_DONTNEED pages %llu..%llu", (unsigned long long)lp,
			 (unsigned long long)(lp + n - 1));
		if (madvise(subj_at(s, lp), n * PS, MADV_DONTNEED) ||
		    madvise(ref_at(s, lp), n * PS, MADV_DONTNEED)) {
			op_end(w->idx);
			failf("thread %u: madvise: %s", w->idx, strerror(errno));
			return;
		}
		op_end(w->idx);
		w->removes++;
		/* read back at once: the window right after a removal is where bugs live */
		check_page(w->idx, s, lp + below(&w->rng, n), "right after MADV_DONTNEED");
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		pthread_barrier_wait(&S.go);
		if (atomic_load(&S.quit))
			return NULL;
		for (unsigned i = 0; i < w->ops && !atomic_load(&S.failed); i++)
			one_op(w);
		pthread_barrier_wait(&S.done);
	}
}

/* ---- layout changes (main thread alone) --------------------------------- */

static int add_seg(uint64_t lp, uint64_t n, uint8_t *subj, uint8_t *ref)
{
	if (S.n_segs == MAX_SEGS)
		return -1;
	S.segs[S.n_segs++] = (struct seg){ .lp = lp, .n = n, .subj = subj, .ref = ref };
	return 0;
}

static void drop_seg(struct seg *s)
{
	*s = S.segs[--S.n_segs];
}

static uint8_t *move_pages(uint8_t *from, size_t len)
{
	void *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (to == MAP_FAILED)
		return MAP_FAILED;
	return mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

/* A part [a, a + n) of a segment moves (mremap) or goes (munmap) in both mappings. */
static void change_layout(uint64_t *rng, bool unmap)
{
	struct seg *s = &S.segs[below(rng, S.n_segs)], old;
	uint64_t a, n;
	uint8_t *ns = NULL, *nr = NULL;

	if (S.n_segs + 2 > MAX_SEGS)
		return;
	a = below(rng, s->n);
	n = 1 + below(rng, s->n - a);
	old = *s;
	op_begin(THREADS, "%s logical pages %llu..%llu", unmap ? "munmap" : "mremap",
		 (unsigned long long)(old.lp + a), (unsigned long long)(old.lp + a + n - 1));
	if (unmap) {
		if (munmap(old.subj + a * PS, n * PS) || munmap(old.ref + a * PS, n * PS)) {
			failf("munmap: %s", strerror(errno));
			return;
		}
	} else {
		/*
		 * To a fresh place (MREMAP_FIXED): a same-size MREMAP_MAYMOVE alone
		 * leaves the pages where they are, and nothing moves at all.
		 */
		ns = move_pages(old.subj + a * PS, n * PS);
		nr = ns == MAP_FAILED ? MAP_FAILED : move_pages(old.ref + a * PS, n * PS);
		if (ns == MAP_FAILED || nr == MAP_FAILED) {
			failf("mremap: %s", strerror(errno));
			return;
		}
	}
	op_end(THREADS);
	drop_seg(s);
	if (a)
		add_seg(old.lp, a, old.subj, old.ref);
	if (a + n < old.n)
		add_seg(old.lp + a + n, old.n - a - n, old.subj + (a + n) * PS, old.ref + (a + n) * PS);
	if (!unmap)
		add_seg(old.lp + a, n, ns, nr);
}

/*
 * fork(): the child's copy of the region is adopted by the agent and must
 * read as its copy of the reference; the child's writes stay its own.
 * The child has its own bound (alarm); the parent waits with one too.
 */
static void fork_check(uint64_t *rng)
{
	uint64_t salt = rnd(rng);
	int status = 0, pidfd;
	struct pollfd pfd;
	pid_t pid;

	struct child_at {
		_Atomic uint64_t lp;
		_Atomic uintptr_t addr;
	} *at = mmap(NULL, sizeof(*at), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (at == MAP_FAILED) {
		failf("mmap: %s", strerror(errno));
		return;
	}
	atomic_store(&at->lp, UINT64_MAX);
	op_begin(THREADS, "fork");
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		failf("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		uint64_t st = salt;

		alarm(STRESS_BOUND_MS / 1000);
		for (unsigned i = 0; i < S.n_segs; i++) {
			for (uint64_t p = 0; p < S.segs[i].n; p++) {
				/* where the child is, for the report if it hangs */
				atomic_store(&at->lp, S.segs[i].lp + p);
				atomic_store(&at->addr, (uintptr_t)(S.segs[i].subj + p * PS));
				if (memcmp(S.segs[i].subj + p * PS, S.segs[i].ref + p * PS, PS))
					_exit(3);
			}
		}
		for (unsigned k = 0; k < 32 && S.n_segs; k++) {
			struct seg *s = &S.segs[below(&st, S.n_segs)];
			uint64_t p = below(&st, s->n);
			uint8_t v = (uint8_t)rnd(&st);

			memset(s->subj + p * PS + 8, v, 8);
			memset(s->ref + p * PS + 8, v, 8);
			if (memcmp(s->subj + p * PS, s->ref + p * PS, PS))
				_exit(4);
		}
		_exit(0);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	if (pidfd < 0 || poll(&pfd, 1, STRESS_BOUND_MS + 5000) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		failf("the forked child did not end in time");
		return;
	}
	close(pidfd);
	waitpid(pid, &status, 0);
	op_end(THREADS);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		failf("the forked child %s %d (%s)", WIFEXITED(status) ? "exited with" : "was killed by signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "a read of the region hung"
		      : WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "a page differed from the reference"
		      : WIFEXITED(status) && WEXITSTATUS(status) == 4 ? "its own write read back wrong"
								      : "?");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("    the child was at logical page %llu (%p) of its first check\n",
		       (unsigned long long)atomic_load(&at->lp), (void *)atomic_load(&at->addr));
	munmap(at, sizeof(*at));
}

/* ---- snapshots ---------------------------------------------------------- */

struct snaps {
	int ctl;
	const char *region_id, *dir;
	uint64_t pending, next_id;
	unsigned taken, refused;
};

static int snap_send(struct snaps *sn)
{
	char id[40], path[300], *req;
	int ret;

	snprintf(id, sizeof(id), "5eed0000-0000-4000-8000-%012llx", (unsigned long long)++sn->next_id);
	snprintf(path, sizeof(path), "%s/s%llu.flsnap", sn->dir, (unsigned long long)sn->next_id);
	if (asprintf(&req, "{\"snapshot_id\":\"%s\",\"region_id\":\"%s\",\"path\":\"%s\",\"kind\":\"full\"}",
		     id, sn->region_id, path) < 0)
		return -1;
	ret = h_send_frame(sn->ctl, PROTO_T_SNAPSHOT_TAKE, 0, 9000 + sn->next_id, req);
	free(req);
	if (!ret)
		sn->pending = 9000 + sn->next_id;
	return ret;
}

/* The reply of the snapshot in flight: done, or refused because the layout changed under it. */
static int snap_collect(struct snaps *sn)
{
	struct proto_hdr h;
	char *payload = NULL;
	int ret = -1;

	if (!sn->pending)
		return 0;
	op_begin(THREADS, "waiting for snapshot_take %llu", (unsigned long long)sn->pending);
	if (h_recv_frame(sn->ctl, 60000, &h, &payload)) {
		failf("snapshot_take %llu: no reply", (unsigned long long)sn->pending);
		return -1;
	}
	op_end(THREADS);
	if (h.id != sn->pending || h.type != PROTO_T_SNAPSHOT_TAKE)
		failf("snapshot_take %llu: unexpected frame: %s", (unsigned long long)sn->pending, payload);
	else if (!(h.flags & PROTO_F_ERROR))
		sn->taken++, ret = 0;
	else if (strstr(payload, "\"CONFLICT\""))
		sn->refused++, ret = 0; /* MADV_DONTNEED during a capture aborts it, by design */
	else
		failf("snapshot_take %llu failed: %s", (unsigned long long)sn->pending, payload);
	free(payload);
	sn->pending = 0;
	return ret;
}

/* A snapshot taken while nothing runs holds exactly the reference. */
static void snap_quiet_check(struct snaps *sn, uint64_t pages)
{
	char path[300], *chain[1] = { path }, why[256], flat[320];
	uint64_t got = 0;
	uint8_t *img = NULL;
	int fd = -1;

	if (snap_send(sn) || snap_collect(sn) || S.failed)
		return;
	snprintf(path, sizeof(path), "%s/s%llu.flsnap", sn->dir, (unsigned long long)sn->next_id);
	snprintf(flat, sizeof(flat), "%s.flat", path);
	if (snapfile_flatten(chain, 1, flat, &got, why, sizeof(why)) || got != pages) {
		failf("the last snapshot cannot be read back: %s", why);
		return;
	}
	img = malloc(pages * PS);
	fd = open(flat, O_RDONLY | O_CLOEXEC);
	if (!img || fd < 0 || pread(fd, img, pages * PS, 0) != (ssize_t)(pages * PS)) {
		failf("reading the flattened snapshot failed");
	} else {
		/* the snapshot variant keeps one segment: the whole region */
		for (uint64_t p = 0; p < pages; p++) {
			if (memcmp(img + p * PS, S.segs[0].ref + p * PS, PS)) {
				failf("page %llu of a snapshot taken at rest differs from the reference",
				      (unsigned long long)p);
				break;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	unlink(flat);
	free(img);
}

/* ---- one run ------------------------------------------------------------ */

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- a migration destination -------------------------------------------- */

/*
 * The source workload is a process of its own (its region is held for good
 * after the switchover): it fills the region from the seed (every fifth
 * page never touched: it travels as a zero run), registers it with the
 * source agent (FL_MODE_WP), and once told makes `n_writes` seeded 8-byte
 * writes while the precopy runs, so that the pages written after they were
 * sent are stale at the switchover and come by the background push or on
 * demand.  The writes are done before the switchover, so the reference
 * (the same fill and the same writes) is exact.
 */
struct mig_src_shared {
	char region_id[64];
	_Atomic uint64_t writes_done;
};

struct mig_run {
	struct h_agent src, dst;
	int sctl, dctl;
	pid_t src_pid;
	int go_w, ack_r; /* to and from the source workload */
	struct mig_src_shared *sh;
	char id[40];
	json_t *in;
};

static void page_fill(uint64_t seed, uint64_t p, uint8_t *page)
{
	uint64_t st = seed ^ (p * UINT64_C(0xd1b54a32d192ed03));

	for (size_t i = 0; i < PS; i += 8) {
		uint64_t v = rnd(&st);

		memcpy(page + i, &v, 8);
	}
}

static bool page_untouched(uint64_t seed, uint64_t p)
{
	uint64_t st = seed ^ (p * UINT64_C(0x2545f4914f6cdd1d));

	return below(&st, 5) == 0;
}

/* Write k of the source: page, offset (8-byte aligned) and value, from the seed. */
static void src_write_at(uint64_t seed, uint64_t k, uint64_t pages, uint64_t *p, size_t *off, uint64_t *v)
{
	uint64_t st = seed ^ UINT64_C(0xa0761d6478bd642f) ^ (k * UINT64_C(0xe7037ed1a0b428db));

	*p = below(&st, pages);
	*off = (size_t)below(&st, PS / 8) * 8;
	*v = rnd(&st);
}

static void src_image(uint64_t seed, uint64_t pages, uint64_t writes, uint8_t *mem)
{
	for (uint64_t p = 0; p < pages; p++) {
		if (!page_untouched(seed, p))
			page_fill(seed, p, mem + p * PS);
	}
	for (uint64_t k = 0; k < writes; k++) {
		uint64_t p, v;
		size_t off;

		src_write_at(seed, k, pages, &p, &off, &v);
		memcpy(mem + p * PS + off, &v, 8);
	}
}

static void src_workload(const char *handoff, uint64_t seed, uint64_t pages, uint64_t n_writes,
			 struct mig_src_shared *sh, int go_r, int ack_w)
{
	uint8_t *mem = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fl_client *c;
	fl_region *r;
	char b = 'r';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mem == MAP_FAILED)
		_exit(3);
	src_image(seed, pages, 0, mem);
	unsetenv("FAULTLINE_FOLLOW_FORK");
	c = fl_connect(handoff);
	if (!c || fl_region_register(c, mem, pages * PS, "stress", NULL, FL_MODE_WP, &r)) {
		fprintf(stderr, "stress source: %s\n", fl_last_error());
		_exit(3);
	}
	snprintf(sh->region_id, sizeof(sh->region_id), "%s", fl_region_id(r));
	if (write(ack_w, &b, 1) != 1 || read(go_r, &b, 1) != 1)
		_exit(3);
	for (uint64_t k = 0; k < n_writes; k++) {
		uint64_t p, v;
		size_t off;

		src_write_at(seed, k, pages, &p, &off, &v);
		memcpy(mem + p * PS + off, &v, 8);
		atomic_store(&sh->writes_done, k + 1);
	}
	b = 'w';
	if (write(ack_w, &b, 1) != 1)
		_exit(3);
	for (;;)
		pause(); /* held after the switchover; killed at the end of the run */
}

static int wait_byte(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b;

	return poll(&pfd, 1, timeout_ms) == 1 && read(fd, &b, 1) == 1 ? 0 : -1;
}

/* Polls migration_get until the phase is `phase`; returns 0, or -1 after timeout_ms. */
static int mig_wait_phase(int ctl, const char *id, const char *phase, int timeout_ms)
{
	uint64_t until = now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		bool there = m && !strcmp(str(m, "phase"), phase);
		bool over = m && (!strcmp(str(m, "phase"), "failed") || !strcmp(str(m, "phase"), "cancelled"));

		if (there || over || now_ns() > until) {
			if (!there) {
				char *d = m ? json_dumps(m, JSON_COMPACT) : NULL;

				failf("the migration is not %s: %s", phase, d ? d : "(no reply)");
				free(d);
			}
			json_decref(m);
			return there ? 0 : -1;
		}
		json_decref(m);
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL); /* polling: no push for phases */
	}
}

static uint64_t mig_stat(json_t *m, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(m, "stats"), k));
}

/* Polls migration_get until stats.k >= at_least. */
static int mig_wait_stat(int ctl, const char *id, const char *k, uint64_t at_least, int timeout_ms)
{
	uint64_t until = now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		uint64_t v = m ? mig_stat(m, k) : 0;

		json_decref(m);
		if (v >= at_least)
			return 0;
		if (now_ns() > until) {
			printf("    stats.%s is %llu after %d ms, not %llu\n", k, (unsigned long long)v, timeout_ms,
			       (unsigned long long)at_least);
			return -1;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL); /* polling: no push for stats */
	}
}

static int mig_switchover(struct mig_run *mr)
{
	json_t *m = h_call(mr->sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", mr->id);

	if (!m) {
		failf("migration_switchover failed");
		return -1;
	}
	json_decref(m);
	return 0;
}

/*
 * Sets the migration up to the moment the seed picked: the source's
 * writes are done and the reference is final in every case; the
 * switchover is still to come for START_FIRST_FAULT (the caller requests
 * it while the first round runs).
 */
static int mig_setup(struct mig_run *mr, uint64_t seed, uint64_t *rng, uint64_t pages, uint8_t *subj,
		     uint8_t *ref, fl_client **c, fl_region **r)
{
	static const char *const dst_extra[] = { "--page-channel-listen", "127.0.0.1:0", NULL };
	static const char secret[] = "5eed0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e";
	char handoff[300];
	int go[2], ack[2];
	uint64_t n_writes = 200 + below(rng, 3000);
	json_t *out;

	memset(mr, 0, sizeof(*mr));
	mr->src_pid = -1;
	snprintf(mr->id, sizeof(mr->id), "5eed0000-0000-4000-8000-%012llx",
		 (unsigned long long)(seed & UINT64_C(0xffffffffffff)));
	if (h_agent_start(&mr->src, NULL) || h_agent_start(&mr->dst, dst_extra) ||
	    (mr->sctl = h_ctl_open(&mr->src)) < 0 || (mr->dctl = h_ctl_open(&mr->dst)) < 0)
		return -1;
	S.agent_pid = mr->dst.pid;
	mr->sh = mmap(NULL, sizeof(*mr->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mr->sh == MAP_FAILED || pipe2(go, O_CLOEXEC) || pipe2(ack, O_CLOEXEC))
		return -1;
	snprintf(handoff, sizeof(handoff), "%s/handoff.sock", mr->src.state);
	fflush(NULL);
	mr->src_pid = fork();
	if (mr->src_pid < 0)
		return -1;
	if (mr->src_pid == 0)
		src_workload(handoff, seed, pages, n_writes, mr->sh, go[0], ack[1]);
	close(go[0]);
	close(ack[1]);
	mr->go_w = go[1];
	mr->ack_r = ack[0];
	if (wait_byte(mr->ack_r, H_TIMEOUT_MS)) {
		printf("    the source workload did not register its region\n");
		return -1;
	}
	mr->in = h_call(mr->dctl, PROTO_T_MIGRATION_IN, "{s:s, s:s, s:I, s:i, s:s}", "migration_id", mr->id,
			"region_name", "stress", "length", (json_int_t)(pages * PS), "page_size", PS,
			"secret", secret);
	if (!mr->in)
		return -1;
	/* the background stream is slow (4 MiB/s): the push after the switchover takes a while */
	out = h_call(mr->sctl, PROTO_T_MIGRATION_OUT, "{s:s, s:s, s:s, s:s, s:{s:s, s:i}}", "migration_id",
		     mr->id, "region_id", mr->sh->region_id, "destination", str(mr->in, "channel"), "secret",
		     secret, "options", "postcopy", "manual", "bandwidth_bytes_per_s", 4 << 20);
	if (!out || strcmp(str(out, "phase"), "precopy")) {
		printf("    migration_out did not start\n");
		return -1;
	}
	json_decref(out);
	/*
	 * The source writes once every page was sent (the first pass ended), so
	 * that what it writes is stale at the switchover: pushed, or asked for.
	 */
	if (mig_wait_stat(mr->sctl, mr->id, "precopy_pages", pages, 60000))
		return -1;
	if (write(mr->go_w, "g", 1) != 1 || wait_byte(mr->ack_r, H_TIMEOUT_MS)) {
		printf("    the source workload did not finish its writes\n");
		return -1;
	}
	if (atomic_load(&mr->sh->writes_done) != n_writes)
		return -1;
	src_image(seed, pages, n_writes, ref);
	/* forked children keep their copy of the region served (UFFD_FEATURE_EVENT_FORK) */
	setenv("FAULTLINE_FOLLOW_FORK", "1", 1);
	*c = fl_connect(str(json_object_get(mr->in, "session"), "socket"));
	if (!*c || fl_region_register(*c, subj, pages * PS, "stress", NULL, FL_MODE_MISSING, r)) {
		printf("    register the destination: %s\n", fl_last_error());
		return -1;
	}
	if (S.start == START_FIRST_FAULT)
		return 0;
	if (mig_switchover(mr))
		return -1;
	if (S.start == START_COMPLETE && mig_wait_phase(mr->dctl, mr->id, "completed", 60000))
		return -1;
	return 0;
}

static void mig_teardown(struct mig_run *mr)
{
	json_t *m = mr->sctl > 0 ? h_call(mr->sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", mr->id)
				 : NULL;

	if (m)
		t_logf("seed %llu: the source sent %llu precopy, %llu pushed and %llu demand pages",
		       (unsigned long long)S.seed, (unsigned long long)mig_stat(m, "precopy_pages"),
		       (unsigned long long)mig_stat(m, "postcopy_pages"),
		       (unsigned long long)mig_stat(m, "demand_pages"));
	json_decref(m);
	if (mr->src_pid > 0) {
		kill(mr->src_pid, SIGKILL);
		waitpid(mr->src_pid, NULL, 0);
	}
	json_decref(mr->in);
	if (mr->sctl > 0)
		close(mr->sctl);
	if (mr->dctl > 0)
		close(mr->dctl);
}

static int run(uint64_t seed, unsigned rounds, enum variant variant, bool self_check)
{
	static const char *const extra[] = { "--populate-chunk-pages", "16", NULL };
	uint64_t rng = seed, pages = STRESS_PAGES;
	struct worker ws[THREADS];
	pthread_t th[THREADS], wd;
	struct snaps sn = { 0 };
	struct mig_run mr = { .src_pid = -1 };
	char image[256], opts[128], snapdir[256];
	struct h_agent a;
	fl_client *c = NULL;
	fl_region *r = NULL;
	uint8_t *subj, *ref;
	json_t *rs = NULL;
	int ctl = -1, fd;

	memset(&S, 0, sizeof(S));
	S.seed = seed;
	S.rounds = rounds;
	S.variant = variant;
	S.self_check = self_check;
	S.start = variant == V_SNAPSHOT ? START_COMPLETE : (enum start)below(&rng, START_N);
	subj = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ref = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (subj == MAP_FAILED || ref == MAP_FAILED)
		return T_FAIL;
	if (variant == V_MIGRATION) {
		if (mig_setup(&mr, seed, &rng, pages, subj, ref, &c, &r)) {
			printf("    cannot set the migration up\n");
			mig_teardown(&mr);
			return T_FAIL;
		}
		goto ready;
	}
	if (h_agent_start(&a, extra) || (ctl = h_ctl_open(&a)) < 0 ||
	    h_image(&a, "stress.mem", pages * PS, seed, image, sizeof(image)))
		return T_FAIL;
	S.agent_pid = a.pid;
	snprintf(opts, sizeof(opts), "{\"name\":\"stress\",\"populate_delay_ms\":%d}",
		 S.start == START_FIRST_FAULT ? -1 : S.start == START_COMPLETE ? 0 : (int)below(&rng, 20));
	rs = h_restore_create(ctl, image, opts);
	fd = open(image, O_RDONLY | O_CLOEXEC);
	if (!rs || fd < 0 || pread(fd, ref, pages * PS, 0) != (ssize_t)(pages * PS)) {
		printf("    cannot set the run up: %s\n", strerror(errno));
		return T_FAIL;
	}
	close(fd);
	/* forked children keep their copy of the region served (UFFD_FEATURE_EVENT_FORK) */
	setenv("FAULTLINE_FOLLOW_FORK", "1", 1);
	c = fl_connect(str(rs, "socket"));
	if (!c || fl_region_register(c, subj, pages * PS, "stress", NULL,
				     variant == V_SNAPSHOT ? FL_MODE_MISSING | FL_MODE_WP : FL_MODE_MISSING,
				     &r)) {
		printf("    register: %s\n", fl_last_error());
		return T_FAIL;
	}
	if (S.start == START_COMPLETE && h_wait_log(a.log, "msg=\"session complete\"", H_TIMEOUT_MS)) {
		printf("    the restore never completed\n");
		return T_FAIL;
	}
	snprintf(snapdir, sizeof(snapdir), "%s/snapshots", a.state);
	sn = (struct snaps){ .ctl = ctl, .region_id = fl_region_id(r), .dir = snapdir };
ready:
	add_seg(0, pages, subj, ref);

	S.wd_fd = eventfd(0, EFD_CLOEXEC);
	pthread_barrier_init(&S.go, NULL, THREADS + 1);
	pthread_barrier_init(&S.done, NULL, THREADS + 1);
	if (S.wd_fd < 0 || pthread_create(&wd, NULL, watchdog_main, NULL))
		return T_FAIL;
	for (unsigned i = 0; i < THREADS; i++) {
		ws[i] = (struct worker){ .idx = i, .rng = rnd(&rng), .ops = 40 };
		if (pthread_create(&th[i], NULL, worker_main, &ws[i]))
			return T_FAIL;
	}
	for (S.round = 0; S.round < rounds && !S.failed; S.round++) {
		uint64_t what = below(&rng, 10);

		pthread_barrier_wait(&S.go);
		if (variant == V_MIGRATION && S.round == 0 && S.start == START_FIRST_FAULT) {
			/* the workload's first faults wait for the switchover, which comes while they do */
			struct timespec ts = { .tv_nsec = (long)below(&rng, 20) * 1000000L };

			nanosleep(&ts, NULL); /* a moment the seed picks, not a synchronisation */
			op_begin(THREADS, "migration_switchover");
			mig_switchover(&mr);
			op_end(THREADS);
		}
		pthread_barrier_wait(&S.done);
		if (S.failed)
			break;
		if (variant == V_SNAPSHOT) {
			/* the next round runs while the snapshot is taken */
			if (snap_collect(&sn) || (what < 6 && snap_send(&sn)))
				break;
			if (what >= 8)
				fork_check(&rng);
			continue;
		}
		if (what < 3)
			change_layout(&rng, false);
		else if (what < 5)
			change_layout(&rng, true);
		else if (what < 7)
			fork_check(&rng);
	}
	atomic_store(&S.quit, true);
	pthread_barrier_wait(&S.go);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	if (variant == V_SNAPSHOT && !S.failed && !snap_collect(&sn))
		snap_quiet_check(&sn, pages);
	/* last, every live page once more */
	for (unsigned i = 0; i < S.n_segs && !S.failed; i++) {
		for (uint64_t p = 0; p < S.segs[i].n && !S.failed; p++)
			check_page(THREADS, &S.segs[i], S.segs[i].lp + p, "the final check");
	}
	/* a migration completes whatever the workload did, and the region keeps serving after */
	if (variant == V_MIGRATION && !S.failed && !mig_wait_phase(mr.dctl, mr.id, "completed", 60000)) {
		for (unsigned i = 0; i < S.n_segs && !S.failed; i++) {
			for (uint64_t p = 0; p < S.segs[i].n && !S.failed; p++)
				check_page(THREADS, &S.segs[i], S.segs[i].lp + p, "after COMPLETE");
		}
	}
	{
		uint64_t one = 1;

		if (write(S.wd_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(wd, NULL);
	}
	{
		uint64_t reads = 0, writes = 0, removes = 0;

		for (unsigned i = 0; i < THREADS; i++) {
			reads += ws[i].reads;
			writes += ws[i].writes;
			removes += ws[i].removes;
		}
		t_logf("seed %llu: %u rounds %s: %llu reads, %llu writes, %llu removals, %u segments",
		       (unsigned long long)seed, S.round, start_name(), (unsigned long long)reads,
		       (unsigned long long)writes, (unsigned long long)removes, S.n_segs);
	}
	if (variant == V_SNAPSHOT)
		t_logf("seed %llu: %u snapshots taken, %u refused (memory released during the capture)",
		       (unsigned long long)seed, sn.taken, sn.refused);
	if (variant == V_MIGRATION)
		mig_teardown(&mr);
	if (S.failed)
		return T_FAIL;
	fl_disconnect(c);
	json_decref(rs);
	if (ctl >= 0)
		close(ctl);
	return T_PASS;
}

/*
 * Runs one seed in a child process (its own agent, its own watchdog),
 * bounded from here too.  Returns the child's result.
 */
static int run_child(uint64_t seed, unsigned rounds, enum variant variant, bool self_check)
{
	int status = 0, pidfd;
	struct pollfd pfd;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return T_FAIL;
	if (pid == 0) {
		int res = run(seed, rounds, variant, self_check);

		/*
		 * The agents this run started are stopped here; a failed run keeps its
		 * directory, except in the self-check, where failing is the point.
		 */
		if (!h_cleanup(res == T_PASS || self_check, false) && res == T_PASS)
			res = T_FAIL;
		fflush(NULL);
		_exit(res);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	if (pidfd < 0 || poll(&pfd, 1, RUN_BOUND_MS) != 1) {
		printf("    seed %llu: the run did not end within %d ms\n", (unsigned long long)seed,
		       RUN_BOUND_MS);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return T_FAIL;
	}
	close(pidfd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status)) {
		printf("    seed %llu: the run died of signal %d\n", (unsigned long long)seed,
		       WTERMSIG(status));
		return T_FAIL;
	}
	return WEXITSTATUS(status) == T_PASS ? T_PASS : T_FAIL;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtoull(v, &end, 0);
	return errno || *end ? dflt : n;
}

/*
 * The budget: `seeds` seeds from a fixed first one (the same every run, so
 * that a red check is reproducible), `rounds` rounds each, unless the
 * environment names a seed to replay.
 */
static int run_budget(enum variant variant, uint64_t first, unsigned seeds, unsigned rounds)
{
	uint64_t seed = env_u64("FAULTLINE_STRESS_SEED", first);
	unsigned n = (unsigned)env_u64("FAULTLINE_STRESS_SEEDS", getenv("FAULTLINE_STRESS_SEED") ? 1 : seeds);
	unsigned failed = 0;

	rounds = (unsigned)env_u64("FAULTLINE_STRESS_ROUNDS", rounds);
	for (unsigned i = 0; i < n; i++) {
		if (run_child(seed + i, rounds, variant, false) != T_PASS)
			failed++;
	}
	t_logf("%u seeds from %llu, %u rounds each: %u failed", n, (unsigned long long)seed, rounds,
	       failed);
	CHECKF(!failed, "%u of %u seeds failed", failed, n);
	return T_PASS;
}

#ifdef __SANITIZE_ADDRESS__
#define STRESS_SEEDS 3
#else
#define STRESS_SEEDS 8
#endif

int t_stress_restore(const struct t_env *env)
{
	(void)env;
	return run_budget(V_RESTORE, 1000, STRESS_SEEDS, 24);
}

int t_stress_migration(const struct t_env *env)
{
	(void)env;
	return run_budget(V_MIGRATION, 4000, STRESS_SEEDS / 2 + 2, 24);
}

int t_stress_snapshot(const struct t_env *env)
{
	(void)env;
	return run_budget(V_SNAPSHOT, 2000, STRESS_SEEDS / 2 + 1, 16);
}

/*
 * The test proves it can fail: against an agent that ignores REMOVE events
 * (build/faultline-agent-inject, FAULTLINE_INJECT=ignore-remove) removed
 * pages are served from the image again, and the run must see it.
 */
int t_stress_self_check(const struct t_env *env)
{
	char path[PATH_MAX], dir[PATH_MAX];
	unsigned caught = 0;

	snprintf(dir, sizeof(dir), "%s", env->agent_path);
	snprintf(path, sizeof(path), "%s/faultline-agent-inject", dirname(dir));
	CHECKF(access(path, X_OK) == 0, "%s is missing (make builds it with the tests)", path);
	h_setup(path);
	setenv("FAULTLINE_INJECT", "ignore-remove", 1);
	for (uint64_t seed = 3000; seed < 3004; seed++)
		caught += run_child(seed, 12, V_RESTORE, true) == T_FAIL;
	unsetenv("FAULTLINE_INJECT");
	h_setup(env->agent_path);
	CHECKF(caught == 4, "only %u of 4 runs against an agent that ignores REMOVE failed", caught);
	/* and a production agent refuses the variable instead of ignoring it */
	{
		struct h_agent a;
		bool started;

		setenv("FAULTLINE_INJECT", "ignore-remove", 1);
		started = h_agent_start(&a, NULL) == 0;
		unsetenv("FAULTLINE_INJECT");
		CHECKF(!started, "the production agent started with FAULTLINE_INJECT set");
		CHECK(h_file_contains(a.log, "refusing to start"));
	}
	return T_PASS;
}
