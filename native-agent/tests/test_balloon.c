/*
 * Pages removed (MADV_DONTNEED, a balloon inflating) at any moment of a
 * region's life read zero at once: before, during and long after its restore
 * session reached COMPLETE.  Every read runs in a thread the test waits for
 * with a deadline, so a fault the agent never resolves is a failure, not a
 * hung test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "content.h"
#include "faultline.h"
#include "hwork.h"
#include "test.h"
#include "uffd.h"
#include "uffd_compat.h"

#define MIB (UINT64_C(1) << 20)
#define SEED 11

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- Firecracker's handshake, done by the test as Firecracker does it ---- */

static int fc_uffd(void *mem, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	enum uffd_source src;
	bool umo;
	int fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &src, &umo, NULL, 0);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		printf("    uffd: %s\n", strerror(errno));
		return -1;
	}
	return fd;
}

/* Firecracker's message: the guest memory regions as JSON, the uffd as SCM_RIGHTS. */
static int fc_send(int sock, const char *msg, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* ---- guests: how restored memory is handed over ------------------------ */

enum guest_kind {
	G_FIRECRACKER, /* Firecracker's handshake: JSON + uffd (EVENT_REMOVE only) */
	G_LIB,         /* libfaultline, missing mode */
	G_LIB_WP,      /* libfaultline, missing + write-protect: track and hold uffds */
};

struct guest {
	int sock, uffd;
	uint8_t *mem;
	size_t len;
	fl_client *c;
	fl_region *r;
};

static int guest_start(struct guest *g, enum guest_kind kind, const char *sock, size_t len)
{
	char msg[256];

	memset(g, 0, sizeof(*g));
	g->sock = g->uffd = -1;
	g->len = len;
	g->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED)
		return -1;
	if (kind != G_FIRECRACKER) {
		g->c = fl_connect(sock);
		if (!g->c || fl_region_register(g->c, g->mem, len, "guest", NULL,
						kind == G_LIB ? FL_MODE_MISSING
							      : FL_MODE_MISSING | FL_MODE_WP, &g->r)) {
			printf("    register: %s\n", fl_last_error());
			return -1;
		}
		return 0;
	}
	g->uffd = fc_uffd(g->mem, len);
	if (g->uffd < 0 || (g->sock = h_connect(sock)) < 0)
		return -1;
	snprintf(msg, sizeof(msg),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":0,\"page_size\":4096,"
		 "\"page_size_kib\":4096}]",
		 (unsigned long long)(uintptr_t)g->mem, len);
	return fc_send(g->sock, msg, g->uffd);
}

static void guest_stop(struct guest *g)
{
	if (g->r)
		fl_region_unregister(g->r);
	if (g->c)
		fl_disconnect(g->c);
	if (g->sock >= 0)
		close(g->sock);
	if (g->uffd >= 0)
		close(g->uffd);
}

/* ---- sources: what is restored ------------------------------------------ */

enum source_kind {
	S_IMAGE,    /* restore_create from a raw image */
	S_SNAPSHOT, /* snapshot_restore of a snapshot the agent took */
};

/* The pages a snapshot is taken of: every 8th zero, the rest numbered. */
static void snap_fill(uint8_t *mem, uint64_t pages)
{
	for (uint64_t p = 0; p < pages; p++) {
		if (p % 8 == 7)
			continue;
		for (size_t i = 0; i < CONTENT_PAGE; i += 8) {
			uint64_t v = (p << 32) ^ i ^ UINT64_C(0x5151000000000000);

			memcpy(mem + p * CONTENT_PAGE + i, &v, 8);
		}
	}
}

/*
 * A restore session over `len` bytes whose content is put in expect: an
 * image, or a snapshot the agent takes of an anonymous region first.
 */
static json_t *source_start(enum source_kind kind, struct h_agent *a, int ctl, size_t len,
			    uint8_t *expect)
{
	static const char snap_id[] = "ba11005e-0000-4000-8000-000000000001";
	const char *opts = "{\"name\":\"guest\",\"populate_delay_ms\":-1}";
	char image[256], handoff[256];
	uint8_t *mem;
	fl_client *c;
	fl_region *r;
	json_t *v;

	if (kind == S_IMAGE) {
		if (h_image(a, "guest.mem", len, SEED, image, sizeof(image)))
			return NULL;
		for (uint64_t p = 0; p < len / CONTENT_PAGE; p++)
			content_page(SEED, p, expect + p * CONTENT_PAGE);
		return h_restore_create(ctl, image, opts);
	}
	snprintf(handoff, sizeof(handoff), "%s/handoff.sock", a->state);
	snprintf(image, sizeof(image), "%s/snapshots/guest.flsnap", a->state);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	snap_fill(mem, len / CONTENT_PAGE);
	memcpy(expect, mem, len);
	c = fl_connect(handoff);
	if (!c || fl_region_register(c, mem, len, "origin", NULL, FL_MODE_WP, &r)) {
		printf("    register the origin: %s\n", fl_last_error());
		return NULL;
	}
	v = h_call(ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s, s:s}", "snapshot_id", snap_id,
		   "region_id", fl_region_id(r), "path", image, "kind", "full");
	fl_region_unregister(r);
	fl_disconnect(c);
	munmap(mem, len);
	if (!v) {
		printf("    snapshot_take failed\n");
		return NULL;
	}
	json_decref(v);
	return h_call(ctl, PROTO_T_SNAPSHOT_RESTORE, "{s:[s], s:s, s:I}", "chain", image, "name",
		      "guest", "populate_delay_ms", (json_int_t)-1);
}

