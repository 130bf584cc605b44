/*
 * Handoff sockets: Firecracker's handshake exactly as Firecracker sends it,
 * balloon-style removal, the general (anonymous) socket, and every way a
 * handoff can be wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/un.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "content.h"
#include "faultline.h"
#include "flwire.h"
#include "harness.h"
#include "hwork.h"
#include "test.h"
#include "uffd.h"
#include "uffd_compat.h"

#define MIB (UINT64_C(1) << 20)
#define SEED 7

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* A uffd over [mem, mem + len) with only EVENT_REMOVE, as Firecracker makes it. */
static int fc_uffd(void *mem, size_t len, uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
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

/* One sendmsg: the bytes, with fd (if >= 0) as SCM_RIGHTS. */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

struct fc_vm {
	struct h_agent a;
	int ctl, sock, uffd;
	uint8_t *mem[2];
	json_t *rs;
};

/*
 * "Firecracker": two guest memory regions of 8 MiB backed by the two
 * halves of one image, handed over exactly as Firecracker does it.
 */
static int fc_start(struct fc_vm *vm)
{
	char image[256], msg[512];
	const size_t len = 8 * MIB;

	memset(vm, 0, sizeof(*vm));
	if (h_agent_start(&vm->a, NULL) || (vm->ctl = h_ctl_open(&vm->a)) < 0 ||
	    h_image(&vm->a, "vm.mem", 2 * len, SEED, image, sizeof(image)))
		return -1;
	vm->rs = h_restore_create(vm->ctl, image, "{\"name\":\"fc\",\"populate_delay_ms\":-1}");
	if (!vm->rs)
		return -1;
	/* one mapping, two VMAs registered together, as guest memory regions are */
	vm->mem[0] = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem[0] == MAP_FAILED)
		return -1;
	vm->mem[1] = vm->mem[0] + len;
	vm->uffd = fc_uffd(vm->mem[0], 2 * len, UFFD_FEATURE_EVENT_REMOVE);
	if (vm->uffd < 0 || (vm->sock = h_connect(str(vm->rs, "socket"))) < 0)
		return -1;
	snprintf(msg, sizeof(msg),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":0,\"page_size\":4096,"
		 "\"page_size_kib\":4096},{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":%zu,"
		 "\"page_size\":4096,\"page_size_kib\":4096}]",
		 (unsigned long long)(uintptr_t)vm->mem[0], len,
		 (unsigned long long)(uintptr_t)vm->mem[1], len, len);
	return send_with_fd(vm->sock, msg, strlen(msg), vm->uffd);
}

static void fc_stop(struct fc_vm *vm)
{
	close(vm->sock);
	close(vm->uffd);
	close(vm->ctl);
	json_decref(vm->rs);
}

/* Guest memory reads the image, page by page, from both regions. */
int t_handoff_firecracker(const struct t_env *env)
{
	struct fc_vm vm;
	json_t *regs, *r;
	size_t i;

	(void)env;
	CHECK_OK(fc_start(&vm));
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
	fc_stop(&vm);
	return T_PASS;
}

static bool zero_page(const uint8_t *p)
{
	for (size_t i = 0; i < CONTENT_PAGE; i++) {
		if (p[i])
			return false;
	}
	return true;
}

/*
 * Balloon inflation: MADV_DONTNEED on guest memory (restored pages and
 * pages never touched) raises UFFD_EVENT_REMOVE; every page of the range
 * then reads zero, never the image bytes again.
 */
int t_handoff_balloon_remove(const struct t_env *env)
{
	const uint64_t first = 64, n = 256;
	struct fc_vm vm;
	json_t *regs, *r;
	uint64_t removes = 0;
	size_t i;

	(void)env;
	CHECK_OK(fc_start(&vm));
	for (uint64_t p = first; p < first + n / 2; p++)
		CHECK(content_check(SEED, p, vm.mem[0] + p * CONTENT_PAGE) == 0);
	CHECK_OK(madvise(vm.mem[0] + first * CONTENT_PAGE, n * CONTENT_PAGE, MADV_DONTNEED));
	for (uint64_t p = first; p < first + n; p++)
		CHECKF(zero_page(vm.mem[0] + p * CONTENT_PAGE), "page %llu after removal is not zero",
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
	fc_stop(&vm);
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

	return send_with_fd(sock, frame, len, fd);
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
	CHECK((u1 = fc_uffd(mem, MIB, UFFD_FEATURE_EVENT_REMOVE)) >= 0);
	CHECK((u2 = fc_uffd(mem + 2 * MIB, MIB, UFFD_FEATURE_EVENT_REMOVE)) >= 0);
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
		CHECK_OK(send_with_fd(g, "[{}]", 4, u2));
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
