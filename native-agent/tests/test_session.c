/*
 * Restore sessions over their lifetime: background population, detach,
 * working-set record and replay, an agent killed in the middle of a
 * restore, and the session commands themselves.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "content.h"
#include "harness.h"
#include "image.h"
#include "hwork.h"
#include "test.h"
#include "wset.h"

#define MIB (UINT64_C(1) << 20)

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

static int64_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The worker let go of the region: its counters are final, the session updated. */
static int detached(const struct h_agent *a, const char *id)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "msg=\"region detached\" id=%s", id);
	return h_wait_log(a->log, needle, H_TIMEOUT_MS);
}

static int start(struct h_agent *a, int *ctl, char *image, size_t len, uint64_t size)
{
	if (h_agent_start(a, NULL) || (*ctl = h_ctl_open(a)) < 0)
		return -1;
	return h_image(a, "vm.mem", size, 7, image, len);
}

/* faultline-demo restore ... --hold, past its first summary line. */
static int demo_hold(struct h_proc *p, json_t *rs, const char *size, const char *pattern,
		     json_t **sum)
{
	const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", size,
				     "--seed", "7", "--pattern", pattern, "--hold", NULL };

	if (h_demo(p, args))
		return -1;
	*sum = h_proc_json(p, H_TIMEOUT_MS);
	return *sum && num(*sum, "mismatches") == 0 ? 0 : -1;
}

/* SIGUSR1: the demo checks its whole region again and says how it went. */
static json_t *demo_verify(struct h_proc *p)
{
	if (kill(p->pid, SIGUSR1))
		return NULL;
	return h_proc_json(p, 30000);
}

static int demo_end(struct h_proc *p)
{
	if (kill(p->pid, SIGTERM) || h_proc_wait(p, H_TIMEOUT_MS))
		return -1;
	return p->status;
}

/* The populator fills what the workload never touched: the session completes. */
int t_session_background_complete(const struct t_env *env)
{
	struct h_agent a;
	struct h_proc p;
	char image[256];
	json_t *rs, *sum, *reg, *v;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 16 * MIB));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":0,\"working_set\":\"off\"}");
	CHECK(rs && !strcmp(str(rs, "state"), "WAITING"));
	CHECK_OK(demo_hold(&p, rs, "16M", "hot10", &sum));
	CHECK_OK(h_wait_log(a.log, "msg=\"session complete\"", H_TIMEOUT_MS));
	reg = h_region_of(ctl, str(sum, "region_id"));
	CHECK(reg && num(json_object_get(reg, "pages"), "present") == 4096);
	CHECK(h_stat(reg, "installed", "background") > 0);
	json_decref(reg);
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(v && !strcmp(str(v, "state"), "COMPLETE"));
	CHECK(num(json_object_get(v, "pages"), "present") == 4096);
	json_decref(v);
	v = demo_verify(&p);
	CHECK(v && !strcmp(str(v, "verify"), "ok"));
	json_decref(v);
	CHECK(demo_end(&p) == 0);
	json_decref(sum);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/*
 * region_detach populates every missing page, unregisters, tells the
 * workload; the workload's memory is then complete without any agent.
 */
int t_session_detach_populates(const struct t_env *env)
{
	struct h_agent a;
	struct h_proc p;
	char image[256];
	json_t *rs, *sum, *reg, *v;
	int64_t before;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 16 * MIB));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1}");
	CHECK(rs);
	CHECK_OK(demo_hold(&p, rs, "16M", "hot10", &sum));
	reg = h_region_of(ctl, str(sum, "region_id"));
	CHECK(reg && !strcmp(str(reg, "state"), "ATTACHED"));
	before = num(json_object_get(reg, "pages"), "present");
	CHECK(before > 0 && before < 4096);
	json_decref(reg);
	v = h_call(ctl, PROTO_T_REGION_DETACH, "{s:s}", "id", str(sum, "region_id"));
	CHECK(v && !strcmp(str(v, "state"), "DETACHED"));
	/* the last fault's window may still have been filling behind its page */
	CHECKF(num(v, "populated_pages") > 0 && num(v, "populated_pages") <= 4096 - before,
	       "populated %lld, %lld were present", (long long)num(v, "populated_pages"),
	       (long long)before);
	before = 4096 - num(v, "populated_pages");
	json_decref(v);
	/* a detached region a second time: answered at once */
	v = h_call(ctl, PROTO_T_REGION_DETACH, "{s:s}", "id", str(sum, "region_id"));
	CHECK(v && !strcmp(str(v, "state"), "DETACHED"));
	json_decref(v);
	reg = h_region_of(ctl, str(sum, "region_id"));
	CHECK(reg && h_stat(reg, "installed", "detach") == (uint64_t)(4096 - before));
	CHECK(num(json_object_get(reg, "pages"), "present") == 4096);
	json_decref(reg);
	/* no agent any more: the memory must be whole on its own */
	kill(a.pid, SIGTERM);
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	for (int tries = 0;; tries++) {
		v = demo_verify(&p);
		CHECK(v && !strcmp(str(v, "verify"), "ok"));
		if (num(v, "uffds") == 0)
			break;
		CHECKF(tries < 1000, "the workload still holds its uffd after region_detached");
		json_decref(v);
	}
	json_decref(v);
	CHECK(demo_end(&p) == 0);
	json_decref(sum);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

