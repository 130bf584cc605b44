/*
 * Live snapshots end to end: the real agent, the test process as the
 * workload (registered through libfaultline with FL_MODE_WP), a writer
 * thread that writes as fast as it can while the agent captures.
 *
 * How "the image equals memory at T" is checked without knowing T: one
 * writer stores a generation number g (1, 2, ...) into word 0 of a page
 * and logs log[g] = page, one 8-byte store per write.  A consistent image
 * at some instant holds, for K = the largest generation in it, on every
 * page exactly the last generation <= K the log wrote there (0 if none).
 * A page saved after its write, a write lost, or a torn cut breaks that.
 * The writer keeps to the lower half of the region, so the upper half is
 * absent from an incremental image and its never-touched pages are zero.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "content.h"
#include "faultline.h"
#include "harness.h"
#include "hwork.h"
#include "snapfile.h"
#include "test.h"

#define PS 4096u
#define MARK (UINT64_C(0xA5) << 56)
#define LOG_CAP (UINT64_C(1) << 24)

struct writer {
	volatile uint64_t *mem;
	uint64_t pages;
	uint32_t *log;    /* log[g]: the page generation g went to */
	_Atomic uint64_t written; /* generations completed */
	_Atomic bool stop;
	bool sequential;  /* pages in address order (wrapping) instead of at random */
	pthread_t thread;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 88172645463325252u;

	for (uint64_t g = 1; g < LOG_CAP && !atomic_load_explicit(&w->stop, memory_order_relaxed); g++) {
		uint64_t p;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* the upper half stays as filled: absent in an increment */
		p = w->sequential ? g % (w->pages / 2) : x % (w->pages / 2);
		w->log[g] = (uint32_t)p;
		w->mem[p * (PS / 8)] = g;
		atomic_store_explicit(&w->written, g, memory_order_release);
		/* some work between writes, so the log lasts through both captures */
		for (volatile unsigned i = 0; i < 64; i++)
			;
	}
	return NULL;
}

static uint64_t written(struct writer *w)
{
	return atomic_load_explicit(&w->written, memory_order_acquire);
}

/* Waits (at most 30 s) until the writer has done n more writes; polls without taking a CPU from it. */
static int wait_writes(struct writer *w, uint64_t n)
{
	uint64_t until = written(w) + n;

	for (int i = 0; i < 300000 && written(w) < until; i++)
		usleep(100);
	return written(w) >= until ? 0 : -1;
}

/* Page p at the start: populated with gen 0 and a marker unless p % 4 == 3 (never touched). */
static void fill(uint8_t *mem, uint64_t pages)
{
	for (uint64_t p = 0; p < pages; p++) {
		if (p % 4 == 3)
			continue;
		((uint64_t *)(mem + p * PS))[1] = MARK | p;
	}
}

/*
 * img: a flat image of the region; returns K (the cut) or -1 after printing
 * the first page that no instant explains.
 */
static int64_t check_cut(const uint8_t *img, uint64_t pages, const uint32_t *log, uint64_t max_g)
{
	uint64_t k = 0, *last = calloc(pages, sizeof(uint64_t));

	if (!last)
		return -1;
	for (uint64_t p = 0; p < pages; p++) {
		uint64_t g = ((const uint64_t *)(img + p * PS))[0];

		if (g > k)
			k = g;
	}
	if (k > max_g) {
		printf("    the image holds generation %llu, only %llu were written\n",
		       (unsigned long long)k, (unsigned long long)max_g);
		free(last);
		return -1;
	}
	for (uint64_t g = 1; g <= k; g++)
		last[log[g]] = g;
	for (uint64_t p = 0; p < pages; p++) {
		const uint64_t *w = (const uint64_t *)(img + p * PS);
		uint64_t mark = p % 4 == 3 ? 0 : MARK | p;

		if (w[0] != last[p] || w[1] != mark) {
			printf("    page %llu: generation %llu marker %#llx, a cut at %llu has %llu and %#llx\n",
			       (unsigned long long)p, (unsigned long long)w[0], (unsigned long long)w[1],
			       (unsigned long long)k, (unsigned long long)last[p], (unsigned long long)mark);
			free(last);
			return -1;
		}
		for (unsigned i = 2; i < PS / 8; i++) {
			if (w[i]) {
				printf("    page %llu: word %u is %#llx\n", (unsigned long long)p, i,
				       (unsigned long long)w[i]);
				free(last);
				return -1;
			}
		}
	}
	free(last);
	return (int64_t)k;
}

