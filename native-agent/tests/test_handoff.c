/*
 * Handoff sockets: Firecracker's handshake exactly as Firecracker sends it,
 * balloon-style removal, the general (anonymous) socket, and every way a
 * handoff can be wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "content.h"
#include "faultline.h"
#include "fdstore.h"
#include "flwire.h"
#include "harness.h"
#include "hfc.h"
#include "hwork.h"
#include "test.h"
#include "uffd.h"
#include "uffd_compat.h"

#define MIB H_FC_MIB
#define SEED H_FC_SEED

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* Guest memory reads the image, page by page, from both regions. */
int t_handoff_firecracker(const struct t_env *env)
{
	struct h_fc vm;
	json_t *regs, *r;
	size_t i;

	(void)env;
	CHECK_OK(h_fc_start(&vm));
	for (uint64_t p = 0; p < 4096; p += 3) {
		size_t bad = content_check(SEED, p, vm.mem[0] + p * CONTENT_PAGE);

		CHECKF(!bad, "guest page %llu differs at %zu", (unsigned long long)p, bad - 1);
	}
	CHECK_OK(h_wait_log(vm.a.log, "Firecracker handshake accepted", H_TIMEOUT_MS));
	regs = h_call(vm.ctl, PROTO_T_REGION_LIST, "{}");
	CHECK(regs && json_array_size(json_object_get(regs, "regions")) == 2);
	json_array_foreach(json_object_get(regs, "regions"), i, r) {
		CHECK(!strcmp(str(r, "source"), "firecracker"));
		CHECK(!strcmp(str(r, "name"), "fc-0") || !strcmp(str(r, "name"), "fc-1"));
		CHECK(json_integer_value(json_object_get(json_object_get(r, "owner"), "pid")) == getpid());
	}
	json_decref(regs);
	/* every fault-around window of both regions was touched */
	CHECK_OK(h_wait_log(vm.a.log, "msg=\"session complete\"", H_TIMEOUT_MS));
	r = h_call(vm.ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(vm.rs, "id"));
	CHECK(r && !strcmp(str(r, "state"), "COMPLETE") && !strcmp(str(r, "source"), "firecracker"));
	json_decref(r);
	h_fc_stop(&vm);
	return T_PASS;
}

/*
 * Balloon inflation: MADV_DONTNEED on guest memory (restored pages and
 * pages never touched) raises UFFD_EVENT_REMOVE; every page of the range
 * then reads zero, never the image bytes again.
 */
int t_handoff_balloon_remove(const struct t_env *env)
{
	const uint64_t first = 64, n = 256;
	struct h_fc vm;
	json_t *regs, *r;
	uint64_t removes = 0;
	size_t i;

	(void)env;
	CHECK_OK(h_fc_start(&vm));
	for (uint64_t p = first; p < first + n / 2; p++)
		CHECK(content_check(SEED, p, vm.mem[0] + p * CONTENT_PAGE) == 0);
	CHECK_OK(madvise(vm.mem[0] + first * CONTENT_PAGE, n * CONTENT_PAGE, MADV_DONTNEED));
	for (uint64_t p = first; p < first + n; p++)
		CHECKF(h_zero_page(vm.mem[0] + p * CONTENT_PAGE), "page %llu after removal is not zero",
		       (unsigned long long)p);
	/* outside the removed range the image is still served */
	CHECK(content_check(SEED, first + n, vm.mem[0] + (first + n) * CONTENT_PAGE) == 0);
	/* a removed page written by the guest keeps what it wrote */
	vm.mem[0][first * CONTENT_PAGE] = 0x5a;
	CHECK(vm.mem[0][first * CONTENT_PAGE] == 0x5a);
	regs = h_call(vm.ctl, PROTO_T_REGION_LIST, "{}");
	CHECK(regs);
	json_array_foreach(json_object_get(regs, "regions"), i, r)
		removes += h_stat(r, "events", "remove");
	CHECK(removes == 1);
	json_decref(regs);
	h_fc_stop(&vm);
	return T_PASS;
}

