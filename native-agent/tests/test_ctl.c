/*
 * Control protocol round trips against the real agent binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fdlim.h"
#include "harness.h"
#include "uffd_compat.h"
#include "test.h"

static bool array_has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

static const char *str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

int t_ctl_hello(const struct t_env *env)
{
	struct h_agent a;
	struct utsname u;
	json_t *r, *k, *uf;
	int fd;

	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	r = h_request(fd, PROTO_T_HELLO, 1, "{\"client\":\"faultline-tests 0.1\",\"protocol\":1}");
	CHECK(r);
	CHECK(!strcmp(str(r, "agent"), "faultline-agent") && !strcmp(str(r, "version"), "0.1.0"));
	CHECK(json_integer_value(json_object_get(r, "protocol")) == 1);
	CHECK(json_integer_value(json_object_get(r, "pid")) == a.pid);
	CHECK(json_integer_value(json_object_get(r, "max_payload")) == 1048576);

	uname(&u);
	k = json_object_get(r, "kernel");
	CHECK(!strcmp(str(k, "sysname"), u.sysname) && !strcmp(str(k, "release"), u.release));
	CHECK(!strcmp(str(k, "machine"), u.machine));

	uf = json_object_get(r, "uffd");
	CHECK(json_is_true(json_object_get(uf, "available")));
	CHECK(json_is_null(json_object_get(uf, "error")));
	CHECK(!strcmp(str(uf, "source"), env->uffd_source));
	CHECK(json_integer_value(json_object_get(uf, "api")) == UFFD_API);
	CHECKF((uint64_t)json_integer_value(json_object_get(uf, "feature_bits")) == env->uffd_features,
	       "agent reports 0x%llx, kernel grants 0x%llx",
	       (unsigned long long)json_integer_value(json_object_get(uf, "feature_bits")),
	       (unsigned long long)env->uffd_features);
	/* named only when this kernel reports them: the test follows the kernel */
	if (env->uffd_features & UFFD_FEATURE_WP_ASYNC)
		CHECK(array_has(json_object_get(uf, "features"), "wp_async"));
	else
		CHECK(!array_has(json_object_get(uf, "features"), "wp_async"));
	if (env->uffd_features & UFFD_FEATURE_MOVE) {
		CHECK(array_has(json_object_get(uf, "features"), "move"));
		CHECK(array_has(json_object_get(uf, "ioctls"), "move"));
	} else {
		CHECK(!array_has(json_object_get(uf, "features"), "move"));
	}
	if (env->uffd_features & UFFD_FEATURE_THREAD_ID)
		CHECK(array_has(json_object_get(uf, "features"), "thread_id"));
	CHECK(array_has(json_object_get(uf, "ioctls"), "register"));
	CHECK(array_has(json_object_get(uf, "ioctls"), "api"));
	CHECK(array_has(json_object_get(uf, "ioctls"), "copy"));
	CHECK(json_is_boolean(json_object_get(uf, "pagemap_scan")));
	CHECK(json_is_true(json_object_get(uf, "pagemap_scan")) == env->pagemap_scan);
	json_decref(r);
	CHECK_OK(h_wait_log(a.log, "client=\"faultline-tests 0.1\"", H_TIMEOUT_MS));
	close(fd);
	return T_PASS;
}

int t_ctl_ping(const struct t_env *env)
{
	struct h_agent a;
	json_t *r;
	json_int_t first;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	r = h_request(fd, PROTO_T_PING, 2, "{}");
	CHECK(r && json_is_integer(json_object_get(r, "uptime_ms")));
	first = json_integer_value(json_object_get(r, "uptime_ms"));
	json_decref(r);
	/* unknown fields are ignored; an empty payload means {} */
	r = h_request(fd, PROTO_T_PING, 3, "{\"future_field\":[1,2,3]}");
	CHECK(r && json_integer_value(json_object_get(r, "uptime_ms")) >= first);
	json_decref(r);
	CHECK_OK(h_ping(fd, UINT64_MAX));
	close(fd);
	return T_PASS;
}