/* The chain flattened by the agent's own code, read back whole. */
static uint8_t *flatten(const char *dir, char *const *chain, unsigned n, uint64_t pages)
{
	char out[256], why[512];
	uint64_t got = 0;
	uint8_t *buf;
	int fd;

	snprintf(out, sizeof(out), "%s/flat.mem", dir);
	if (snapfile_flatten(chain, n, out, &got, why, sizeof(why))) {
		printf("    flatten: %s\n", why);
		return NULL;
	}
	buf = malloc(pages * PS);
	fd = open(out, O_RDONLY | O_CLOEXEC);
	/* got counts the image's pages: 2 MiB ones for a hugetlbfs region */
	if (!buf || fd < 0 || !got || (pages * PS) % got ||
	    pread(fd, buf, pages * PS, 0) != (ssize_t)(pages * PS)) {
		printf("    reading %s back failed\n", out);
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	unlink(out);
	return buf;
}

/* What a restore session serves: fresh memory registered on its socket, read whole. */
static uint8_t *restored(const char *sock, uint64_t pages)
{
	uint8_t *mem = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *copy = malloc(pages * PS);
	fl_client *c = mem != MAP_FAILED ? fl_connect(sock) : NULL;
	fl_region *r = NULL;

	if (!c || !copy || fl_region_register(c, mem, pages * PS, "restored", NULL, FL_MODE_MISSING, &r)) {
		printf("    register on %s: %s\n", sock, fl_last_error());
		free(copy);
		copy = NULL;
	} else {
		memcpy(copy, mem, pages * PS);
		fl_region_unregister(r);
	}
	if (c)
		fl_disconnect(c);
	if (mem != MAP_FAILED)
		munmap(mem, pages * PS);
	return copy;
}

struct snap_fixture {
	struct h_agent a;
	int ctl;
	char snapdir[192], handoff[192];
	uint8_t *mem;
	uint64_t pages;
	fl_client *c;
	fl_region *r;
	struct writer w;
};

enum fixture_mem { MEM_4K, MEM_THP, MEM_HUGETLB };

#define HUGE_2M (UINT64_C(2) << 20)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* kB of the anonymous huge pages (THP) mapped in [mem, mem + len), from smaps */
static uint64_t thp_kib(const void *mem, uint64_t len)
{
	char line[256];
	uint64_t kib = 0;
	bool in = false;
	FILE *s = fopen("/proc/self/smaps", "r");

	while (s && fgets(line, sizeof(line), s)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = lo < (uintptr_t)mem + len && hi > (uintptr_t)mem;
		else if (in && !strncmp(line, "AnonHugePages:", 14))
			kib += strtoull(line + 14, NULL, 10);
	}
	if (s)
		fclose(s);
	return kib;
}

/*
 * The region: 4 KiB pages (THP off), anonymous memory backed by transparent
 * huge pages (2 MiB aligned, collapsed after the fill, checked in smaps), or
 * hugetlbfs 2 MiB pages (reserved here; needs root).
 */
static int fixture_mem(struct snap_fixture *f, uint64_t pages, unsigned modes,
		       const char *const *extra, enum fixture_mem kind)
{
	uint64_t len = pages * PS;

	memset(f, 0, sizeof(*f));
	f->ctl = -1;
	if (kind == MEM_HUGETLB && h_hugepages((unsigned)(len / HUGE_2M)))
		return -1;
	if (h_agent_start(&f->a, extra))
		return -1;
	snprintf(f->snapdir, sizeof(f->snapdir), "%s/snapshots", f->a.state);
	snprintf(f->handoff, sizeof(f->handoff), "%s/handoff.sock", f->a.state);
	f->ctl = h_ctl_open(&f->a);
	f->pages = pages;
	if (kind == MEM_HUGETLB) {
		f->mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	} else if (kind == MEM_THP) {
		uint8_t *raw = mmap(NULL, len + HUGE_2M, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		f->mem = raw;
		if (raw != MAP_FAILED) {
			f->mem = (uint8_t *)(((uintptr_t)raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
			if (f->mem > raw)
				munmap(raw, (size_t)(f->mem - raw));
			munmap(f->mem + len, (size_t)(raw + HUGE_2M - f->mem));
		}
	} else {
		f->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (f->ctl < 0 || f->mem == MAP_FAILED) {
		printf("    mmap of the region: %s\n", strerror(errno));
		return -1;
	}
	if (kind != MEM_HUGETLB)
		madvise(f->mem, len, kind == MEM_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	fill(f->mem, pages);
	if (kind == MEM_THP) {
		/* the fill may have met no free huge page: collapse, then check the premise */
		madvise(f->mem, len, MADV_COLLAPSE);
		if (thp_kib(f->mem, len) < len / 1024 / 2) {
			printf("    only %llu KiB of the %llu KiB region is on transparent huge pages\n",
			       (unsigned long long)thp_kib(f->mem, len), (unsigned long long)(len / 1024));
			return -1;
		}
	}
	f->c = fl_connect(f->handoff);
	if (!f->c || fl_region_register(f->c, f->mem, pages * PS, "snaptest", NULL, modes, &f->r)) {
		printf("    register: %s\n", fl_last_error());
		return -1;
	}
	return 0;
}

static int fixture(struct snap_fixture *f, uint64_t pages, unsigned modes, const char *const *extra)
{
	return fixture_mem(f, pages, modes, extra, MEM_4K);
}

static int start_writer(struct snap_fixture *f)
{
	f->w.mem = (volatile uint64_t *)f->mem;
	f->w.pages = f->pages;
	f->w.log = calloc(LOG_CAP, sizeof(uint32_t));
	if (!f->w.log || pthread_create(&f->w.thread, NULL, writer_main, &f->w))
		return -1;
	return wait_writes(&f->w, 100000);
}

static void stop_writer(struct snap_fixture *f)
{
	if (!f->w.log)
		return;
	atomic_store(&f->w.stop, true);
	pthread_join(f->w.thread, NULL);
}

/* Sends snapshot_take and, while the writer writes, waits for its reply. */
static json_t *take(struct snap_fixture *f, const char *id, const char *path, const char *parent_id,
		    const char *parent_path, uint64_t *w0, uint64_t *w1)
{
	static uint64_t req_id = 7000;
	json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "snapshot_id", id, "region_id",
				fl_region_id(f->r), "path", path, "kind",
				parent_id ? "incremental" : "full");
	json_t *reply;
	char *s;

	if (parent_id)
		json_object_set_new(req, "parent", json_pack("{s:s, s:s}", "snapshot_id", parent_id,
							      "path", parent_path));
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	*w0 = written(&f->w);
	if (!s || h_send_frame(f->ctl, PROTO_T_SNAPSHOT_TAKE, 0, ++req_id, s)) {
		free(s);
		return NULL;
	}
	free(s);
	reply = h_expect_reply_within(f->ctl, PROTO_T_SNAPSHOT_TAKE, req_id, 60000);
	*w1 = written(&f->w);
	if (reply) {
		char *d = json_dumps(reply, JSON_COMPACT);

		t_logf("snapshot_take: %s", d);
		free(d);
	}
	return reply;
}

static void teardown(struct snap_fixture *f)
{
	stop_writer(f);
	free(f->w.log);
	if (f->r)
		fl_region_unregister(f->r);
	if (f->c)
		fl_disconnect(f->c);
	if (f->ctl >= 0)
		close(f->ctl);
	if (f->mem && f->mem != MAP_FAILED)
		munmap(f->mem, f->pages * PS);
}

static uint64_t jint(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return (uint64_t)json_integer_value(v);
}

/*
 * A full capture while the writer writes, then an incremental one after
 * more writes; each image (the incremental through its chain) is a
 * consistent cut taken during its request, and both verify.  Then the
 * chain is restored lazily into fresh memory and read back, and the
 * incremental image is consolidated with its parent into one that stands
 * alone with the same content.
 */
int t_snap_full_and_incremental_under_writer(const struct t_env *env)
{
	static const char full_id[] = "5a0a5a0a-0000-4000-8000-000000000001";
	static const char inc_id[] = "5a0a5a0a-0000-4000-8000-000000000002";
	struct snap_fixture f;
	char full[256], inc[256], *chain[2] = { full, inc };
	uint64_t w0, w1, v0, v1;
	json_t *r1 = NULL, *r2 = NULL, *v;
	uint8_t *img1 = NULL, *img2 = NULL;
	int64_t k1, k2;
	int ret = T_FAIL;

	(void)env;
	if (fixture(&f, 16384, FL_MODE_WP, NULL) || start_writer(&f))
		goto out;
	snprintf(full, sizeof(full), "%s/full.flsnap", f.snapdir);
	snprintf(inc, sizeof(inc), "%s/inc.flsnap", f.snapdir);

	r1 = take(&f, full_id, full, NULL, NULL, &w0, &w1);
	if (!r1 || wait_writes(&f.w, 200000))
		goto out;
	r2 = take(&f, inc_id, inc, full_id, full, &v0, &v1);
	stop_writer(&f);
	if (!r2)
		goto out;

	if (jint(r1, "pages_total", NULL) != f.pages ||
	    jint(r1, "pages_present", NULL) + jint(r1, "pages_zero", NULL) != f.pages ||
	    jint(r1, "pages_absent", NULL) != 0 || jint(r1, "pages_zero", NULL) < f.pages / 8 - 1) {
		printf("    full image counts are wrong\n");
		goto out;
	}
	if (jint(r2, "pages_absent", NULL) < f.pages / 2 - 64 ||
	    jint(r2, "pages_present", NULL) + jint(r2, "pages_zero", NULL) +
			    jint(r2, "pages_absent", NULL) != f.pages) {
		printf("    incremental image counts are wrong\n");
		goto out;
	}
	if (!jint(r1, "writer_stall", "count") || !jint(r1, "capture", "faults_after_t") ||
	    !jint(r2, "capture", "faults_after_t") || written(&f.w) >= LOG_CAP - 1) {
		printf("    the writer never met the capture (no write fault after T)\n");
		goto out;
	}
	if (strncmp(json_string_value(json_object_get(r1, "checksum")), "xxh3:", 5)) {
		printf("    checksum is not xxh3:...\n");
		goto out;
	}

	img1 = flatten(f.a.dir, chain, 1, f.pages);
	img2 = flatten(f.a.dir, chain, 2, f.pages);
	if (!img1 || !img2)
		goto out;
	k1 = check_cut(img1, f.pages, f.w.log, written(&f.w));
	k2 = check_cut(img2, f.pages, f.w.log, written(&f.w));
	t_logf("full: writes %llu..%llu, cut at %lld; incremental: writes %llu..%llu, cut at %lld",
	       (unsigned long long)w0, (unsigned long long)w1, (long long)k1, (unsigned long long)v0,
	       (unsigned long long)v1, (long long)k2);
	if (k1 < 0 || k2 < 0)
		goto out;
	if ((uint64_t)k1 < w0 || (uint64_t)k1 > w1 || (uint64_t)k2 < v0 || (uint64_t)k2 > v1) {
		printf("    a cut lies outside its request: full %lld in %llu..%llu, incremental %lld in"
		       " %llu..%llu\n", (long long)k1, (unsigned long long)w0, (unsigned long long)w1,
		       (long long)k2, (unsigned long long)v0, (unsigned long long)v1);
		goto out;
	}

	for (int i = 0; i < 2; i++) {
		v = h_call(f.ctl, PROTO_T_SNAPSHOT_VERIFY, "{s:s}", "path", chain[i]);
		if (!v || !json_is_true(json_object_get(v, "intact"))) {
			printf("    verify %s refused an intact image\n", chain[i]);
			json_decref(v);
			goto out;
		}
		json_decref(v);
	}

	/* lazy restore of the chain into fresh memory: every byte as in the chain */
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s,s], s:s}", "chain", full, inc, "name",
		   "snaprestore");
	if (!v || !json_is_string(json_object_get(v, "socket"))) {
		printf("    snapshot_restore gave no session\n");
		json_decref(v);
		goto out;
	}
	{
		uint8_t *got = restored(json_string_value(json_object_get(v, "socket")), f.pages);
		bool same = got && !memcmp(got, img2, f.pages * PS);

		json_decref(v);
		free(got);
		if (!same) {
			printf("    the restored memory differs from the chain\n");
			goto out;
		}
	}

	/* consolidation: the incremental image then stands alone and holds the same memory */
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_CONSOLIDATE, "{s:s, s:s}", "parent_path", full, "child_path", inc);
	if (!v || jint(v, "pages_absent", NULL) != 0) {
		printf("    consolidation failed or left absent pages\n");
		json_decref(v);
		goto out;
	}
	json_decref(v);
	{
		uint8_t *alone = flatten(f.a.dir, &chain[1], 1, f.pages);
		bool same = alone && !memcmp(alone, img2, f.pages * PS);

		free(alone);
		if (!same) {
			printf("    the consolidated image differs from the chain it replaces\n");
			goto out;
		}
	}
	ret = T_PASS;
out:
	json_decref(r1);
	json_decref(r2);
	free(img1);
	free(img2);
	teardown(&f);
	return ret;
}

static int copy_file(const char *from, const char *to)
{
	static char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;
	int ret = in >= 0 && out >= 0 ? 0 : -1;

	while (!ret && (n = read(in, buf, sizeof(buf))) > 0)
		ret = write(out, buf, (size_t)n) == n ? 0 : -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ret;
}

static int patch(const char *path, off_t off, uint8_t xor_with)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;
	int ret = -1;

	if (fd >= 0 && pread(fd, &b, 1, off) == 1) {
		b ^= xor_with;
		ret = pwrite(fd, &b, 1, off) == 1 ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* verify says why; restore refuses with the same reason and leaves no session. */
static int expect_refused(int ctl, const char *path, const char *needle)
{
	json_t *v = h_call(ctl, PROTO_T_SNAPSHOT_VERIFY, "{s:s}", "path", path);
	const char *d = json_string_value(json_object_get(v, "detail"));
	int ret = 0;

	if (!v || !json_is_false(json_object_get(v, "intact")) || !d || !strstr(d, needle)) {
		printf("    verify %s: intact %s, detail \"%s\", wanted \"%s\"\n", path,
		       json_is_true(json_object_get(v, "intact")) ? "true" : "false/missing",
		       d ? d : "", needle);
		ret = -1;
	}
	json_decref(v);
	/* served directly, a chain is read as pages are asked for: "verify" reads it all first */
	if (!ret && h_call_error(ctl, PROTO_T_SNAPSHOT_RESTORE, "BAD_REQUEST", "{s:[s], s:b}", "chain",
				 path, "verify", 1))
		ret = -1;
	return ret;
}

/*
 * Every refusal: corrupted page data, a truncated file, a wrong version, a
 * .tmp left behind, paths outside the snapshot directories, a region that
 * cannot be snapshotted, an incremental whose parent is not the last
 * capture; delete is idempotent and removes a leftover .tmp.
 */
int t_snap_refusals(const struct t_env *env)
{
	static const char id1[] = "5a0a5a0a-0000-4000-8000-0000000000a1";
	static const char id2[] = "5a0a5a0a-0000-4000-8000-0000000000a2";
	struct snap_fixture f;
	char img[256], bad[256], tmp[300];
	uint64_t w0, w1;
	json_t *r = NULL, *v;
	struct stat st;
	int ret = T_FAIL;

	(void)env;
	if (fixture(&f, 1024, FL_MODE_WP, NULL))
		goto out;
	f.w.log = NULL;
	snprintf(img, sizeof(img), "%s/a.flsnap", f.snapdir);
	snprintf(bad, sizeof(bad), "%s/bad.flsnap", f.snapdir);
	r = take(&f, id1, img, NULL, NULL, &w0, &w1);
	if (!r)
		goto out;
	/* the image exists: taking to it again is refused, the file stays */
	if (h_call_error(f.ctl, PROTO_T_SNAPSHOT_TAKE, "CONFLICT", "{s:s, s:s, s:s}", "snapshot_id",
			 id2, "region_id", fl_region_id(f.r), "path", img) ||
	    h_call_error(f.ctl, PROTO_T_SNAPSHOT_TAKE, "PERMISSION_DENIED", "{s:s, s:s, s:s}",
			 "snapshot_id", id2, "region_id", fl_region_id(f.r), "path", "/tmp/x.flsnap") ||
	    h_call_error(f.ctl, PROTO_T_SNAPSHOT_VERIFY, "PERMISSION_DENIED", "{s:s}", "path",
			 "/etc/passwd") ||
	    h_call_error(f.ctl, PROTO_T_SNAPSHOT_TAKE, "NOT_FOUND", "{s:s, s:s, s:s}", "snapshot_id",
			 id2, "region_id", "nope", "path", bad) ||
	    h_call_error(f.ctl, PROTO_T_SNAPSHOT_TAKE, "BAD_REQUEST", "{s:s, s:s, s:s, s:s}",
			 "snapshot_id", id2, "region_id", fl_region_id(f.r), "path", bad, "kind", "huge"))
		goto out;
	/* an incremental on a parent that is not the region's last capture */
	if (h_call_error(f.ctl, PROTO_T_SNAPSHOT_TAKE, "BAD_REQUEST", "{s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
			 "snapshot_id", id2, "region_id", fl_region_id(f.r), "path", bad, "kind",
			 "incremental", "parent", "snapshot_id", id2, "path", img))
		goto out;

	/* a flipped byte in the first page's data */
	if (copy_file(img, bad) || patch(bad, 4096 + 32 + 100, 0x01) ||
	    expect_refused(f.ctl, bad, "checksum"))
		goto out;
	/* cut short */
	if (copy_file(img, bad) || stat(bad, &st) || truncate(bad, st.st_size - 100) ||
	    expect_refused(f.ctl, bad, "truncated"))
		goto out;
	/* a version from the future */
	if (copy_file(img, bad) || patch(bad, 8, 0x03) || expect_refused(f.ctl, bad, "version"))
		goto out;
	/* a .tmp is never an image, and delete removes it */
	snprintf(tmp, sizeof(tmp), "%s.tmp", bad);
	if (rename(bad, tmp) || copy_file(img, bad) || patch(bad, 0, 0xff) ||
	    expect_refused(f.ctl, bad, "not a Faultline snapshot"))
		goto out;
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_DELETE, "{s:s}", "path", bad);
	if (!v || !json_is_true(json_object_get(v, "existed")) ||
	    !json_is_true(json_object_get(v, "tmp_removed")) || !stat(tmp, &st) || !stat(bad, &st)) {
		printf("    delete did not remove the image and its .tmp\n");
		json_decref(v);
		goto out;
	}
	json_decref(v);
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_DELETE, "{s:s}", "path", bad);
	if (!v || !json_is_false(json_object_get(v, "existed"))) {
		printf("    a second delete is not a success\n");
		json_decref(v);
		goto out;
	}
	json_decref(v);
	ret = T_PASS;
out:
	json_decref(r);
	teardown(&f);
	return ret;
}