static char *region_ids(int ctl)
{
	json_t *regs = h_call(ctl, PROTO_T_REGION_LIST, "{}"), *r;
	char *out = calloc(1, 2 * 40 + 2);
	size_t i;

	if (!regs || !out) {
		json_decref(regs);
		free(out);
		return NULL;
	}
	json_array_foreach(json_object_get(regs, "regions"), i, r) {
		if (!strcmp(str(r, "state"), "DETACHED"))
			continue;
		/* regions are listed in the table's order; sort the two names */
		if (!strcmp(str(r, "name"), "fc-0"))
			memcpy(out, str(r, "id"), strlen(str(r, "id")));
		else if (!strcmp(str(r, "name"), "fc-1"))
			memcpy(out + 41, str(r, "id"), strlen(str(r, "id")));
	}
	out[40] = ' ';
	json_decref(regs);
	return out;
}

/*
 * kill -9 of the agent while a Firecracker guest restores, and again after
 * its restore is COMPLETE: Firecracker never hands its uffd over again, so
 * the restarted agent must take it back from the descriptor keeper.  Every
 * guest page reads the image's bytes, no read blocks, the regions keep
 * their ids, pages ballooned before a kill read zeros after it (the
 * REMOVE event went with the dead agent), and a balloon after the restarts
 * reads zeros too.
 */
int t_handoff_firecracker_agent_killed(const struct t_env *env)
{
	const uint64_t pages = 2 * 2048; /* both 8 MiB regions */
	struct h_agent b, c;
	struct h_fc vm;
	char *ids_before, *ids_after;
	json_t *r;

	(void)env;
	CHECK_OK(h_fc_start(&vm));
	CHECK_OK(h_touch_image(vm.mem[0], 0, 300, H_TIMEOUT_MS));
	CHECK_OK(h_wait_log(vm.a.log, "uffd kept across agent restarts", H_TIMEOUT_MS));
	CHECK((ids_before = region_ids(vm.ctl)) != NULL);
	close(vm.ctl);
	/* guest memory of region 0 ballooned before the kill: some of it restored, some not */
	CHECK_OK(madvise(vm.mem[0] + 200 * CONTENT_PAGE, 200 * CONTENT_PAGE, MADV_DONTNEED));
	/* the agent recorded it (the log line follows the record) before it is killed */
	CHECK_OK(h_wait_log(vm.a.log, "msg=\"pages removed\"", H_TIMEOUT_MS));

	/* 1: mid-restore */
	CHECK_OK(kill(vm.a.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&vm.a, H_TIMEOUT_MS));
	CHECK_OK(h_agent_spawn(&b, vm.a.dir, vm.a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));
	CHECK(h_file_contains(b.log, "msg=\"kept uffd served again\""));
	CHECK_OK(h_touch_image(vm.mem[0], 0, 200, H_TIMEOUT_MS));
	CHECK_OK(h_touch(vm.mem[0], 200, 200, true, H_TIMEOUT_MS));
	CHECK_OK(h_touch_image(vm.mem[0], 400, pages - 400, H_TIMEOUT_MS));
	CHECK((vm.ctl = h_ctl_open(&b)) >= 0);
	ids_after = region_ids(vm.ctl);
	CHECKF(ids_after && !strcmp(ids_before, ids_after), "region ids changed: %s -> %s",
	       ids_before, ids_after ? ids_after : "?");
	free(ids_after);
	CHECK_OK(h_wait_log(b.log, "msg=\"session complete\"", H_TIMEOUT_MS));
	close(vm.ctl);

	/* 2: after COMPLETE, then a balloon */
	CHECK_OK(kill(b.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&b, H_TIMEOUT_MS));
	CHECK_OK(h_agent_spawn(&c, vm.a.dir, vm.a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&c, H_TIMEOUT_MS));
	CHECK_OK(h_touch_image(vm.mem[0], 0, 200, H_TIMEOUT_MS));
	CHECK_OK(h_touch_image(vm.mem[0], 400, pages - 400, H_TIMEOUT_MS));
	CHECK_OK(madvise(vm.mem[1], 64 * CONTENT_PAGE, MADV_DONTNEED));
	for (uint64_t p = 0; p < 64; p++)
		CHECKF(h_zero_page(vm.mem[1] + p * CONTENT_PAGE), "ballooned page %llu is not zero",
		       (unsigned long long)p);
	CHECK((vm.ctl = h_ctl_open(&c)) >= 0);
	ids_after = region_ids(vm.ctl);
	CHECK(ids_after && !strcmp(ids_before, ids_after));
	free(ids_after);
	r = h_call(vm.ctl, PROTO_T_RESTORE_GET, "{s:s}", "id", str(vm.rs, "id"));
	CHECK(r && !strcmp(str(r, "source"), "firecracker"));
	json_decref(r);
	free(ids_before);
	h_fc_stop(&vm);
	return T_PASS;
}

