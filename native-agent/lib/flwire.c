/*
 * Blocking frame I/O for libfaultline; see flwire.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "flwire.h"

int flw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	do
		ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	while (ret && errno == EINTR);
	if (ret) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The descriptors ride on the sendmsg that carries the frame's first byte. */
int flw_send(int fd, uint8_t type, uint16_t flags, uint64_t id, json_t *body,
	     const int pass[FLW_MAX_FDS])
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FLW_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	int fds[FLW_MAX_FDS];
	unsigned n_fds = 0;
	char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
	size_t len = json ? strlen(json) : 0, off = 0;
	struct proto_hdr h = proto_hdr_make(type, flags, id, (uint32_t)len);
	uint8_t *frame = malloc(PROTO_HDR_LEN + len);
	int ret = -1;

	if ((body && !json) || !frame || len > PROTO_MAX_PAYLOAD) {
		errno = len > PROTO_MAX_PAYLOAD ? EMSGSIZE : ENOMEM;
		goto free_frame;
	}
	for (unsigned i = 0; pass && i < FLW_MAX_FDS; i++) {
		if (pass[i] >= 0)
			fds[n_fds++] = pass[i];
	}
	proto_encode_hdr(&h, frame);
	memcpy(frame + PROTO_HDR_LEN, json, len);
	len += PROTO_HDR_LEN;
	while (off < len) {
		struct iovec iov = { .iov_base = frame + off, .iov_len = len - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (off == 0 && n_fds) {
			struct cmsghdr *cm;

			mh.msg_control = ctrl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto free_frame;
		off += (size_t)n;
	}
	ret = 0;
free_frame:
	free(frame);
	free(json);
	return ret;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * recv() that keeps descriptors the agent sent (only the reply to
 * clone_memory carries one, PROTOCOL.md §2.5); beyond FLW_RX_FDS they are
 * closed, never leaked.
 */
static ssize_t recv_some(struct flw *w)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FLW_RX_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = proto_buf_tail(&w->in), .iov_len = proto_buf_room(&w->in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	ssize_t n;

	do
		n = recvmsg(w->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (w->n_rx_fds < FLW_RX_FDS)
				w->rx_fds[w->n_rx_fds++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

int flw_take_fd(struct flw *w)
{
	int fd;

	if (!w->n_rx_fds)
		return -1;
	fd = w->rx_fds[0];
	memmove(w->rx_fds, w->rx_fds + 1, --w->n_rx_fds * sizeof(int));
	return fd;
}

/* The next frame; its payload parsed (an empty one is {}). */
enum flw_recv flw_recv(struct flw *w, int timeout_ms, int wake_fd, struct proto_hdr *h,
		       json_t **body)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;

	*body = NULL;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = w->fd, .events = POLLIN },
					 { .fd = wake_fd, .events = POLLIN } };
		struct proto_frame f;
		enum proto_result res = w->in.len ? proto_next_frame(proto_buf_head(&w->in), w->in.len,
								     PROTO_MAX_PAYLOAD, &f)
						  : PROTO_NEED_MORE;
		uint64_t now;
		ssize_t n;
		int ret;

		if (res == PROTO_OK) {
			*h = f.hdr;
			*body = f.hdr.length ? json_loadb((const char *)f.payload, f.hdr.length, 0, NULL)
					     : json_object();
			proto_buf_consume(&w->in, f.size);
			if (!*body) {
				errno = EPROTO;
				return FLW_ERROR;
			}
			return FLW_FRAME;
		}
		if (res != PROTO_NEED_MORE) {
			errno = EPROTO;
			return FLW_ERROR;
		}
		now = now_ms();
		if (now >= deadline)
			return FLW_TIMEOUT;
		ret = poll(pfd, wake_fd >= 0 ? 2 : 1,
			   deadline == UINT64_MAX ? -1 : (int)(deadline - now));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return FLW_ERROR;
		if (wake_fd >= 0 && (pfd[1].revents & POLLIN))
			return FLW_STOPPED;
		if (!ret)
			continue;
		if (proto_buf_reserve(&w->in, 16384, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD + 16384))
			return FLW_ERROR;
		n = recv_some(w);
		if (n <= 0) {
			if (!n)
				errno = ECONNRESET;
			return FLW_ERROR;
		}
		proto_buf_commit(&w->in, (size_t)n);
	}
}

void flw_reset(struct flw *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	while (w->n_rx_fds)
		close(w->rx_fds[--w->n_rx_fds]);
	proto_buf_free(&w->in);
}