/* A region registered without the hold uffd cannot be snapshotted consistently: refused. */
int t_snap_needs_hold_uffd(const struct t_env *env)
{
	struct snap_fixture f;
	char img[256];
	int ret = T_FAIL;

	(void)env;
	if (fixture(&f, 256, FL_MODE_MISSING, NULL))
		goto out;
	snprintf(img, sizeof(img), "%s/x.flsnap", f.snapdir);
	if (!h_call_error(f.ctl, PROTO_T_SNAPSHOT_TAKE, "CONFLICT", "{s:s, s:s, s:s}", "snapshot_id",
			  "5a0a5a0a-0000-4000-8000-0000000000b1", "region_id", fl_region_id(f.r),
			  "path", img))
		ret = T_PASS;
out:
	teardown(&f);
	return ret;
}

/*
 * The ledger (faultline-demo ledger) transfers as fast as it can while a
 * full and then two incremental snapshots are taken; every image restored
 * through its chain into a fresh process (ledger-check) holds the ledger's
 * invariant: every account in place and the total unchanged, after rolling
 * back the one transfer the journal may show in progress.
 */
int t_snap_ledger_invariant(const struct t_env *env)
{
	static const char *const ids[] = { "5a0a5a0a-0000-4000-8000-0000000000c1",
					   "5a0a5a0a-0000-4000-8000-0000000000c2",
					   "5a0a5a0a-0000-4000-8000-0000000000c3" };
	struct h_agent a;
	struct h_proc ledger;
	char handoff[192], paths[3][256];
	const char *region;
	json_t *hello = NULL;
	int ctl = -1, ret = T_FAIL;
	bool started = false;

	(void)env;
	if (h_agent_start(&a, NULL))
		return T_FAIL;
	snprintf(handoff, sizeof(handoff), "%s/handoff.sock", a.state);
	ctl = h_ctl_open(&a);
	{
		const char *const args[] = { "ledger", "--socket", handoff, "--size", "32M", "--accounts",
					     "50000", NULL };

		if (ctl < 0 || h_demo(&ledger, args))
			goto out;
		started = true;
	}
	hello = h_proc_json(&ledger, H_TIMEOUT_MS);
	region = json_string_value(json_object_get(hello, "region_id"));
	if (!region)
		goto out;
	for (int i = 0; i < 3; i++) {
		json_t *req, *r, *s, *summary = NULL;
		int st;

		snprintf(paths[i], sizeof(paths[i]), "%s/snapshots/ledger-%d.flsnap", a.state, i);
		req = json_pack("{s:s, s:s, s:s, s:s}", "snapshot_id", ids[i], "region_id", region, "path",
				paths[i], "kind", i ? "incremental" : "full");
		if (i)
			json_object_set_new(req, "parent", json_pack("{s:s, s:s}", "snapshot_id", ids[i - 1],
								      "path", paths[i - 1]));
		r = h_callj(ctl, PROTO_T_SNAPSHOT_TAKE, req);
		json_decref(req);
		if (!r) {
			printf("    snapshot %d failed\n", i);
			goto out;
		}
		t_logf("snapshot %d: %llu present, %llu absent, stall max %lld us over %lld faults", i,
		       (unsigned long long)jint(r, "pages_present", NULL),
		       (unsigned long long)jint(r, "pages_absent", NULL),
		       (long long)jint(r, "writer_stall", "max_us"), (long long)jint(r, "writer_stall", "count"));
		json_decref(r);
		req = json_pack("{s:[], s:s}", "chain", "name", "ledger-check");
		for (int k = 0; k <= i; k++)
			json_array_append_new(json_object_get(req, "chain"), json_string(paths[k]));
		s = h_callj(ctl, PROTO_T_SNAPSHOT_RESTORE, req);
		json_decref(req);
		if (!s)
			goto out;
		{
			const char *const args[] = { "ledger-check", "--socket",
						     json_string_value(json_object_get(s, "socket")),
						     "--size", "32M", "--accounts", "50000", NULL };

			st = h_demo_run(args, &summary);
		}
		if (summary) {
			char *d = json_dumps(summary, JSON_COMPACT);

			t_logf("ledger-check of chain %d: %s", i, d);
			free(d);
		}
		if (st != 0 || !json_is_true(json_object_get(summary, "ok"))) {
			printf("    the restored ledger of snapshot %d breaks the invariant (exit %d)\n", i, st);
			json_decref(summary);
			json_decref(s);
			goto out;
		}
		json_decref(summary);
		json_decref(s);
	}
	ret = T_PASS;
out:
	if (started) {
		kill(ledger.pid, SIGTERM);
		if (h_proc_wait(&ledger, H_TIMEOUT_MS) || ledger.status) {
			printf("    the ledger did not end cleanly\n");
			ret = T_FAIL;
		}
	}
	json_decref(hello);
	if (ctl >= 0)
		close(ctl);
	return ret;
}