static int hot10_run(int ctl, json_t *rs, const struct h_agent *a, json_t **reg)
{
	const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", "32M",
				     "--seed", "7", "--pattern", "hot10", NULL };
	json_t *sum;

	if (h_demo_run(args, &sum) || !sum || num(sum, "mismatches"))
		return -1;
	*reg = detached(a, str(sum, "region_id")) ? NULL : h_region_of(ctl, str(sum, "region_id"));
	json_decref(sum);
	return *reg ? 0 : -1;
}

/*
 * The first restore records which pages the workload touched; the next
 * restore of the same image installs them before the workload starts, so
 * nearly all of its demand faults disappear.
 */
int t_session_working_set_replay(const struct t_env *env)
{
	struct h_agent a;
	char image[256];
	json_t *rs, *reg, *v;
	uint64_t faults_rec, faults_rep;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 32 * MIB));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1,\"working_set\":\"auto\"}");
	CHECK(rs && !strcmp(str(json_object_get(rs, "working_set"), "mode"), "record"));
	CHECK_OK(hot10_run(ctl, rs, &a, &reg));
	faults_rec = h_stat(reg, "faults", "missing");
	json_decref(reg);
	CHECK_OK(h_wait_log(a.log, "msg=\"working set recorded\"", H_TIMEOUT_MS));
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(v && num(json_object_get(v, "working_set"), "recorded_pages") > 0);
	CHECK(access(str(json_object_get(v, "working_set"), "file"), R_OK) == 0);
	json_decref(v);
	json_decref(rs);

	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1}");
	CHECK(rs && !strcmp(str(json_object_get(rs, "working_set"), "mode"), "replay"));
	CHECK_OK(hot10_run(ctl, rs, &a, &reg));
	faults_rep = h_stat(reg, "faults", "missing");
	CHECK(h_stat(reg, "installed", "prefetch") > 0);
	json_decref(reg);
	t_logf("demand faults: %llu recording, %llu replaying", (unsigned long long)faults_rec,
	       (unsigned long long)faults_rep);
	CHECKF(faults_rep * 10 <= faults_rec, "replay kept %llu of %llu demand faults",
	       (unsigned long long)faults_rep, (unsigned long long)faults_rec);
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(v && num(json_object_get(v, "working_set"), "replayed_pages") > 0);
	json_decref(v);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/* The image's pages in the page cache now (mincore of a mapping that touches none). */
static uint8_t *in_cache(const char *path, uint64_t *pages)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
	uint8_t *vec = NULL;
	void *m;

	if (size <= 0)
		goto close_fd;
	*pages = ((uint64_t)size + WSET_PAGE - 1) / WSET_PAGE;
	m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto close_fd;
	vec = malloc(*pages);
	if (vec && mincore(m, (size_t)size, vec)) {
		free(vec);
		vec = NULL;
	}
	munmap(m, (size_t)size);
close_fd:
	if (fd >= 0)
		close(fd);
	return vec;
}