int t_ctl_not_negotiated(const struct t_env *env)
{
	struct h_agent a;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_send_frame(fd, PROTO_T_PING, 0, 10, NULL));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 10, "NOT_NEGOTIATED"));
	/* shutdown before hello must not stop the agent */
	CHECK_OK(h_send_frame(fd, PROTO_T_SHUTDOWN, 0, 11, NULL));
	CHECK_OK(h_expect_error(fd, PROTO_T_SHUTDOWN, 11, "NOT_NEGOTIATED"));
	/* the connection stays usable; hello may be repeated */
	CHECK_OK(h_hello(fd));
	CHECK_OK(h_hello(fd));
	CHECK_OK(h_ping(fd, 12));
	close(fd);
	return T_PASS;
}

/* A second, well-behaved client must not notice what happens to the first. */
static int bystander_ok(const char *sock, int bystander)
{
	int fd;

	if (h_ping(bystander, 77))
		return -1;
	fd = h_connect(sock);
	if (fd < 0 || h_hello(fd) || h_ping(fd, 78))
		return -1;
	close(fd);
	return 0;
}

int t_ctl_bad_magic(const struct t_env *env)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct h_agent a;
	int good, bad;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((good = h_connect(a.sock)) >= 0);
	CHECK((bad = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(good));
	CHECK_OK(h_hello(bad));
	CHECK_OK(h_send_all(bad, http, sizeof(http) - 1));
	/* header unusable: request id 0, type 0 */
	CHECK_OK(h_expect_error(bad, 0, 0, "BAD_MAGIC"));
	CHECK_OK(h_expect_closed(bad, H_TIMEOUT_MS));
	CHECK_OK(bystander_ok(a.sock, good));
	CHECK_OK(h_wait_log(a.log, "error=bad_magic", H_TIMEOUT_MS));
	close(bad);
	close(good);
	return T_PASS;
}