static int expect_verify_refused(int ctl, const char *path)
{
	json_t *v = h_call(ctl, PROTO_T_SNAPSHOT_VERIFY, "{s:s}", "path", path);
	int ret = v && json_is_false(json_object_get(v, "intact")) ? 0 : -1;

	if (ret)
		printf("    verify of %s did not refuse it\n", path);
	else
		t_logf("verify of the .tmp: %s", json_string_value(json_object_get(v, "detail")));
	json_decref(v);
	return ret;
}

/*
 * kill -9 of the agent in the middle of a capture under the writer: no
 * image appears, the .tmp it leaves is refused by verify, and the new agent
 * removes it when it starts (the take was recorded in flight); the writer -
 * blocked on the hold uffd with nobody to serve it - goes on once the new
 * agent takes the re-registered region back (libfaultline reconnects by
 * itself) and lifts its protection.  The new agent then snapshots the
 * region again.
 */
int t_snap_agent_killed_mid_capture(const struct t_env *env)
{
	static const char id1[] = "5a0a5a0a-0000-4000-8000-0000000000d1";
	static const char id2[] = "5a0a5a0a-0000-4000-8000-0000000000d2";
	struct snap_fixture f;
	struct h_agent b;
	char img[256], tmp[300], img2[256], partial[300];
	struct stat st;
	json_t *req, *v;
	char *s;
	uint64_t w0, w1;
	int ret = T_FAIL;

	(void)env;
	/* a small buffer keeps the capture going long enough to be killed in its middle */
	{
		const char *const extra[] = { "--snapshot-buffer-bytes", "1M", NULL };

		if (fixture(&f, 65536, FL_MODE_WP, extra) || start_writer(&f))
			goto out;
	}
	snprintf(img, sizeof(img), "%s/killed.flsnap", f.snapdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", img);
	snprintf(img2, sizeof(img2), "%s/after.flsnap", f.snapdir);
	req = json_pack("{s:s, s:s, s:s}", "snapshot_id", id1, "region_id", fl_region_id(f.r), "path", img);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!s || h_send_frame(f.ctl, PROTO_T_SNAPSHOT_TAKE, 0, 9001, s)) {
		free(s);
		goto out;
	}
	free(s);
	if (h_wait_log(f.a.log, "msg=\"snapshot at T\"", 60000)) {
		printf("    the capture never reached T\n");
		goto out;
	}
	if (kill(f.a.pid, SIGKILL) || h_agent_wait_exit(&f.a, H_TIMEOUT_MS))
		goto out;
	close(f.ctl);
	f.ctl = -1;
	if (!stat(img, &st) || stat(tmp, &st)) {
		printf("    after the kill: the image %s, its .tmp %s\n", stat(img, &st) ? "is absent" : "exists",
		       stat(tmp, &st) ? "is absent" : "exists");
		goto out;
	}
	t_logf("killed mid-capture: the .tmp has %lld bytes", (long long)st.st_size);
	/* a copy of the partial image, for verify to refuse once the .tmp is gone */
	snprintf(partial, sizeof(partial), "%s/partial.flsnap", f.snapdir);
	if (copy_file(tmp, partial))
		goto out;

	if (h_agent_spawn(&b, f.a.dir, f.a.sock, NULL) || h_agent_wait_ready(&b, H_TIMEOUT_MS))
		goto out;
	f.a = b;
	if (!stat(tmp, &st) || !h_file_contains(f.a.log, "its partial image removed")) {
		printf("    the new agent did not remove the .tmp of the interrupted snapshot\n");
		goto out;
	}
	/* the writer was held (or is about to be) on a protected page: it must go on */
	if (wait_writes(&f.w, 100000)) {
		printf("    the writer stays blocked after the new agent started\n");
		goto out;
	}
	f.ctl = h_ctl_open(&f.a);
	if (f.ctl < 0 || expect_verify_refused(f.ctl, partial))
		goto out;
	unlink(partial);
	/* what the service does with the FAILED snapshot: nothing is left to remove */
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_DELETE, "{s:s}", "path", img);
	if (!v || !json_is_false(json_object_get(v, "existed")) ||
	    !json_is_false(json_object_get(v, "tmp_removed"))) {
		printf("    delete found something of the interrupted snapshot\n");
		json_decref(v);
		goto out;
	}
	json_decref(v);
	/* the re-adopted region is tracked again: a new full snapshot is a consistent cut */
	v = take(&f, id2, img2, NULL, NULL, &w0, &w1);
	stop_writer(&f);
	if (!v)
		goto out;
	json_decref(v);
	{
		char *chain[1] = { img2 };
		uint8_t *flat = flatten(f.a.dir, chain, 1, f.pages);
		int64_t k = flat ? check_cut(flat, f.pages, f.w.log, written(&f.w)) : -1;

		free(flat);
		if (k < 0 || (uint64_t)k < w0 || (uint64_t)k > w1) {
			printf("    the snapshot after the restart is not a cut inside its request\n");
			goto out;
		}
	}
	ret = T_PASS;
out:
	teardown(&f);
	return ret;
}

/*
 * A region restored lazily from an image: its missing pages are in the
 * image, not zero, so a snapshot is refused until the restore is complete;
 * then the snapshot holds exactly the image's bytes.
 */
