/*
 * Firecracker as the tests play it; see hfc.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "content.h"
#include "hfc.h"
#include "hwork.h"
#include "uffd.h"
#include "uffd_compat.h"

/* A uffd over [mem, mem + len) with only EVENT_REMOVE, as Firecracker makes it. */
int h_fc_uffd(void *mem, size_t len, uint64_t features)
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
int h_send_fd(int sock, const void *buf, size_t len, int fd)
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

/* Handed over exactly as Firecracker does it; session_json: the session's options, NULL default. */
int h_fc_start_with(struct h_fc *vm, const char *const *agent_args, const char *session_json)
{
	const char *sock;
	char image[256], msg[512];
	const size_t len = 8 * H_FC_MIB;

	memset(vm, 0, sizeof(*vm));
	if (h_agent_start(&vm->a, agent_args) || (vm->ctl = h_ctl_open(&vm->a)) < 0 ||
	    h_image(&vm->a, "vm.mem", 2 * len, H_FC_SEED, image, sizeof(image)))
		return -1;
	vm->rs = h_restore_create(vm->ctl, image,
				  session_json ? session_json
					       : "{\"name\":\"fc\",\"populate_delay_ms\":-1}");
	if (!vm->rs)
		return -1;
	/* one mapping, two VMAs registered together, as guest memory regions are */
	vm->mem[0] = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem[0] == MAP_FAILED)
		return -1;
	vm->mem[1] = vm->mem[0] + len;
	vm->uffd = h_fc_uffd(vm->mem[0], 2 * len, UFFD_FEATURE_EVENT_REMOVE);
	sock = json_string_value(json_object_get(vm->rs, "socket"));
	if (vm->uffd < 0 || !sock || (vm->sock = h_connect(sock)) < 0)
		return -1;
	snprintf(msg, sizeof(msg),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":0,\"page_size\":4096,"
		 "\"page_size_kib\":4096},{\"base_host_virt_addr\":%llu,\"size\":%zu,\"offset\":%zu,"
		 "\"page_size\":4096,\"page_size_kib\":4096}]",
		 (unsigned long long)(uintptr_t)vm->mem[0], len,
		 (unsigned long long)(uintptr_t)vm->mem[1], len, len);
	return h_send_fd(vm->sock, msg, strlen(msg), vm->uffd);
}

int h_fc_start(struct h_fc *vm)
{
	return h_fc_start_with(vm, NULL, NULL);
}

void h_fc_stop(struct h_fc *vm)
{
	close(vm->sock);
	close(vm->uffd);
	close(vm->ctl);
	json_decref(vm->rs);
}

bool h_zero_page(const uint8_t *p)
{
	for (size_t i = 0; i < CONTENT_PAGE; i++) {
		if (p[i])
			return false;
	}
	return true;
}

/*
 * 0 when every page of [first, first + n) of guest memory read right
 * (the image's bytes, or zeros) within timeout_ms; a read that hangs is a
 * failure, not a hung test.
 */
int h_touch(const uint8_t *mem, uint64_t first, uint64_t n, bool zero, int timeout_ms)
{
	uint8_t *buf = malloc(n * CONTENT_PAGE);
	uint64_t bad = 0;

	if (!buf)
		return -1;
	if (h_read_within(mem + first * CONTENT_PAGE, n * CONTENT_PAGE, buf, timeout_ms)) {
		printf("    guest pages %llu-%llu: a read blocked for %d ms\n",
		       (unsigned long long)first, (unsigned long long)(first + n - 1), timeout_ms);
		free(buf);
		return -1;
	}
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *page = buf + i * CONTENT_PAGE;

		if (zero ? !h_zero_page(page) : content_check(H_FC_SEED, first + i, page) != 0)
			bad++;
	}
	free(buf);
	if (bad)
		printf("    guest pages %llu-%llu: %llu pages wrong\n", (unsigned long long)first,
		       (unsigned long long)(first + n - 1), (unsigned long long)bad);
	return bad ? -1 : 0;
}

int h_touch_image(const uint8_t *mem, uint64_t first, uint64_t n, int timeout_ms)
{
	return h_touch(mem, first, n, false, timeout_ms);
}