/* Written back, then dropped from the page cache: its next reads come from the disk. */
static int drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -1;

	if (fd >= 0 && !fdatasync(fd) && !posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		ret = 0;
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * A replay of a cold image (dropped from the page cache, as after a reboot
 * or on another host) asks the kernel to read the working set ahead of its
 * installs (engine/readahead.h): every recorded run is read ahead, what is
 * in the page cache afterwards is the working set and not the rest of the
 * image, and the workload reads every byte right.
 */
int t_session_cold_replay_reads_ahead(const struct t_env *env)
{
	struct h_agent a;
	char image[256], why[256];
	json_t *rs, *reg, *v;
	struct wset w;
	uint64_t pages, recorded, readahead, replayed, cached = 0, ws_pages = 0, outside = 0;
	uint8_t *vec, *in_ws;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 32 * MIB));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1,\"working_set\":\"record\"}");
	CHECK(rs);
	CHECK_OK(hot10_run(ctl, rs, &a, &reg));
	json_decref(reg);
	CHECK_OK(h_wait_log(a.log, "msg=\"working set recorded\"", H_TIMEOUT_MS));
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(v);
	recorded = (uint64_t)num(json_object_get(v, "working_set"), "recorded_pages");
	CHECKF(!wset_load(str(json_object_get(v, "working_set"), "file"), &w, why, sizeof(why)),
	       "working set: %s", why);
	json_decref(v);
	/* the session lets go of the image, then the image leaves the page cache */
	v = h_call(ctl, PROTO_T_RESTORE_DELETE, "{s:s}", "id", str(rs, "id"));
	CHECK(v);
	json_decref(v);
	json_decref(rs);
	CHECK_OK(drop_cache(image));
	vec = in_cache(image, &pages);
	CHECK(vec);
	for (uint64_t i = 0; i < pages; i++)
		cached += vec[i] & 1;
	free(vec);
	/* a file system that keeps files in memory (tmpfs) cannot show a cold replay */
	CHECKF(cached * 100 <= pages, "%llu of %llu image pages still cached after DONTNEED: "
	       "the test directory must be on a disk", (unsigned long long)cached,
	       (unsigned long long)pages);

	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1}");
	CHECK(rs && !strcmp(str(json_object_get(rs, "working_set"), "mode"), "replay"));
	CHECK_OK(hot10_run(ctl, rs, &a, &reg)); /* every touched byte checked against the image */
	CHECK(h_stat(reg, "installed", "prefetch") > 0);
	json_decref(reg);
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(v);
	readahead = (uint64_t)num(json_object_get(v, "working_set"), "readahead_pages");
	replayed = (uint64_t)num(json_object_get(v, "working_set"), "replayed_pages");
	json_decref(v);
	t_logf("recorded %llu pages, replayed %llu, read ahead %llu", (unsigned long long)recorded,
	       (unsigned long long)replayed, (unsigned long long)readahead);
	/* every run was asked for; gaps of up to 32 KiB between runs may have been read with them */
	CHECKF(readahead >= replayed && readahead >= recorded && readahead <= recorded * 2,
	       "read ahead %llu pages for %llu recorded, %llu replayed", (unsigned long long)readahead,
	       (unsigned long long)recorded, (unsigned long long)replayed);

	/* in the page cache now: the working set, and hardly anything else */
	vec = in_cache(image, &pages);
	in_ws = calloc(pages, 1);
	CHECK(vec && in_ws);
	for (uint64_t i = 0; i < w.n; i++)
		for (uint64_t p = w.runs[i].page; p < w.runs[i].page + w.runs[i].count && p < pages; p++)
			in_ws[p] = 1;
	cached = 0;
	for (uint64_t p = 0; p < pages; p++) {
		ws_pages += in_ws[p];
		cached += in_ws[p] && (vec[p] & 1);
		outside += !in_ws[p] && (vec[p] & 1);
	}
	CHECKF(cached == ws_pages, "%llu of %llu working-set pages in the page cache",
	       (unsigned long long)cached, (unsigned long long)ws_pages);
	CHECKF(outside * 10 <= pages - ws_pages, "%llu image pages outside the working set read too",
	       (unsigned long long)outside);
	free(vec);
	free(in_ws);
	wset_free(&w);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/*
 * kill -9 of the agent while a workload is restoring: the test, acting as
 * supervisor, starts a new agent on the same state directory and sockets;
 * libfaultline reconnects and registers the region again; the faults that
 * waited meanwhile are served from the image, and every byte is right.
 */