int t_snap_restored_region(const struct t_env *env)
{
	struct h_agent a;
	char image[256], img[256], *chain[1] = { img };
	uint64_t pages = 2048;
	uint8_t *mem = NULL, *flat = NULL, *want = NULL;
	fl_client *c = NULL;
	fl_region *r = NULL;
	json_t *s = NULL, *v;
	volatile uint8_t sum = 0;
	int ctl = -1, ret = T_FAIL;

	(void)env;
	if (h_agent_start(&a, NULL) || h_image(&a, "restored.img", pages * PS, 5, image, sizeof(image)))
		return T_FAIL;
	snprintf(img, sizeof(img), "%s/snapshots/restored.flsnap", a.state);
	ctl = h_ctl_open(&a);
	s = ctl >= 0 ? h_restore_create(ctl, image, "{\"populate_delay_ms\":-1,\"working_set\":\"off\"}") : NULL;
	mem = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!s || mem == MAP_FAILED)
		goto out;
	c = fl_connect(json_string_value(json_object_get(s, "socket")));
	if (!c || fl_region_register(c, mem, pages * PS, "restored", NULL, FL_MODE_MISSING | FL_MODE_WP, &r)) {
		printf("    register: %s\n", fl_last_error());
		goto out;
	}
	if (h_call_error(ctl, PROTO_T_SNAPSHOT_TAKE, "CONFLICT", "{s:s, s:s, s:s}", "snapshot_id",
			 "5a0a5a0a-0000-4000-8000-0000000000e1", "region_id", fl_region_id(r), "path", img))
		goto out;
	for (uint64_t p = 0; p < pages; p++)
		sum += mem[p * PS];
	/* every page present: the session becomes COMPLETE (bounded poll of its state) */
	for (int i = 0; i < 1000; i++) {
		v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", json_string_value(json_object_get(s, "id")));
		if (v && !strcmp(json_string_value(json_object_get(v, "state")), "COMPLETE")) {
			json_decref(v);
			break;
		}
		json_decref(v);
		usleep(10000);
	}
	v = h_call(ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s}", "snapshot_id",
		   "5a0a5a0a-0000-4000-8000-0000000000e1", "region_id", fl_region_id(r), "path", img);
	if (!v) {
		printf("    the snapshot of the complete region failed\n");
		goto out;
	}
	json_decref(v);
	flat = flatten(a.dir, chain, 1, pages);
	want = malloc(pages * PS);
	if (!flat || !want)
		goto out;
	for (uint64_t p = 0; p < pages; p++)
		content_page(5, p, want + p * PS);
	if (memcmp(flat, want, pages * PS)) {
		printf("    the snapshot differs from the image the region was restored from\n");
		goto out;
	}
	ret = T_PASS;
out:
	(void)sum;
	free(flat);
	free(want);
	if (r)
		fl_region_unregister(r);
	if (c)
		fl_disconnect(c);
	json_decref(s);
	if (ctl >= 0)
		close(ctl);
	return ret;
}

/*
 * Eager restore into an attached region (its workload quiet): every page
 * of the snapshot is written back over what the workload scribbled, and
 * the pages it rewrote count as written for the next incremental snapshot.
 */
int t_snap_eager_restore(const struct t_env *env)
{
	static const char id1[] = "5a0a5a0a-0000-4000-8000-0000000000f1";
	static const char id2[] = "5a0a5a0a-0000-4000-8000-0000000000f2";
	struct snap_fixture f;
	char full[256], inc[256], *chain[2] = { full, inc };
	uint8_t *want = NULL, *now = NULL;
	uint64_t w0, w1;
	json_t *v = NULL;
	int ret = T_FAIL;

	(void)env;
	if (fixture(&f, 1024, FL_MODE_WP, NULL))
		goto out;
	snprintf(full, sizeof(full), "%s/eager-full.flsnap", f.snapdir);
	snprintf(inc, sizeof(inc), "%s/eager-inc.flsnap", f.snapdir);
	v = take(&f, id1, full, NULL, NULL, &w0, &w1);
	if (!v)
		goto out;
	json_decref(v);
	want = flatten(f.a.dir, chain, 1, f.pages);
	if (!want)
		goto out;
	/* the workload scribbles over every 3rd page, populating never-touched ones too */
	for (uint64_t p = 0; p < f.pages; p += 3)
		memset(f.mem + p * PS, 0xee, PS);
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s], s:s, s:s}", "chain", full, "mode", "eager",
		   "region_id", fl_region_id(f.r));
	if (!v || jint(v, "installed_pages", NULL) != f.pages) {
		printf("    eager restore did not install every page\n");
		goto out;
	}
	json_decref(v);
	v = NULL;
	if (memcmp(f.mem, want, f.pages * PS)) {
		printf("    the region differs from the snapshot after an eager restore\n");
		goto out;
	}
	/* the rewritten pages are in the next incremental: its chain is the memory now */
	v = take(&f, id2, inc, id1, full, &w0, &w1);
	if (!v)
		goto out;
	now = flatten(f.a.dir, chain, 2, f.pages);
	if (!now || memcmp(now, f.mem, f.pages * PS)) {
		printf("    the incremental after an eager restore misses pages\n");
		goto out;
	}
	ret = T_PASS;
out:
	json_decref(v);
	free(want);
	free(now);
	teardown(&f);
	return ret;
}

/* One ledger, one snapshot asking it to quiesce; the reply's "quiesced" and, optionally, its check. */
static int quiesce_case(struct h_agent *a, int ctl, const char *const *ledger_args, int n,
			const char *timeout_ms, const char *want, bool check)
{
	char handoff[192], img[256], id[40];
	const char *args[16] = { "ledger", "--socket", handoff, "--size", "8M", "--accounts", "5000" };
	struct h_proc ledger;
	json_t *hello = NULL, *r = NULL, *s = NULL, *sum = NULL;
	const char *got;
	int k = 7, ret = -1;

	snprintf(handoff, sizeof(handoff), "%s/handoff.sock", a->state);
	snprintf(img, sizeof(img), "%s/snapshots/quiesce-%d.flsnap", a->state, n);
	snprintf(id, sizeof(id), "5a0a5a0a-0000-4000-8000-00000000010%d", n);
	for (const char *const *p = ledger_args; *p && k < 15; p++)
		args[k++] = *p;
	args[k] = NULL;
	if (h_demo(&ledger, args))
		return -1;
	hello = h_proc_json(&ledger, H_TIMEOUT_MS);
	if (!hello)
		goto out;
	r = h_call(ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s, s:b, s:i}", "snapshot_id", id, "region_id",
		   json_string_value(json_object_get(hello, "region_id")), "path", img, "quiesce", 1,
		   "quiesce_timeout_ms", atoi(timeout_ms));
	got = json_string_value(json_object_get(r, "quiesced"));
	t_logf("quiesce case %d: quiesced %s (wanted %s)", n, got ? got : "?", want);
	if (!got || strcmp(got, want))
		goto out;
	if (check) {
		const char *cargs[] = { "ledger-check", "--socket", NULL, "--size", "8M", "--accounts", "5000",
					NULL };

		s = h_call(ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s]}", "chain", img);
		cargs[2] = json_string_value(json_object_get(s, "socket"));
		if (!cargs[2] || h_demo_run(cargs, &sum) || !json_is_true(json_object_get(sum, "ok")) ||
		    !json_is_false(json_object_get(sum, "recovered"))) {
			printf("    a quiesced ledger's snapshot needs no recovery and holds its invariant\n");
			goto out;
		}
	}
	ret = 0;
out:
	kill(ledger.pid, SIGTERM);
	if (h_proc_wait(&ledger, H_TIMEOUT_MS) || ledger.status) {
		printf("    the ledger did not go on after its snapshot (exit %d)\n", ledger.status);
		ret = -1;
	}
	json_decref(hello);
	json_decref(r);
	json_decref(s);
	json_decref(sum);
	return ret;
}

/*
 * Quiesce: a workload whose handler confirms is "yes" (and its snapshot,
 * taken between two transfers, needs no journal recovery); one without a
 * handler is "no"; one whose handler answers after the timeout is "timeout".
 * Each ledger goes on transferring after its snapshot (END was delivered).
 */
int t_snap_quiesce(const struct t_env *env)
{
	static const char *const yes[] = { "--quiesce", NULL };
	static const char *const none[] = { NULL };
	static const char *const late[] = { "--quiesce-delay-ms", "2000", NULL };
	struct h_agent a;
	int ctl;

	(void)env;
	if (h_agent_start(&a, NULL))
		return T_FAIL;
	ctl = h_ctl_open(&a);
	CHECK(ctl >= 0);
	CHECK_OK(quiesce_case(&a, ctl, yes, 1, "5000", "yes", true));
	CHECK_OK(quiesce_case(&a, ctl, none, 2, "5000", "no", false));
	CHECK_OK(quiesce_case(&a, ctl, late, 3, "200", "timeout", false));
	close(ctl);
	return T_PASS;
}