int t_ctl_bad_version(const struct t_env *env)
{
	struct h_agent a;
	uint8_t buf[PROTO_HDR_LEN];
	int good, bad;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((good = h_connect(a.sock)) >= 0);
	CHECK((bad = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(good));
	h_frame(buf, PROTO_T_HELLO, 0, 5, NULL);
	buf[4] = 2;
	CHECK_OK(h_send_all(bad, buf, sizeof(buf)));
	CHECK_OK(h_expect_error(bad, 0, 0, "BAD_VERSION"));
	CHECK_OK(h_expect_closed(bad, H_TIMEOUT_MS));
	CHECK_OK(bystander_ok(a.sock, good));
	close(bad);
	close(good);
	return T_PASS;
}

int t_ctl_too_large(const struct t_env *env)
{
	struct h_agent a;
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h = proto_hdr_make(PROTO_T_PING, 0, 4242, PROTO_MAX_PAYLOAD + 1);
	int good, bad;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((good = h_connect(a.sock)) >= 0);
	CHECK((bad = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(good));
	CHECK_OK(h_hello(bad));
	proto_encode_hdr(&h, buf);
	CHECK_OK(h_send_all(bad, buf, sizeof(buf)));
	/* only the length was bad: the error answers the request */
	CHECK_OK(h_expect_error(bad, PROTO_T_PING, 4242, "FRAME_TOO_LARGE"));
	CHECK_OK(h_expect_closed(bad, H_TIMEOUT_MS));
	CHECK_OK(bystander_ok(a.sock, good));
	close(bad);
	close(good);
	return T_PASS;
}

/* Exactly max_payload is legal, and the agent still answers it. */
int t_ctl_max_payload(const struct t_env *env)
{
	static const char head[] = "{\"pad\":\"", tail[] = "\"}";
	struct h_agent a;
	char *json;
	json_t *r;
	int fd;

	(void)env;
	json = malloc(PROTO_MAX_PAYLOAD + 1);
	CHECK(json);
	memset(json, 'a', PROTO_MAX_PAYLOAD);
	memcpy(json, head, sizeof(head) - 1);
	memcpy(json + PROTO_MAX_PAYLOAD - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	json[PROTO_MAX_PAYLOAD] = '\0';

	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	for (uint64_t id = 2; id < 5; id++) {
		r = h_request(fd, PROTO_T_PING, id, json);
		CHECK(r);
		json_decref(r);
	}
	free(json);
	CHECK_OK(h_ping(fd, 9));
	close(fd);
	return T_PASS;
}

int t_ctl_unknown_type(const struct t_env *env)
{
	struct h_agent a;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	/* an unknown type is reported as such even before hello */
	CHECK_OK(h_send_frame(fd, 0x7f, 0, 1, "{}"));
	CHECK_OK(h_expect_error(fd, 0x7f, 1, "UNKNOWN_TYPE"));
	CHECK_OK(h_hello(fd));
	CHECK_OK(h_send_frame(fd, 0xff, 0, 2, "{\"x\":1}"));
	CHECK_OK(h_expect_error(fd, 0xff, 2, "UNKNOWN_TYPE"));
	CHECK_OK(h_send_frame(fd, 0x00, 0, 3, NULL));
	CHECK_OK(h_expect_error(fd, 0x00, 3, "UNKNOWN_TYPE"));
	CHECK_OK(h_ping(fd, 4));
	close(fd);
	return T_PASS;
}

int t_ctl_bad_payload(const struct t_env *env)
{
	static const char *const bad_json[] = {
		"{bad", "[1,2]", "\"str\"", "42", "null", "{\"a\":1} trailing",
		"{\"a\":1,\"a\":2}", "{\"s\":\"\xff\xfe\"}", "{\"s\":\"\\u0000\"}", " ",
	};
	struct h_agent a;
	uint64_t id = 100;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	/* a hello that is not JSON does not negotiate */
	CHECK_OK(h_send_frame(fd, PROTO_T_HELLO, 0, 1, "{nope"));
	CHECK_OK(h_expect_error(fd, PROTO_T_HELLO, 1, "BAD_PAYLOAD"));
	CHECK_OK(h_send_frame(fd, PROTO_T_PING, 0, 2, NULL));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 2, "NOT_NEGOTIATED"));
	CHECK_OK(h_hello(fd));
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++, id++) {
		CHECK_OK(h_send_frame(fd, PROTO_T_PING, 0, id, bad_json[i]));
		CHECKF(!h_expect_error(fd, PROTO_T_PING, id, "BAD_PAYLOAD"), "payload %s", bad_json[i]);
	}
	/* valid JSON, wrong field types */
	CHECK_OK(h_send_frame(fd, PROTO_T_HELLO, 0, 200, "{\"protocol\":\"one\"}"));
	CHECK_OK(h_expect_error(fd, PROTO_T_HELLO, 200, "BAD_REQUEST"));
	CHECK_OK(h_send_frame(fd, PROTO_T_HELLO, 0, 201, "{\"protocol\":0}"));
	CHECK_OK(h_expect_error(fd, PROTO_T_HELLO, 201, "BAD_REQUEST"));
	CHECK_OK(h_send_frame(fd, PROTO_T_HELLO, 0, 202, "{\"client\":7}"));
	CHECK_OK(h_expect_error(fd, PROTO_T_HELLO, 202, "BAD_REQUEST"));
	CHECK_OK(h_ping(fd, 203));
	close(fd);
	return T_PASS;
}