int t_session_agent_killed(const struct t_env *env)
{
	struct h_agent a, b;
	struct h_proc p;
	char image[256];
	json_t *rs, *v, *sum, *reg;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 16 * MIB));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1,\"fault_around_pages\":0,"
					  "\"working_set\":\"off\"}");
	CHECK(rs);
	close(ctl);
	{
		const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", "16M",
					     "--seed", "7", "--pattern", "seq", "--pause-after", "1000",
					     NULL };

		CHECK_OK(h_demo(&p, args));
	}
	v = h_proc_json(&p, H_TIMEOUT_MS);
	CHECK(v && num(v, "paused") == 1000);
	json_decref(v);

	CHECK_OK(kill(a.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	/* the workload goes on and faults with no agent: its threads wait */
	CHECK_OK(h_proc_write(&p, "go\n"));
	CHECK_OK(h_agent_spawn(&b, a.dir, a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));

	sum = h_proc_json(&p, 30000);
	CHECK(sum && num(sum, "touched") == 4096);
	CHECKF(num(sum, "mismatches") == 0, "%lld pages wrong after the agent restart",
	       (long long)num(sum, "mismatches"));
	CHECK_OK(h_proc_wait(&p, H_TIMEOUT_MS));
	CHECK(p.status == 0);
	CHECK(h_file_contains(b.log, "msg=\"restore session reopened\""));
	CHECK_OK(detached(&b, str(sum, "region_id")));
	CHECK((ctl = h_ctl_open(&b)) >= 0);
	/* the new agent serves the region under its old id */
	reg = h_region_of(ctl, str(sum, "region_id"));
	CHECK(reg && h_stat(reg, "faults", "missing") > 0);
	/* the 1000 pages the old agent installed are learnt from the pagemap, the rest faulted */
	CHECK(num(json_object_get(reg, "pages"), "present") == 4096);
	json_decref(reg);
	json_decref(sum);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/* restore_create/get/list/delete, NOT_FOUND, CONFLICT, persistence. */
int t_session_commands(const struct t_env *env)
{
	static const char id[] = "0b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77";
	struct h_agent a, b;
	struct h_proc p;
	char image[256];
	json_t *rs, *v, *sum;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 8 * MIB));
	rs = h_call(ctl, PROTO_T_RESTORE_CREATE, "{s:s, s:s, s:s, s:{s:s}, s:i}", "id", id, "image",
		    image, "name", "demo", "labels", "app", "demo", "populate_delay_ms", -1);
	CHECK(rs && !strcmp(str(rs, "id"), id) && !strcmp(str(rs, "name"), "demo"));
	CHECK(!strcmp(str(json_object_get(rs, "labels"), "app"), "demo"));
	CHECK(num(json_object_get(rs, "image"), "size") == 8 * (int64_t)MIB);
	CHECK(num(json_object_get(rs, "options"), "fault_around_pages") == 16);
	CHECK(json_is_null(json_object_get(rs, "error")));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "CONFLICT", "{s:s, s:s}", "id", id, "image",
			      image));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_GET, "NOT_FOUND", "{s:s}", "id",
			      "11111111-2222-4333-8444-555555555555"));
	CHECK_OK(h_call_error(ctl, PROTO_T_REGION_GET, "NOT_FOUND", "{s:s}", "id", id));
	CHECK_OK(h_call_error(ctl, PROTO_T_REGION_DETACH, "BAD_REQUEST", "{s:i}", "id", 5));
	v = h_call(ctl, PROTO_T_RESTORE_LIST, "{}");
	CHECK(v && json_array_size(json_object_get(v, "restores")) == 1);
	json_decref(v);

	/* busy while a region is still being restored */
	CHECK_OK(demo_hold(&p, rs, "8M", "hot10", &sum));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_DELETE, "CONFLICT", "{s:s}", "id", id));
	v = h_call(ctl, PROTO_T_REGION_LIST, "{}");
	CHECK(v && json_array_size(json_object_get(v, "regions")) == 1);
	json_decref(v);
	CHECK(demo_end(&p) == 0);
	CHECK_OK(detached(&a, str(sum, "region_id")));
	json_decref(sum);

	/* persisted: a new agent on the same state directory has it */
	close(ctl);
	kill(a.pid, SIGTERM);
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	CHECK(h_agent_exit_code(&a) == 0);
	CHECK_OK(h_agent_spawn(&b, a.dir, a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));
	CHECK((ctl = h_ctl_open(&b)) >= 0);
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", id);
	CHECK(v && !strcmp(str(v, "socket"), str(rs, "socket")));
	CHECK(!strcmp(str(v, "created_at"), str(rs, "created_at")));
	CHECK(!strcmp(str(v, "state"), "WAITING"));
	json_decref(v);
	v = h_call(ctl, PROTO_T_RESTORE_DELETE, "{s:s}", "id", id);
	CHECK(v && json_object_size(v) == 0);
	json_decref(v);
	CHECK(access(str(rs, "socket"), F_OK) != 0);
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_GET, "NOT_FOUND", "{s:s}", "id", id));
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/* ---- images changed under a restore ----------------------------------- */