static uint64_t proc_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)))
			v = strtoull(line + strlen(key) + 1, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

/*
 * A 1 MiB buffer for a 64 MiB region under the writer: write faults wait
 * for the image writer to drain it, nothing is dropped (the image is still
 * a consistent cut), and the agent's peak memory grows by far less than the
 * region, however much the writer writes.
 */
int t_snap_bounded_buffer(const struct t_env *env)
{
	static const char id[] = "5a0a5a0a-0000-4000-8000-000000000201";
	const char *const extra[] = { "--snapshot-buffer-bytes", "1M", NULL };
	struct snap_fixture f;
	char img[256], *chain[1] = { img }, clear[64];
	uint64_t w0, w1, rss0, hwm;
	uint8_t *flat = NULL;
	json_t *r = NULL;
	int64_t k;
	int fd, ret = T_FAIL;

	(void)env;
	if (fixture(&f, 16384, FL_MODE_WP, extra) || start_writer(&f))
		goto out;
	snprintf(img, sizeof(img), "%s/bounded.flsnap", f.snapdir);
	/* peak RSS from here on (clear_refs 5 resets VmHWM) */
	snprintf(clear, sizeof(clear), "/proc/%d/clear_refs", (int)f.a.pid);
	fd = open(clear, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "5", 1) != 1) {
		printf("    cannot reset the agent's peak RSS: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	rss0 = proc_kib(f.a.pid, "VmRSS");
	r = take(&f, id, img, NULL, NULL, &w0, &w1);
	hwm = proc_kib(f.a.pid, "VmHWM");
	stop_writer(&f);
	if (!r)
		goto out;
	t_logf("agent RSS %llu KiB before, peak %llu KiB during the capture of a %llu KiB region",
	       (unsigned long long)rss0, (unsigned long long)hwm,
	       (unsigned long long)(f.pages * PS / 1024));
	if (hwm - rss0 > 16 * 1024) {
		printf("    the agent grew by %llu KiB for a 1 MiB buffer\n", (unsigned long long)(hwm - rss0));
		goto out;
	}
	/* the reply's own account of it: the buffer configured, never more of it used or touched */
	if (jint(r, "buffer", "bytes") != 1u << 20 || !jint(r, "buffer", "peak_bytes") ||
	    jint(r, "buffer", "peak_bytes") > jint(r, "buffer", "bytes") ||
	    jint(r, "buffer", "resident_bytes") > jint(r, "buffer", "bytes")) {
		printf("    the reply's buffer figures are not within the 1 MiB buffer\n");
		goto out;
	}
	flat = flatten(f.a.dir, chain, 1, f.pages);
	k = flat ? check_cut(flat, f.pages, f.w.log, written(&f.w)) : -1;
	if (k < 0 || (uint64_t)k < w0 || (uint64_t)k > w1) {
		printf("    with a small buffer the image is not a cut inside its request\n");
		goto out;
	}
	ret = T_PASS;
out:
	free(flat);
	json_decref(r);
	teardown(&f);
	return ret;
}

/* Whether the agent's restore_list has session id, and (if want_snap) with that snapshot_id. */
static bool listed(int ctl, const char *id, const char *want_snap)
{
	json_t *l = h_call(ctl, PROTO_T_RESTORE_LIST, "{}"), *v;
	bool found = false;
	size_t i;

	json_array_foreach(json_object_get(l, "restores"), i, v) {
		if (!strcmp(json_string_value(json_object_get(v, "id")), id))
			found = !want_snap || !strcmp(want_snap, json_string_value(json_object_get(v, "snapshot_id"))
						      ? json_string_value(json_object_get(v, "snapshot_id")) : "");
	}
	json_decref(l);
	return found;
}

/*
 * A chain is served as its pages are asked for, each checked against its
 * sum first: a page whose bytes were damaged on disk is never installed.
 * The region restoring it fails and the session says why, instead of a
 * workload reading a wrong byte; the agent serves on.  (With "verify" the
 * restore is refused up front: snap/refusals.)
 */
int t_snap_chain_bad_page(const struct t_env *env)
{
	static const char id[] = "5a0a5a0a-0000-4000-8000-0000000000c1";
	struct snap_fixture f;
	char img[256], bad[256], rid[64] = "", sock[300] = "";
	uint8_t *good = NULL;
	uint64_t w0, w1;
	pid_t child = -1;
	json_t *v;
	int ret = T_FAIL;

	(void)env;
	if (fixture(&f, 1024, FL_MODE_WP, NULL))
		goto out;
	snprintf(img, sizeof(img), "%s/good.flsnap", f.snapdir);
	snprintf(bad, sizeof(bad), "%s/bad.flsnap", f.snapdir);
	v = take(&f, id, img, NULL, NULL, &w0, &w1);
	json_decref(v);
	/* a flipped byte in the first page's data */
	if (!v || copy_file(img, bad) || patch(bad, 4096 + 32 + 100, 0x01))
		goto out;
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s], s:i}", "chain", bad, "populate_delay_ms", -1);
	if (v) {
		snprintf(rid, sizeof(rid), "%s", json_string_value(json_object_get(v, "id")));
		snprintf(sock, sizeof(sock), "%s", json_string_value(json_object_get(v, "socket")));
	}
	json_decref(v);
	if (!sock[0]) {
		printf("    a chain whose metadata is intact was not restored lazily\n");
		goto out;
	}
	child = fork();
	if (child == 0) {
		/* blocks on the damaged page: it must never return with bytes */
		uint8_t *m = restored(sock, f.pages);

		_exit(m ? 3 : 4);
	}
	if (child < 0)
		goto out;
	v = NULL;
	for (int i = 0; i < 1000; i++) {
		v = h_call(f.ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", rid);
		if (v && !strcmp(json_string_value(json_object_get(v, "state")), "FAILED"))
			break;
		json_decref(v);
		v = NULL;
		usleep(10000);
	}
	if (!v || !strstr(json_string_value(json_object_get(v, "error")), "checksum mismatch at page 0")) {
		printf("    the session did not fail with the damaged page: %s\n",
		       v ? json_string_value(json_object_get(v, "error")) : "still not FAILED");
		json_decref(v);
		goto out;
	}
	json_decref(v);
	{
		int st;

		if (waitpid(child, &st, WNOHANG) != 0) {
			printf("    the workload of the damaged page went on (status %d)\n", st);
			child = -1;
			goto out;
		}
	}
	/* the agent serves on: the intact image restores every byte */
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s]}", "chain", img);
	good = v ? restored(json_string_value(json_object_get(v, "socket")), f.pages) : NULL;
	json_decref(v);
	if (!good || memcmp(good, f.mem, f.pages * PS)) {
		printf("    the intact image was not restored whole after the damaged one failed\n");
		goto out;
	}
	ret = T_PASS;
out:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	free(good);
	teardown(&f);
	return ret;
}

/* A new agent on f's state directory after kill -9 of the one running. */
static int restart(struct snap_fixture *f)
{
	struct h_agent b;

	if (kill(f->a.pid, SIGKILL) || h_agent_wait_exit(&f->a, H_TIMEOUT_MS))
		return -1;
	close(f->ctl);
	f->ctl = -1;
	if (h_agent_spawn(&b, f->a.dir, f->a.sock, NULL) || h_agent_wait_ready(&b, H_TIMEOUT_MS))
		return -1;
	f->a = b;
	f->ctl = h_ctl_open(&f->a);
	return f->ctl < 0 ? -1 : 0;
}

/* The state and error of restore session id. */
static const char *session_state(int ctl, const char *id, char *err, size_t len)
{
	static char state[32];
	json_t *v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", id);

	snprintf(state, sizeof(state), "%s", v ? json_string_value(json_object_get(v, "state")) : "?");
	snprintf(err, len, "%s", v && json_is_string(json_object_get(v, "error"))
				 ? json_string_value(json_object_get(v, "error")) : "");
	json_decref(v);
	return state;
}

/*
 * A session serving a chain (full, incremental, incremental) survives what
 * the service does to the chain while it runs: the newest image
 * consolidated with its parent (rewritten to stand on the full image) and
 * the parent deleted, then kill -9 of the agent.  The restarted agent finds
 * the images the newest needs by their snapshot ids and serves the same
 * bytes.  A chain whose newest image was replaced by other memory is
 * reopened FAILED, with the reason.
 */