int t_ctl_bad_frame(const struct t_env *env)
{
	uint8_t buf[1024];
	struct proto_hdr h;
	size_t len = 0;
	struct h_agent a;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));

	/* all in one write: each bad frame must be skipped exactly, payload included */
	h = proto_hdr_make(PROTO_T_PING, 0, 10, 9);
	h.reserved = 0xdeadbeef;
	proto_encode_hdr(&h, buf + len);
	memcpy(buf + len + PROTO_HDR_LEN, "{\"x\":[]}", 9);
	len += PROTO_HDR_LEN + 9;
	len += h_frame(buf + len, PROTO_T_PING, 0x0100, 11, "{}");
	len += h_frame(buf + len, PROTO_T_PING, PROTO_F_ERROR, 12, NULL);
	len += h_frame(buf + len, PROTO_T_PING, PROTO_F_REPLY, 13, "{}");
	len += h_frame(buf + len, PROTO_T_PING, 0, 0, NULL);
	len += h_frame(buf + len, PROTO_T_PING, 0, 14, NULL);
	CHECK_OK(h_send_all(fd, buf, len));

	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 10, "BAD_FRAME"));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 11, "BAD_FRAME"));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 12, "BAD_FRAME"));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 13, "BAD_FRAME"));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 0, "BAD_FRAME"));
	json_t *r = h_expect_reply(fd, PROTO_T_PING, 14);
	CHECK(r);
	json_decref(r);
	close(fd);
	return T_PASS;
}

int t_ctl_one_byte_writes(const struct t_env *env)
{
	uint8_t buf[256];
	size_t len = 0;
	struct h_agent a;
	json_t *r;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	len += h_frame(buf + len, PROTO_T_HELLO, 0, 1, "{\"client\":\"bytewise\"}");
	len += h_frame(buf + len, PROTO_T_PING, 0, 2, "{}");
	for (size_t i = 0; i < len; i++)
		CHECK_OK(h_send_all(fd, buf + i, 1));
	r = h_expect_reply(fd, PROTO_T_HELLO, 1);
	CHECK(r);
	json_decref(r);
	r = h_expect_reply(fd, PROTO_T_PING, 2);
	CHECK(r);
	json_decref(r);
	close(fd);
	return T_PASS;
}

int t_ctl_frames_in_one_write(const struct t_env *env)
{
	uint8_t buf[512];
	size_t len = 0;
	struct h_agent a;
	json_t *r;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	len += h_frame(buf + len, PROTO_T_HELLO, 0, 1, NULL);
	len += h_frame(buf + len, PROTO_T_PING, 0, 2, NULL);
	len += h_frame(buf + len, 0x55, 0, 3, NULL);
	len += h_frame(buf + len, PROTO_T_PING, 0, 4, "{\"bad\"");
	len += h_frame(buf + len, PROTO_T_PING, 0, 5, "{}");
	CHECK_OK(h_send_all(fd, buf, len));
	/* answered in order */
	CHECK((r = h_expect_reply(fd, PROTO_T_HELLO, 1)));
	json_decref(r);
	CHECK((r = h_expect_reply(fd, PROTO_T_PING, 2)));
	json_decref(r);
	CHECK_OK(h_expect_error(fd, 0x55, 3, "UNKNOWN_TYPE"));
	CHECK_OK(h_expect_error(fd, PROTO_T_PING, 4, "BAD_PAYLOAD"));
	CHECK((r = h_expect_reply(fd, PROTO_T_PING, 5)));
	json_decref(r);
	close(fd);
	return T_PASS;
}

/* A client may send its requests, shut down its write side, and read. */
int t_ctl_half_close(const struct t_env *env)
{
	uint8_t buf[256];
	size_t len = 0;
	struct h_agent a;
	json_t *r;
	int fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	len += h_frame(buf + len, PROTO_T_HELLO, 0, 1, NULL);
	len += h_frame(buf + len, PROTO_T_PING, 0, 2, NULL);
	CHECK_OK(h_send_all(fd, buf, len));
	CHECK_OK(shutdown(fd, SHUT_WR));
	CHECK((r = h_expect_reply(fd, PROTO_T_HELLO, 1)));
	json_decref(r);
	CHECK((r = h_expect_reply(fd, PROTO_T_PING, 2)));
	json_decref(r);
	CHECK_OK(h_expect_closed(fd, H_TIMEOUT_MS));
	close(fd);
	return T_PASS;
}