/* ---- the cases ---------------------------------------------------------- */

enum balloon_when {
	BW_ACTIVE,   /* pages touched, session still ACTIVE */
	BW_COMPLETE, /* session COMPLETE (every page present) */
	BW_SNAPSHOT, /* COMPLETE, then a snapshot taken: clean pages are write-protected */
};

struct balloon_case {
	const char *name;
	enum source_kind source;
	enum guest_kind guest;
	enum balloon_when when;
};

/*
 * The guest reads all its memory, then (its session COMPLETE or not) a
 * balloon takes part of it: those pages read zero at once, the rest still
 * reads the restored content, a page written after the removal keeps what
 * was written, and a second removal of the same pages reads zero again.
 */
static int balloon_one(const struct balloon_case *bc)
{
	const size_t len = 4 * MIB;
	const uint64_t pages = len / CONTENT_PAGE, first = 100, n = 300;
	uint8_t *buf = malloc(len), *expect = malloc(len);
	struct h_agent a;
	struct guest g;
	json_t *rs, *r;
	int ctl;

	CHECK(buf && expect);
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	rs = source_start(bc->source, &a, ctl, len, expect);
	CHECKF(rs && json_is_string(json_object_get(rs, "socket")), "%s: no restore session", bc->name);
	CHECK_OK(guest_start(&g, bc->guest, str(rs, "socket"), len));
	CHECKF(h_read_bounded(g.mem, len, buf) == 0, "%s: reading the restored memory hangs", bc->name);
	CHECKF(!memcmp(buf, expect, len), "%s: restored memory differs", bc->name);
	if (bc->when != BW_ACTIVE) {
		CHECK_OK(h_wait_log(a.log, "msg=\"session complete\"", H_TIMEOUT_MS));
		r = h_call(ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(rs, "id"));
		CHECK(r && !strcmp(str(r, "state"), "COMPLETE"));
		json_decref(r);
	}
	if (bc->when == BW_SNAPSHOT) {
		char path[300];

		/*
		 * Pages removed and not touched again are write-protected by the
		 * snapshot while they have no page (uffd-wp markers, WP_UNPOPULATED):
		 * the capture must not read them through the workload (a fault only
		 * its own worker resolves), and they read zero afterwards.
		 */
		CHECK_OK(madvise(g.mem + first * CONTENT_PAGE, n * CONTENT_PAGE, MADV_DONTNEED));
		snprintf(path, sizeof(path), "%s/snapshots/guest.flsnap", a.state);
		r = h_call(ctl, PROTO_T_SNAPSHOT_TAKE, "{s:s, s:s, s:s, s:s}", "snapshot_id",
			   "ba11005e-0000-4000-8000-000000000002", "region_id", fl_region_id(g.r), "path",
			   path, "kind", "full");
		CHECKF(r, "%s: snapshot_take failed", bc->name);
		json_decref(r);
	}
	for (int round = 0; round < 2; round++) {
		CHECK_OK(madvise(g.mem + first * CONTENT_PAGE, n * CONTENT_PAGE, MADV_DONTNEED));
		memset(expect + first * CONTENT_PAGE, 0, n * CONTENT_PAGE);
		CHECKF(h_read_bounded(g.mem, len, buf) == 0,
		       "%s: a read after the balloon took pages hangs (round %d)", bc->name, round);
		for (uint64_t p = 0; p < pages; p++)
			CHECKF(!memcmp(buf + p * CONTENT_PAGE, expect + p * CONTENT_PAGE, CONTENT_PAGE),
			       "%s: page %llu differs after the balloon (round %d, removed: %s)", bc->name,
			       (unsigned long long)p, round, p >= first && p < first + n ? "yes" : "no");
		g.mem[first * CONTENT_PAGE] = 0x5a;
		CHECK(g.mem[first * CONTENT_PAGE] == 0x5a);
	}
	guest_stop(&g);
	json_decref(rs);
	close(ctl);
	free(buf);
	free(expect);
	return T_PASS;
}