int t_snap_chain_session_consolidated(const struct t_env *env)
{
	static const char ids[3][37] = { "5a0a5a0a-0000-4000-8000-0000000000b1",
					 "5a0a5a0a-0000-4000-8000-0000000000b2",
					 "5a0a5a0a-0000-4000-8000-0000000000b3" };
	static const char sid[] = "5a0a5a0a-0000-4000-8000-0000000000b4";
	static const char other_id[] = "5a0a5a0a-0000-4000-8000-0000000000b5";
	struct snap_fixture f;
	char paths[3][256], other[256], sock[300] = "", err[512];
	char *chain[3] = { paths[0], paths[1], paths[2] };
	uint8_t *want = NULL, *got = NULL;
	const char *state;
	uint64_t w0, w1;
	json_t *v;
	int ret = T_FAIL;

	(void)env;
	if (fixture(&f, 1024, FL_MODE_WP, NULL))
		goto out;
	for (int i = 0; i < 3; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/cons-%d.flsnap", f.snapdir, i);
		for (uint64_t p = (uint64_t)i; i && p < f.pages; p += 5)
			memset(f.mem + p * PS, 0x30 + i * 7 + (int)(p % 13), PS);
		v = take(&f, ids[i], paths[i], i ? ids[i - 1] : NULL, i ? paths[i - 1] : NULL, &w0, &w1);
		json_decref(v);
		if (!v)
			goto out;
	}
	want = flatten(f.a.dir, chain, 3, f.pages);
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s,s,s], s:s, s:i}", "chain", paths[0], paths[1],
		   paths[2], "id", sid, "populate_delay_ms", -1);
	if (v)
		snprintf(sock, sizeof(sock), "%s", json_string_value(json_object_get(v, "socket")));
	json_decref(v);
	if (!want || !sock[0])
		goto out;
	/* the service's retention: the newest folded onto its parent's parent, the parent gone */
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_CONSOLIDATE, "{s:s, s:s}", "parent_path", paths[1],
		   "child_path", paths[2]);
	json_decref(v);
	if (!v || unlink(paths[1]))
		goto out;
	got = restored(sock, f.pages);
	if (!got || memcmp(got, want, f.pages * PS)) {
		printf("    the running session served other bytes after the consolidation\n");
		goto out;
	}
	free(got);
	got = NULL;
	if (restart(&f))
		goto out;
	state = session_state(f.ctl, sid, err, sizeof(err));
	if (!strcmp(state, "FAILED") || !strcmp(state, "?")) {
		printf("    after the restart the session is %s: %s\n", state, err);
		goto out;
	}
	got = restored(sock, f.pages);
	if (!got || memcmp(got, want, f.pages * PS)) {
		printf("    after the restart the session serves other bytes than the chain held\n");
		goto out;
	}
	/* other memory under the newest image's name: not served */
	memset(f.mem, 0x77, PS);
	snprintf(other, sizeof(other), "%s/other.flsnap", f.snapdir);
	v = take(&f, other_id, other, NULL, NULL, &w0, &w1);
	json_decref(v);
	if (!v)
		goto out;
	if (rename(other, paths[2]) || restart(&f))
		goto out;
	state = session_state(f.ctl, sid, err, sizeof(err));
	if (strcmp(state, "FAILED") || !strstr(err, "holds other memory")) {
		printf("    a chain replaced by other memory was reopened %s: %s\n", state, err);
		goto out;
	}
	ret = T_PASS;
out:
	free(want);
	free(got);
	teardown(&f);
	return ret;
}

/* Entries of a directory (0 when it does not exist), "." and ".." aside. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/*
 * A snapshot restore session is a restore session the service can own: it
 * takes the service's id and the snapshot's and reports both, also after a
 * kill -9 and restart.  It serves its chain (a full image and an
 * incremental) straight from the snapshot files, byte for byte as the
 * chain flattened, before and after the restart: nothing is written under
 * <state>/snaprestore.  A flat image an older agent left there that no
 * session serves is removed when the next agent starts.
 */
int t_snap_restore_session_files(const struct t_env *env)
{
	static const char full_id[] = "5a0a5a0a-0000-4000-8000-0000000000e0";
	static const char snap_id[] = "5a0a5a0a-0000-4000-8000-0000000000e1";
	static const char sid[] = "5a0a5a0a-0000-4000-8000-0000000000e2";
	struct snap_fixture f;
	char full[256], inc[256], flatdir[300], orphan[400], sock[300];
	char *chain[2] = { full, inc };
	uint8_t *want = NULL, *got = NULL;
	struct stat st;
	uint64_t w0, w1;
	json_t *v;
	int fd, ret = T_FAIL;

	(void)env;
	if (fixture(&f, 1024, FL_MODE_WP, NULL))
		goto out;
	snprintf(full, sizeof(full), "%s/sessions-full.flsnap", f.snapdir);
	snprintf(inc, sizeof(inc), "%s/sessions-inc.flsnap", f.snapdir);
	v = take(&f, full_id, full, NULL, NULL, &w0, &w1);
	if (!v)
		goto out;
	json_decref(v);
	/* pages the incremental holds: every third page changed, a few zeroed */
	for (uint64_t p = 0; p < f.pages; p += 3)
		memset(f.mem + p * PS, (int)(p % 251) + 1, PS);
	for (uint64_t p = 1; p < f.pages; p += 97)
		memset(f.mem + p * PS, 0, PS);
	v = take(&f, snap_id, inc, full_id, full, &w0, &w1);
	if (!v)
		goto out;
	json_decref(v);
	want = flatten(f.a.dir, chain, 2, f.pages);
	if (!want || memcmp(want, f.mem, f.pages * PS)) {
		printf("    the chain does not hold the memory it was taken of\n");
		goto out;
	}
	if (h_call_error(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "BAD_REQUEST", "{s:[s], s:s}", "chain", full,
			 "snapshot_id", "not-a-uuid") ||
	    h_call_error(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "BAD_REQUEST", "{s:[s], s:s}", "chain", full,
			 "verify", "yes")) {
		printf("    a bad snapshot_id or verify was not refused\n");
		goto out;
	}
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s,s], s:s, s:s, s:s}", "chain", full, inc, "id",
		   sid, "snapshot_id", snap_id, "name", "sessions");
	if (!v || strcmp(json_string_value(json_object_get(v, "id")), sid) ||
	    !json_is_string(json_object_get(v, "snapshot_id")) ||
	    strcmp(json_string_value(json_object_get(v, "snapshot_id")), snap_id) ||
	    json_array_size(json_object_get(v, "chain")) != 2) {
		printf("    snapshot_restore did not take the service's ids or report its chain\n");
		json_decref(v);
		goto out;
	}
	snprintf(sock, sizeof(sock), "%s", json_string_value(json_object_get(v, "socket")));
	json_decref(v);
	snprintf(flatdir, sizeof(flatdir), "%s/snaprestore", f.a.state);
	if (entries(flatdir)) {
		printf("    the chain was copied into %s\n", flatdir);
		goto out;
	}
	got = restored(sock, f.pages);
	if (!got || memcmp(got, want, f.pages * PS)) {
		printf("    the session serves other bytes than the chain holds\n");
		goto out;
	}
	free(got);
	got = NULL;
	/* what an older agent, which flattened chains, could leave */
	snprintf(orphan, sizeof(orphan), "%s/5a0a5a0a-0000-4000-8000-0000000000e3.mem", flatdir);
	if (mkdir(flatdir, 0700) && errno != EEXIST)
		goto out;
	fd = open(orphan, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	close(fd);
	if (restart(&f))
		goto out;
	if (!listed(f.ctl, sid, snap_id)) {
		printf("    after the restart the session is gone\n");
		goto out;
	}
	if (!stat(orphan, &st)) {
		printf("    the flat image no session serves survived the restart\n");
		goto out;
	}
	got = restored(sock, f.pages);
	if (!got || memcmp(got, want, f.pages * PS)) {
		printf("    after the restart the session serves other bytes than the chain holds\n");
		goto out;
	}
	v = h_call(f.ctl, PROTO_T_RESTORE_DELETE, "{s:s}", "id", sid);
	json_decref(v);
	if (!v || listed(f.ctl, sid, NULL) || stat(full, &st) || stat(inc, &st)) {
		printf("    restore_delete left the session, or took the snapshot files with it\n");
		goto out;
	}
	ret = T_PASS;
out:
	free(want);
	free(got);
	teardown(&f);
	return ret;
}

/*
 * A full capture and an incremental one under the writer (on huge pages,
 * or moving through memory in order): both images are consistent cuts
 * inside their requests (byte-exact against the writer's log), in the
 * region's own page size.
 */