/* In this process: a read past the end of a truncated image is no SIGBUS death. */
int t_image_truncated_read_guarded(const struct t_env *env)
{
	char dir[64], path[128], why[256];
	char *dirs[1] = { dir };
	struct image *im;
	uint8_t page[4096];
	int fd;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	memset(page, 0x11, sizeof(page));
	for (int i = 0; i < 16; i++)
		CHECK(write(fd, page, sizeof(page)) == (ssize_t)sizeof(page));
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_OK);
	CHECK(!image_zero(im, 8192, 4096) && !image_changed(im, true));
	CHECK_OK(ftruncate(fd, 4096));
	/* twice: the guard must work again after the first jump out of the handler */
	CHECK(!image_zero(im, 8192, 4096));
	CHECK(image_changed(im, false));
	CHECK(strstr(image_change_why(im), "truncated"));
	CHECK(!image_zero(im, 12288, 4096));
	image_put(im);
	close(fd);
	return T_PASS;
}

/*
 * A running restore whose image is truncated fails with the reason; the
 * agent lives on and another session restores every page right.
 */
int t_session_image_truncated(const struct t_env *env)
{
	struct h_agent a;
	struct h_proc p, q;
	char image[256], other[256];
	json_t *rs, *rs2, *v, *sum;
	int ctl;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 16 * MIB));
	CHECK_OK(h_image(&a, "other.mem", 16 * MIB, 7, other, sizeof(other)));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1,\"fault_around_pages\":0,"
					  "\"working_set\":\"off\"}");
	CHECK(rs);
	{
		const char *const args[] = { "restore", "--socket", str(rs, "socket"), "--size", "16M",
					     "--seed", "7", "--pattern", "seq", "--pause-after", "1000",
					     NULL };

		CHECK_OK(h_demo(&p, args));
	}
	v = h_proc_json(&p, H_TIMEOUT_MS);
	CHECK(v && num(v, "paused") == 1000);
	json_decref(v);
	CHECK_OK(truncate(image, 1 * MIB));
	CHECK_OK(h_proc_write(&p, "go\n"));
	CHECK_OK(h_wait_log(a.log, "restore image changed under a running restore", H_TIMEOUT_MS));
	for (int i = 0; i < 500; i++) {
		v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
		if (v && !strcmp(str(v, "state"), "FAILED"))
			break;
		json_decref(v);
		v = NULL;
		usleep(10000);
	}
	CHECKF(v, "the session did not fail");
	CHECKF(strstr(str(v, "error"), "image changed under the restore"), "error: %s", str(v, "error"));
	json_decref(v);
	/* its workload's faults were not answered with bytes of another file */
	CHECK_OK(kill(p.pid, SIGKILL));
	h_proc_wait(&p, H_TIMEOUT_MS);
	/* the agent is alive and serves another session in full */
	CHECK_OK(kill(a.pid, 0));
	rs2 = h_restore_create(ctl, other, "{\"populate_delay_ms\":-1,\"working_set\":\"off\"}");
	CHECK(rs2);
	{
		const char *const args[] = { "restore", "--socket", str(rs2, "socket"), "--size", "16M",
					     "--seed", "7", "--pattern", "random", NULL };

		CHECK_OK(h_demo(&q, args));
	}
	sum = h_proc_json(&q, 30000);
	CHECK(sum && num(sum, "touched") == 4096 && num(sum, "mismatches") == 0);
	json_decref(sum);
	CHECK_OK(h_proc_wait(&q, H_TIMEOUT_MS));
	CHECK(q.status == 0);
	json_decref(rs);
	json_decref(rs2);
	close(ctl);
	return T_PASS;
}

/* A session whose image was rewritten while the agent was down is reopened failed. */
int t_session_image_changed_while_down(const struct t_env *env)
{
	struct h_agent a, b;
	char image[256];
	json_t *rs, *v;
	uint8_t junk[4096];
	int ctl, fd;

	(void)env;
	CHECK_OK(start(&a, &ctl, image, sizeof(image), 4 * MIB));
	rs = h_restore_create(ctl, image, "{\"populate_delay_ms\":-1}");
	CHECK(rs);
	close(ctl);
	CHECK_OK(kill(a.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&a, H_TIMEOUT_MS));
	/* same size, other bytes: only the identity recorded with the session tells */
	usleep(20000); /* a later mtime than the image's creation, on coarse clocks too */
	fd = open(image, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	memset(junk, 0xEE, sizeof(junk));
	CHECK(pwrite(fd, junk, sizeof(junk), 4096) == (ssize_t)sizeof(junk));
	close(fd);
	CHECK_OK(h_agent_spawn(&b, a.dir, a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));
	CHECK((ctl = h_ctl_open(&b)) >= 0);
	v = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
	CHECK(v && !strcmp(str(v, "state"), "FAILED"));
	CHECKF(strstr(str(v, "error"), "changed while the agent was down"), "error: %s", str(v, "error"));
	json_decref(v);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}