static const struct balloon_case cases[] = {
	{ "firecracker_active", S_IMAGE, G_FIRECRACKER, BW_ACTIVE },
	{ "firecracker_complete", S_IMAGE, G_FIRECRACKER, BW_COMPLETE },
	{ "firecracker_snapshot_complete", S_SNAPSHOT, G_FIRECRACKER, BW_COMPLETE },
	{ "lib_complete", S_IMAGE, G_LIB, BW_COMPLETE },
	{ "lib_wp_active", S_IMAGE, G_LIB_WP, BW_ACTIVE },
	{ "lib_wp_complete", S_IMAGE, G_LIB_WP, BW_COMPLETE },
	{ "lib_snapshot_complete", S_SNAPSHOT, G_LIB, BW_COMPLETE },
	{ "lib_wp_after_snapshot", S_IMAGE, G_LIB_WP, BW_SNAPSHOT },
};

/* Each case in its own process: a hung read leaves a thread stuck in a fault. */
static int run_named(const char *name)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strcmp(cases[i].name, name))
			return balloon_one(&cases[i]);
	}
	return T_FAIL;
}

int t_balloon_fc_active(const struct t_env *env)
{
	(void)env;
	return run_named("firecracker_active");
}

int t_balloon_fc_complete(const struct t_env *env)
{
	(void)env;
	return run_named("firecracker_complete");
}

int t_balloon_fc_snapshot_complete(const struct t_env *env)
{
	(void)env;
	return run_named("firecracker_snapshot_complete");
}

int t_balloon_lib_complete(const struct t_env *env)
{
	(void)env;
	return run_named("lib_complete");
}

int t_balloon_lib_wp_active(const struct t_env *env)
{
	(void)env;
	return run_named("lib_wp_active");
}

int t_balloon_lib_wp_complete(const struct t_env *env)
{
	(void)env;
	return run_named("lib_wp_complete");
}

int t_balloon_lib_snapshot_complete(const struct t_env *env)
{
	(void)env;
	return run_named("lib_snapshot_complete");
}

/* ---- an install racing the zap of a removal ----------------------------- */

/*
 * The kernel sends UFFD_EVENT_REMOVE before it zaps the range, and lets
 * installs into the range through again as soon as the agent has read the
 * event: an install in between (the background populator, a fault-around
 * window) meets the old page (EEXIST) or puts a page there that the zap then
 * takes away.  The agent must not keep believing such a page is present: a
 * missing fault on it has to install it again, not just wake the thread
 * (which faults again, for ever).  h_remove_late() widens the window.
 */
int t_balloon_racing_install(const struct t_env *env)
{
	static const char *const extra[] = { "--spin-us", "0", "--populate-chunk-pages", "16", NULL };
	const size_t len = 8 * MIB;
	const uint64_t pages = len / CONTENT_PAGE;
	uint8_t *buf = malloc(len), *expect = malloc(len);
	struct h_agent a;
	struct guest g;
	json_t *rs;
	int ctl;

	(void)env;
	CHECK(buf && expect);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return t_skip("the race needs a second CPU for the agent");
	CHECK_OK(h_agent_start(&a, extra));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "guest.mem", len, SEED, (char *)buf, 256));
	/* the populator runs at once and whenever pages are missing */
	rs = h_restore_create(ctl, (char *)buf, "{\"name\":\"guest\",\"populate_delay_ms\":0}");
	CHECK(rs);
	for (uint64_t p = 0; p < pages; p++)
		content_page(SEED, p, expect + p * CONTENT_PAGE);
	CHECK_OK(guest_start(&g, G_FIRECRACKER, str(rs, "socket"), len));
	CHECKF(h_read_bounded(g.mem, len, buf) == 0, "reading the restored memory hangs");
	CHECK(!memcmp(buf, expect, len));
	CHECK_OK(h_wait_log(a.log, "msg=\"session complete\"", H_TIMEOUT_MS));
	for (unsigned round = 0; round < 24; round++) {
		/* ranges of different sizes and places, each removed while the last ones refill */
		uint64_t first = (round * 97) % (pages / 2), n = 64 + (round * 211) % (pages / 2);
		CHECK_OK(h_remove_late(g.mem + first * CONTENT_PAGE, n * CONTENT_PAGE));
		memset(expect + first * CONTENT_PAGE, 0, n * CONTENT_PAGE);
		CHECKF(h_read_bounded(g.mem, len, buf) == 0,
		       "round %u: a read after removing pages %llu..%llu hangs", round,
		       (unsigned long long)first, (unsigned long long)(first + n - 1));
		for (uint64_t p = 0; p < pages; p++)
			CHECKF(!memcmp(buf + p * CONTENT_PAGE, expect + p * CONTENT_PAGE, CONTENT_PAGE),
			       "round %u: page %llu differs", round, (unsigned long long)p);
	}
	guest_stop(&g);
	json_decref(rs);
	close(ctl);
	free(buf);
	free(expect);
	return T_PASS;
}

int t_balloon_lib_wp_snapshot(const struct t_env *env)
{
	(void)env;
	return run_named("lib_wp_after_snapshot");
}