/* The keeper process serving state_dir (its command line names its socket), or -1. */
static pid_t keeper_of(const char *state_dir)
{
	char want[256], path[64], cmd[512];
	struct dirent *de;
	pid_t found = -1;
	DIR *d = opendir("/proc");

	snprintf(want, sizeof(want), "%s/fdkeeper.sock", state_dir);
	while (d && (de = readdir(d)) && found < 0) {
		ssize_t n;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		/* argv[0] NUL "--fd-keeper" NUL socket NUL ready-fd */
		if (!strcmp(cmd + strlen(cmd) + 1, "--fd-keeper") &&
		    !strcmp(cmd + strlen(cmd) + 1 + strlen("--fd-keeper") + 1, want))
			found = (pid_t)atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * The self-check of the test above: with the keeper killed too, the guest
 * hangs after the agent restarts, which h_touch_image() must report.  (The
 * test then closes its own copy of the uffd, the last one: the kernel
 * unregisters the range and the blocked read goes on with zero pages.)
 */
int t_handoff_firecracker_no_keeper_hangs(const struct t_env *env)
{
	struct h_agent b;
	struct h_fc vm;
	pid_t keeper;

	(void)env;
	CHECK_OK(h_fc_start(&vm));
	CHECK_OK(h_touch_image(vm.mem[0], 0, 16, H_TIMEOUT_MS));
	CHECK_OK(h_wait_log(vm.a.log, "uffd kept across agent restarts", H_TIMEOUT_MS));
	CHECK((keeper = keeper_of(vm.a.state)) > 0);
	CHECK_OK(kill(keeper, SIGKILL));
	CHECK_OK(kill(vm.a.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&vm.a, H_TIMEOUT_MS));
	CHECK_OK(h_agent_spawn(&b, vm.a.dir, vm.a.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));
	CHECK(!h_file_contains(b.log, "msg=\"kept uffd served again\""));
	CHECKF(h_touch_image(vm.mem[1], 1024, 1, 1000) != 0,
	       "a guest read went on with neither agent nor keeper holding its uffd");
	close(vm.uffd);
	vm.uffd = -1;
	close(vm.sock);
	vm.sock = -1;
	h_fc_stop(&vm);
	return T_PASS;
}

/* A reply of the keeper to one command (no descriptor expected). */
static int keeper_says(int sock, const char *cmd, int fd, const char *prefix)
{
	char buf[FDSTORE_MSG_MAX];
	int rfd;

	if (fdstore_send(sock, cmd, fd) || fdstore_recv(sock, buf, sizeof(buf), &rfd) < 0) {
		printf("    keeper: no answer to \"%s\"\n", cmd);
		return -1;
	}
	if (rfd >= 0)
		close(rfd);
	if (strncmp(buf, prefix, strlen(prefix))) {
		printf("    keeper: \"%s\" answered \"%s\", expected \"%s...\"\n", cmd, buf, prefix);
		return -1;
	}
	return 0;
}

/*
 * The keeper's socket refuses every malformed command with an "err" reply,
 * loses nothing it keeps, and a second client does not disturb the agent's.
 */
int t_handoff_keeper_bad_input(const struct t_env *env)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char big[FDSTORE_MSG_MAX * 2], buf[FDSTORE_MSG_MAX];
	int k, pipefd[2], fd, listed = 0;
	struct h_fc vm;

	(void)env;
	CHECK_OK(h_fc_start(&vm));
	CHECK_OK(h_touch_image(vm.mem[0], 0, 16, H_TIMEOUT_MS));
	CHECK_OK(h_wait_log(vm.a.log, "uffd kept across agent restarts", H_TIMEOUT_MS));
	CHECK(strlen(vm.a.state) + sizeof("/fdkeeper.sock") <= sizeof(sa.sun_path));
	memcpy(sa.sun_path, vm.a.state, strlen(vm.a.state));
	strcat(sa.sun_path, "/fdkeeper.sock");
	CHECK((k = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) >= 0);
	CHECK_OK(connect(k, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_OK(pipe(pipefd));
	CHECK_OK(keeper_says(k, "hello", -1, "err"));
	CHECK_OK(keeper_says(k, "put ../escape 1", pipefd[0], "err"));
	CHECK_OK(keeper_says(k, "put name notapid", pipefd[0], "err"));
	CHECK_OK(keeper_says(k, "put name 1", -1, "err"));              /* no descriptor */
	CHECK_OK(keeper_says(k, "put name 2147483647", pipefd[0], "err")); /* no such process */
	CHECK_OK(keeper_says(k, "del a/b", -1, "err"));
	CHECK_OK(keeper_says(k, "del never-kept", -1, "ok"));
	/* an oversized message ends that client's connection, nothing else */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_OK(fdstore_send(k, big, -1));
	CHECK(fdstore_recv(k, buf, sizeof(buf), &fd) < 0);
	close(k);
	/* what the agent kept is still there, and the agent still talks to the keeper */
	CHECK((k = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) >= 0);
	CHECK_OK(connect(k, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_OK(fdstore_send(k, "list", -1));
	for (;;) {
		CHECK(fdstore_recv(k, buf, sizeof(buf), &fd) >= 0);
		if (fd >= 0)
			close(fd);
		if (!strcmp(buf, "end"))
			break;
		listed += !strncmp(buf, "fd fc-", 6);
	}
	CHECK(listed == 1);
	close(k);
	close(pipefd[0]);
	close(pipefd[1]);
	CHECK_OK(madvise(vm.mem[0], 16 * CONTENT_PAGE, MADV_DONTNEED));
	CHECK_OK(h_touch_image(vm.mem[0], 16, 16, H_TIMEOUT_MS));
	h_fc_stop(&vm);
	return T_PASS;
}

/* Waits for the agent's "FDSTORE=1" datagram, as systemd receives it: its name and descriptor. */
static int systemd_stored(struct h_agent *a, char *name, size_t name_len, int *fd)
{
	for (int tries = 0; tries < 16; tries++) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctrl;
		char buf[512];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
				     .msg_controllen = sizeof(ctrl.buf) };
		struct pollfd pfd = { .fd = a->notify_fd, .events = POLLIN };
		struct cmsghdr *cm;
		const char *n;
		ssize_t got;

		if (poll(&pfd, 1, H_TIMEOUT_MS) != 1)
			return -1;
		got = recvmsg(a->notify_fd, &mh, MSG_CMSG_CLOEXEC);
		if (got <= 0)
			return -1;
		buf[got] = '\0';
		*fd = -1;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				memcpy(fd, CMSG_DATA(cm), sizeof(int));
		if (!strstr(buf, "FDSTORE=1") || *fd < 0 || !(n = strstr(buf, "FDNAME="))) {
			if (*fd >= 0)
				close(*fd);
			continue; /* READY=1, FDSTOREREMOVE=1, ... */
		}
		n += strlen("FDNAME=");
		snprintf(name, name_len, "%.*s", (int)strcspn(n, "\n"), n);
		return 0;
	}
	return -1;
}

/*
 * The agent as a systemd unit (--fd-store systemd): the uffd goes to
 * systemd's descriptor store over $NOTIFY_SOCKET and comes back as
 * LISTEN_FDS after kill -9; the test plays systemd.
 */
int t_handoff_firecracker_systemd_store(const struct t_env *env)
{
	static const char *const args[] = { "--fd-store", "systemd", NULL };
	const uint64_t pages = 2 * 2048;
	char name[128];
	struct h_agent b;
	struct h_fc vm;
	int kept;

	(void)env;
	CHECK_OK(h_fc_start_with(&vm, args, NULL));
	CHECK_OK(h_touch_image(vm.mem[0], 0, 100, H_TIMEOUT_MS));
	CHECK_OK(systemd_stored(&vm.a, name, sizeof(name), &kept));
	CHECK(!strncmp(name, "fc-", 3));
	CHECK_OK(kill(vm.a.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&vm.a, H_TIMEOUT_MS));
	CHECK_OK(h_agent_spawn_fds(&b, vm.a.dir, vm.a.sock, args, &kept, name, 1));
	CHECK_OK(h_agent_wait_ready(&b, H_TIMEOUT_MS));
	close(kept);
	CHECK(h_file_contains(b.log, "msg=\"kept uffd served again\""));
	CHECK_OK(h_touch_image(vm.mem[0], 0, pages, H_TIMEOUT_MS));
	h_fc_stop(&vm);
	return T_PASS;
}

/* The general socket: anonymous memory, zero pages on first touch. */
int t_handoff_anonymous(const struct t_env *env)
{
	struct h_agent a;
	char sock[192];
	json_t *sum, *reg;
	int ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	snprintf(sock, sizeof(sock), "%s/handoff.sock", a.state);
	{
		const char *const args[] = { "anon", "--socket", sock, "--size", "8M", NULL };

		CHECK(h_demo_run(args, &sum) == 0);
	}
	CHECK(sum && json_integer_value(json_object_get(sum, "mismatches")) == 0);
	reg = h_call(ctl, PROTO_T_REGION_GET, "{s:s}", "id", str(sum, "region_id"));
	CHECK(reg && !strcmp(str(json_object_get(reg, "backing"), "kind"), "anonymous"));
	CHECK(h_stat(reg, NULL, "zero_pages") > 0);
	json_decref(reg);
	json_decref(sum);
	close(ctl);
	return T_PASS;
}

static int hello_on(const char *sock)
{
	int fd = h_connect(sock);

	if (fd < 0)
		return -1;
	if (h_send_frame(fd, PROTO_T_HELLO, 0, 1, "{\"client\":\"test\"}")) {
		close(fd);
		return -1;
	}
	json_decref(h_expect_reply(fd, PROTO_T_HELLO, 1));
	return fd;
}

static int register_with(int sock, uint64_t id, const char *json, int fd)
{
	uint8_t frame[1024];
	size_t len = h_frame(frame, PROTO_T_REGION_REGISTER, 0, id, json);

	return h_send_fd(sock, frame, len, fd);
}

/* Every refusal is an error frame with a stable code; the socket serves on. */
int t_handoff_errors(const struct t_env *env)
{
	struct h_agent a;
	char image[256], link[300], json[512], hsock[192];
	uint8_t *mem;
	json_t *rs, *reply;
	int ctl, s, u1, u2, pipefd[2];

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_image(&a, "vm.mem", 4 * MIB, SEED, image, sizeof(image)));

	/* images: outside the allowed directories, through a symlink, missing */
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "PERMISSION_DENIED", "{s:s}", "image",
			      "/etc/passwd"));
	snprintf(link, sizeof(link), "%s/images/escape", a.state);
	CHECK_OK(symlink("/etc/passwd", link));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "PERMISSION_DENIED", "{s:s}", "image", link));
	snprintf(link, sizeof(link), "%s/images/missing", a.state);
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "BAD_REQUEST", "{s:s}", "image", link));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "BAD_REQUEST", "{s:s, s:i}", "image", image,
			      "fault_around_pages", 513));
	CHECK_OK(h_call_error(ctl, PROTO_T_RESTORE_CREATE, "BAD_REQUEST", "{s:s, s:s}", "image", image,
			      "working_set", "replay"));
	rs = h_restore_create(ctl, image, NULL);
	CHECK(rs);

	/* garbage: not a frame, and not JSON */
	CHECK((s = h_connect(str(rs, "socket"))) >= 0);
	CHECK_OK(h_send_all(s, "GET / HTTP/1.1\r\n\r\n", 18));
	CHECK_OK(h_expect_error(s, 0, 0, "BAD_MAGIC"));
	close(s);
	CHECK((s = h_connect(str(rs, "socket"))) >= 0);
	CHECK_OK(h_send_frame(s, PROTO_T_REGION_REGISTER, 0, 2, "{}"));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 2, "NOT_NEGOTIATED"));
	close(s);
	CHECK((s = hello_on(str(rs, "socket"))) >= 0);
	CHECK_OK(h_send_frame(s, PROTO_T_REGION_REGISTER, 0, 3, "{\"start\":"));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 3, "BAD_PAYLOAD"));

	mem = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	CHECK((u1 = h_fc_uffd(mem, MIB, UFFD_FEATURE_EVENT_REMOVE)) >= 0);
	CHECK((u2 = h_fc_uffd(mem + 2 * MIB, MIB, UFFD_FEATURE_EVENT_REMOVE)) >= 0);
	snprintf(json, sizeof(json), "{\"start\":%llu,\"length\":%llu,\"page_size\":4096,"
		 "\"modes\":[\"missing\"]}", (unsigned long long)(uintptr_t)mem, (unsigned long long)MIB);
	/* no descriptor, then one that is not a uffd */
	CHECK_OK(register_with(s, 4, json, -1));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 4, "BAD_REQUEST"));
	CHECK_OK(pipe(pipefd));
	CHECK_OK(register_with(s, 5, json, pipefd[0]));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 5, "BAD_REQUEST"));
	/* bad ranges and modes */
	CHECK_OK(register_with(s, 6, "{\"start\":4097,\"length\":4096,\"page_size\":4096,"
				     "\"modes\":[\"missing\"]}", u1));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 6, "BAD_REQUEST"));
	CHECK_OK(register_with(s, 7, "{\"start\":4096,\"length\":4096,\"page_size\":4096,"
				     "\"modes\":[\"fast\"]}", u1));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 7, "BAD_REQUEST"));
	/* larger than the image */
	snprintf(json, sizeof(json), "{\"start\":%llu,\"length\":%llu,\"page_size\":4096,"
		 "\"modes\":[\"missing\"]}", (unsigned long long)(uintptr_t)mem,
		 (unsigned long long)(8 * MIB));
	CHECK_OK(register_with(s, 8, json, u1));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 8, "BAD_REQUEST"));
	/* a good one, then one overlapping it */
	snprintf(json, sizeof(json), "{\"start\":%llu,\"length\":%llu,\"page_size\":4096,"
		 "\"modes\":[\"missing\"]}", (unsigned long long)(uintptr_t)mem, (unsigned long long)MIB);
	CHECK_OK(register_with(s, 9, json, u1));
	reply = h_expect_reply(s, PROTO_T_REGION_REGISTER, 9);
	CHECK(reply && strlen(str(reply, "id")) == 36);
	json_decref(reply);
	snprintf(json, sizeof(json), "{\"start\":%llu,\"length\":%llu,\"page_size\":4096,"
		 "\"modes\":[\"missing\"]}", (unsigned long long)(uintptr_t)mem + MIB / 2,
		 (unsigned long long)MIB);
	CHECK_OK(register_with(s, 10, json, u2));
	CHECK_OK(h_expect_error(s, PROTO_T_REGION_REGISTER, 10, "CONFLICT"));
	/* Firecracker's handshake on the general socket is refused */
	snprintf(hsock, sizeof(hsock), "%s/handoff.sock", a.state);
	{
		int g = h_connect(hsock);

		CHECK(g >= 0);
		CHECK_OK(h_send_fd(g, "[{}]", 4, u2));
		CHECK_OK(h_expect_closed(g, H_TIMEOUT_MS));
		close(g);
	}
	CHECK_OK(h_ping(s, 11));
	close(s);
	close(u1);
	close(u2);
	close(pipefd[0]);
	close(pipefd[1]);
	json_decref(rs);
	close(ctl);
	return T_PASS;
}