static int cut_case(enum fixture_mem kind, uint64_t want_page_size, bool sequential)
{
	static const char full_id[] = "5a0a5a0a-0000-4000-8000-000000000301";
	static const char inc_id[] = "5a0a5a0a-0000-4000-8000-000000000302";
	struct snap_fixture f;
	char full[256], inc[256], *chain[2] = { full, inc };
	uint64_t w0, w1, v0, v1;
	json_t *r1 = NULL, *r2 = NULL, *v;
	uint8_t *img1 = NULL, *img2 = NULL;
	int64_t k1, k2;
	int ret = T_FAIL;

	if (fixture_mem(&f, 8192, FL_MODE_WP, NULL, kind))
		goto out;
	f.w.sequential = sequential;
	if (start_writer(&f))
		goto out;
	snprintf(full, sizeof(full), "%s/huge-full.flsnap", f.snapdir);
	snprintf(inc, sizeof(inc), "%s/huge-inc.flsnap", f.snapdir);
	r1 = take(&f, full_id, full, NULL, NULL, &w0, &w1);
	if (!r1 || wait_writes(&f.w, 100000))
		goto out;
	r2 = take(&f, inc_id, inc, full_id, full, &v0, &v1);
	stop_writer(&f);
	if (!r2)
		goto out;
	if (jint(r1, "pages_total", NULL) * want_page_size != f.pages * PS ||
	    jint(r1, "pages_absent", NULL) != 0) {
		printf("    the full image is not in %llu-byte pages, or is missing some\n",
		       (unsigned long long)want_page_size);
		goto out;
	}
	/* the writer keeps to the lower half: a granule never reaches the upper one */
	if (jint(r2, "pages_absent", NULL) * 2 < jint(r2, "pages_total", NULL)) {
		printf("    the incremental image holds pages the writer never wrote\n");
		goto out;
	}
	if (!jint(r1, "capture", "faults_after_t") && !jint(r2, "capture", "faults_after_t")) {
		printf("    the writer never met a capture (no write fault after T)\n");
		goto out;
	}
	img1 = flatten(f.a.dir, chain, 1, f.pages);
	img2 = flatten(f.a.dir, chain, 2, f.pages);
	if (!img1 || !img2)
		goto out;
	k1 = check_cut(img1, f.pages, f.w.log, written(&f.w));
	k2 = check_cut(img2, f.pages, f.w.log, written(&f.w));
	t_logf("full: writes %llu..%llu, cut at %lld; incremental: writes %llu..%llu, cut at %lld",
	       (unsigned long long)w0, (unsigned long long)w1, (long long)k1, (unsigned long long)v0,
	       (unsigned long long)v1, (long long)k2);
	if (k1 < 0 || k2 < 0 || (uint64_t)k1 < w0 || (uint64_t)k1 > w1 || (uint64_t)k2 < v0 ||
	    (uint64_t)k2 > v1) {
		printf("    an image is not a cut inside its request\n");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		v = h_call(f.ctl, PROTO_T_SNAPSHOT_VERIFY, "{s:s}", "path", chain[i]);
		if (!v || !json_is_true(json_object_get(v, "intact"))) {
			printf("    verify %s refused an intact image\n", chain[i]);
			json_decref(v);
			goto out;
		}
		json_decref(v);
	}
	ret = T_PASS;
out:
	json_decref(r1);
	json_decref(r2);
	free(img1);
	free(img2);
	teardown(&f);
	return ret;
}

/* Anonymous memory on transparent huge pages: protection splits them where it must. */
int t_snap_thp(const struct t_env *env)
{
	(void)env;
	return cut_case(MEM_THP, PS, false);
}

/* hugetlbfs 2 MiB pages: saved whole, one 2 MiB page per write fault. */
int t_snap_hugetlb(const struct t_env *env)
{
	(void)env;
	return cut_case(MEM_HUGETLB, HUGE_2M, false);
}

/*
 * A writer moving through memory in address order: the background saves
 * ahead of it (the pages after the granule each fault met), and the images
 * are still exact.
 */
int t_snap_sequential_writer(const struct t_env *env)
{
	(void)env;
	return cut_case(MEM_4K, PS, true);
}

struct poke {
	volatile uint8_t *page;
	_Atomic pid_t tid;
};

static void *poke_main(void *arg)
{
	struct poke *p = arg;

	atomic_store(&p->tid, gettid());
	p->page[0]++; /* a write to a protected page: waits for the agent */
	return NULL;
}

/* Whether thread tid of this process sleeps (here: in the write fault it was started for). */
static bool thread_sleeps(pid_t tid)
{
	char path[64], buf[512], *st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	st = strrchr(buf, ')');
	return st && (st[2] == 'S' || st[2] == 'D');
}

/*
 * A workload exits on the worker that serves a snapshotted region, in the
 * same batch of events as a write fault of that region (made certain
 * here: the agent is stopped while both happen).  The fault sends
 * the worker spinning for the next one; the dead workload's pidfd stays
 * readable until its uffd is reaped.  A spin that never ended while
 * events came back, served or not, kept the worker away from its
 * background work for good: the next snapshot never progressed past
 * "snapshot started".  Now it completes.
 */
int t_snap_workload_exits_while_worker_spins(const struct t_env *env)
{
	static const char id1[] = "5a0a5a0a-0000-4000-8000-000000000301";
	static const char id2[] = "5a0a5a0a-0000-4000-8000-000000000302";
	/* one worker serves both workloads; its spin window is as long as it gets */
	const char *const extra[] = { "--workers", "1", "--spin-us", "10000", NULL };
	const char *mate_args[] = { "anon", "--socket", NULL, "--size", "64K", "--hold", NULL };
	struct snap_fixture f;
	struct h_proc mate;
	struct poke pk = { 0 };
	pthread_t th;
	bool th_started = false, mate_started = false;
	char img1[256], img2[256];
	int ret = T_FAIL;
	struct timespec t0, t1;
	siginfo_t si;
	json_t *v;

	(void)env;
	if (fixture(&f, 2048, FL_MODE_WP, extra))
		goto out;
	mate_args[2] = f.handoff;
	snprintf(img1, sizeof(img1), "%s/spin-1.flsnap", f.snapdir);
	snprintf(img2, sizeof(img2), "%s/spin-2.flsnap", f.snapdir);
	/* after a capture every page is protected: a write faults */
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s, s:s}", "snapshot_id", id1,
		   "region_id", fl_region_id(f.r), "path", img1, "kind", "full");
	if (!v) {
		printf("    the first snapshot failed\n");
		goto out;
	}
	json_decref(v);
	/* the second workload: registered (answered once attached to the worker), then holds */
	if (h_demo(&mate, mate_args)) {
		printf("    cannot start the second workload\n");
		goto out;
	}
	mate_started = true;
	v = h_proc_json(&mate, H_TIMEOUT_MS);
	if (!v) {
		printf("    the second workload did not register\n");
		goto out;
	}
	json_decref(v);
	/* the agent stopped: a write fault queued on the region, the second workload gone */
	if (kill(f.a.pid, SIGSTOP) || waitid(P_PID, (id_t)f.a.pid, &si, WSTOPPED)) {
		printf("    cannot stop the agent: %s\n", strerror(errno));
		goto out;
	}
	pk.page = f.mem + 5 * PS;
	if (pthread_create(&th, NULL, poke_main, &pk)) {
		kill(f.a.pid, SIGCONT);
		goto out;
	}
	th_started = true;
	/* poll (bounded) for the writer to block in its fault: the agent cannot answer it */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (atomic_load(&pk.tid) && thread_sleeps(atomic_load(&pk.tid)))
			break;
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < H_TIMEOUT_MS);
	kill(mate.pid, SIGKILL);
	h_proc_wait(&mate, H_TIMEOUT_MS);
	mate_started = false;
	if (!atomic_load(&pk.tid) || !thread_sleeps(atomic_load(&pk.tid))) {
		kill(f.a.pid, SIGCONT);
		printf("    the writer did not block on the stopped agent\n");
		goto out;
	}
	if (kill(f.a.pid, SIGCONT))
		goto out;
	/* the fault is answered, and the worker gets back to a snapshot's background work */
	pthread_join(th, NULL);
	th_started = false;
	v = h_call(f.ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s, s:s}", "snapshot_id", id2,
		   "region_id", fl_region_id(f.r), "path", img2, "kind", "full");
	if (!v) {
		printf("    the snapshot after the workload exited never completed\n");
		goto out;
	}
	json_decref(v);
	ret = T_PASS;
out:
	if (mate_started) {
		kill(mate.pid, SIGKILL);
		h_proc_wait(&mate, H_TIMEOUT_MS);
	}
	if (th_started)
		pthread_join(th, NULL);
	teardown(&f);
	return ret;
}