int t_ctl_peer_dies_mid_frame(const struct t_env *env)
{
	uint8_t buf[64];
	struct h_agent a;
	int fd, good;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((good = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(good));
	CHECK((fd = h_connect(a.sock)) >= 0);
	h_frame(buf, PROTO_T_HELLO, 0, 1, "{\"client\":\"x\"}");
	CHECK_OK(h_send_all(fd, buf, PROTO_HDR_LEN + 3));
	close(fd);
	CHECK_OK(h_wait_log(a.log, "peer closed in the middle of a frame", H_TIMEOUT_MS));
	CHECK_OK(bystander_ok(a.sock, good));
	close(good);
	return T_PASS;
}

/*
 * A client that sends requests but never reads the replies: the agent stops
 * reading from it at the high-water mark, then drops it after the stall
 * timeout, while still serving everyone else.
 */
int t_ctl_never_reads(const struct t_env *env)
{
	static const char *const args[] = { "--stall-timeout-ms", "300", NULL };
	uint8_t frame[PROTO_HDR_LEN];
	struct h_agent a;
	struct pollfd pfd;
	size_t sent = 0;
	int fd, good, ret;

	(void)env;
	CHECK_OK(h_agent_start(&a, args));
	CHECK((good = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(good));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	h_frame(frame, PROTO_T_PING, 0, 7, NULL);
	/* keep writing; being dropped is the event that ends the loop */
	for (;;) {
		ssize_t n = send(fd, frame, sizeof(frame), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n >= 0) {
			sent += (size_t)n;
			CHECKF(sent < (size_t)1 << 30, "agent read 1 GiB without its replies being read");
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			break;
		CHECKF(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s", strerror(errno));
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		do
			ret = poll(&pfd, 1, H_TIMEOUT_MS);
		while (ret < 0 && errno == EINTR);
		CHECKF(ret == 1, "client neither served nor dropped after %d ms", H_TIMEOUT_MS);
	}
	t_logf("wrote %zu bytes of pings before being dropped", sent);
	CHECK_OK(h_wait_log(a.log, "dropping client: replies unread", H_TIMEOUT_MS));
	CHECK_OK(bystander_ok(a.sock, good));
	close(fd);
	close(good);
	return T_PASS;
}

int t_ctl_max_clients(const struct t_env *env)
{
	static const char *const args[] = { "--max-clients", "2", NULL };
	struct h_agent a;
	int c1, c2, c3, c4;

	(void)env;
	CHECK_OK(h_agent_start(&a, args));
	CHECK((c1 = h_connect(a.sock)) >= 0);
	CHECK((c2 = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(c1));
	CHECK_OK(h_hello(c2));
	CHECK((c3 = h_connect(a.sock)) >= 0);
	/* the refused peer is told why (type 0, id 0), then closed */
	CHECK_OK(h_expect_error(c3, 0, 0, "TOO_MANY_CLIENTS"));
	CHECK_OK(h_expect_closed(c3, H_TIMEOUT_MS));
	CHECK_OK(h_wait_log(a.log, "too many clients", H_TIMEOUT_MS));
	CHECK_OK(h_ping(c1, 2));
	CHECK_OK(h_ping(c2, 2));
	/* a freed slot can be taken again */
	close(c1);
	CHECK_OK(h_wait_log(a.log, "msg=\"client disconnected\" conn=1 ", H_TIMEOUT_MS));
	CHECK((c4 = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(c4));
	CHECK_OK(h_ping(c4, 3));
	close(c2);
	close(c3);
	close(c4);
	return T_PASS;
}

/*
 * Many pipelined requests with replies read concurrently: the agent must
 * pause at its high-water mark and resume on its own once the client reads,
 * answering every request exactly once and in order.
 */
int t_ctl_pipelined_flood(const struct t_env *env)
{
	enum { N = 40000 };
	uint8_t *out, in[64 * 1024];
	size_t out_len = 0, out_off = 0, in_len = 0;
	uint64_t next_id = 1;
	struct h_agent a;
	int fd, ifd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	CHECK_OK(h_hello(fd));
	out = malloc((size_t)N * PROTO_HDR_LEN);
	CHECK(out);
	for (uint64_t id = 1; id <= N; id++)
		out_len += h_frame(out + out_len, PROTO_T_PING, 0, id, NULL);

	/*
	 * Write without reading until the agent says it paused this client:
	 * wait on the socket becoming writable or the log changing, whichever
	 * comes first.
	 */
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	CHECK(ifd >= 0 && inotify_add_watch(ifd, a.dir, IN_MODIFY) >= 0);
	while (!h_file_contains(a.log, "client throttled")) {
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLOUT }, { .fd = ifd, .events = POLLIN } };
		ssize_t n = send(fd, out + out_off, out_len - out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
		char ev[4096];

		if (n > 0) {
			out_off += (size_t)n;
			CHECKF(out_off < out_len, "%d requests went through without backpressure", N);
			continue;
		}
		CHECKF(errno == EAGAIN, "send: %s", strerror(errno));
		CHECKF(poll(pfd, 2, H_TIMEOUT_MS) > 0, "neither writable nor throttled");
		while (read(ifd, ev, sizeof(ev)) > 0)
			;
	}
	close(ifd);

	while (next_id <= N) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int ret;

		if (out_off < out_len)
			pfd.events |= POLLOUT;
		do
			ret = poll(&pfd, 1, H_TIMEOUT_MS);
		while (ret < 0 && errno == EINTR);
		CHECKF(ret == 1, "stalled with %llu replies missing",
		       (unsigned long long)(N - next_id + 1));
		if (pfd.revents & POLLOUT) {
			n = send(fd, out + out_off, out_len - out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			CHECKF(n > 0 || errno == EAGAIN, "send: %s", strerror(errno));
			if (n > 0)
				out_off += (size_t)n;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = recv(fd, in + in_len, sizeof(in) - in_len, MSG_DONTWAIT);
		CHECKF(n > 0 || (n < 0 && errno == EAGAIN), "recv: %s", n ? strerror(errno) : "EOF");
		if (n > 0)
			in_len += (size_t)n;
		for (;;) {
			struct proto_frame f;
			enum proto_result r = proto_next_frame(in, in_len, PROTO_MAX_PAYLOAD, &f);

			if (r == PROTO_NEED_MORE)
				break;
			CHECK(r == PROTO_OK && f.hdr.flags == PROTO_F_REPLY);
			CHECKF(f.hdr.id == next_id, "reply %llu, expected %llu",
			       (unsigned long long)f.hdr.id, (unsigned long long)next_id);
			next_id++;
			memmove(in, in + f.size, in_len - f.size);
			in_len -= f.size;
		}
	}
	free(out);
	CHECK_OK(h_ping(fd, N + 1));
	CHECK(h_file_contains(a.log, "client resumed"));
	close(fd);
	return T_PASS;
}

/*
 * Without --max-clients the limit follows the descriptors: the soft
 * RLIMIT_NOFILE is raised to the hard one and the hello reports both.
 */
int t_ctl_limits_follow_nofile(const struct t_env *env)
{
	struct h_agent a;
	struct rlimit rl;
	json_t *r, *lim;
	int fd;

	(void)env;
	CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((fd = h_connect(a.sock)) >= 0);
	r = h_request(fd, PROTO_T_HELLO, 1, "{}");
	CHECK(r);
	lim = json_object_get(r, "limits");
	CHECKF(json_is_object(lim), "hello has no limits");
	CHECKF((rlim_t)json_integer_value(json_object_get(lim, "nofile")) == rl.rlim_max,
	       "nofile %lld, hard limit %llu", (long long)json_integer_value(json_object_get(lim, "nofile")),
	       (unsigned long long)rl.rlim_max);
	CHECKF(json_integer_value(json_object_get(lim, "max_clients")) ==
		       (json_int_t)fdlim_max_clients(rl.rlim_max),
	       "max_clients %lld", (long long)json_integer_value(json_object_get(lim, "max_clients")));
	json_decref(r);
	close(fd);
	return T_PASS;
}