/* A uid not in --handoff-allow-uid is closed without a frame and logged. */
int t_handoff_uid_refused(const struct t_env *env)
{
	struct h_agent a;
	char sock[192];
	pid_t pid;
	int status;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	snprintf(sock, sizeof(sock), "%s/handoff.sock", a.state);
	/* the test and state directories are 0700: let the other user reach the socket */
	CHECK_OK(chmod(a.dir, 0711));
	CHECK_OK(chmod(a.state, 0711));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = h_connect(sock);
		_exit(fd >= 0 && !h_expect_closed(fd, H_TIMEOUT_MS) ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_OK(h_wait_log(a.log, "peer refused: uid not allowed", H_TIMEOUT_MS));
	CHECK(h_file_contains(a.log, "comp=handoff msg=\"peer refused: uid not allowed\""));
	return T_PASS;
}

/* ---- libfaultline: whom it trusts -------------------------------------- */

pid_t flc_agent_pid(const fl_client *c);

struct fake_agent {
	int lfd;
	char path[128];
	int conn;
};

/* Answers one hello with a pid that is not its own, then waits for the client to go. */
static void *fake_agent_main(void *arg)
{
	struct fake_agent *f = arg;
	struct flw w = { .fd = -1 };
	struct proto_hdr h;
	json_t *body = NULL, *reply;

	f->conn = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (f->conn < 0)
		return NULL;
	w.fd = f->conn;
	if (flw_recv(&w, 10000, -1, &h, &body) == FLW_FRAME && h.type == PROTO_T_HELLO) {
		reply = json_pack("{s:s, s:s, s:i, s:i}", "agent", "faultline-agent", "version", "0",
				  "protocol", PROTO_VERSION, "pid", 1);
		flw_send(f->conn, PROTO_T_HELLO, PROTO_F_REPLY, h.id, reply, NULL);
		json_decref(reply);
	}
	json_decref(body);
	while (flw_recv(&w, 10000, -1, &h, &body) == FLW_FRAME)
		json_decref(body);
	flw_reset(&w);
	return NULL;
}

/* The pid allowed to trace the workload is the socket's peer (SO_PEERCRED), not the hello's. */
int t_lib_trusts_peercred(const struct t_env *env)
{
	struct fake_agent f = { .conn = -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[64];
	pthread_t t;
	fl_client *c;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(f.path, sizeof(f.path), "%s/agent.sock", dir);
	memcpy(sa.sun_path, f.path, strlen(f.path) + 1);
	f.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(f.lfd >= 0);
	CHECK_OK(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_OK(listen(f.lfd, 4));
	CHECK_OK(pthread_create(&t, NULL, fake_agent_main, &f));
	c = fl_connect(f.path);
	CHECKF(c, "%s", fl_last_error());
	/* the hello said pid 1; the kernel says this process */
	CHECKF(flc_agent_pid(c) == getpid(), "trusted pid %d", (int)flc_agent_pid(c));
	fl_disconnect(c);
	pthread_join(t, NULL);
	close(f.lfd);
	return T_PASS;
}

/*
 * A workload over the agent's client limit learns why from
 * fl_last_error(), with EAGAIN: it may retry once a slot is free.
 */
int t_handoff_refusal_is_explained(const struct t_env *env)
{
	static const char *const args[] = { "--max-clients", "1", NULL };
	struct h_agent a;
	char sock[192];
	fl_client *c1, *c2;

	(void)env;
	CHECK_OK(h_agent_start(&a, args));
	snprintf(sock, sizeof(sock), "%s/handoff.sock", a.state);
	c1 = fl_connect(sock);
	CHECKF(c1, "first client: %s", fl_last_error());
	errno = 0;
	c2 = fl_connect(sock);
	CHECKF(!c2 && errno == EAGAIN, "second client: errno %d, %s", errno, fl_last_error());
	CHECKF(strstr(fl_last_error(), "TOO_MANY_CLIENTS") && strstr(fl_last_error(), "at most 1"),
	       "fl_last_error: %s", fl_last_error());
	fl_disconnect(c1);
	return T_PASS;
}
