/*
 * Migration tests of the page channel (PROTOCOL.md §3): its codec and
 * authentication as pure code; TLS between two real agents (PSK or
 * certificates: no page in clear, a flipped byte ends the connection and
 * the job resumes on a new one); zstd frames; and what the destination's
 * listener refuses or survives: strangers, malformed frames, a wrong
 * secret, a source's out-of-range request, clients that trickle, running
 * out of descriptors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "harness.h"
#include "hwork.h"
#include "jx.h"
#include "mono.h"
#include "netaddr.h"
#include "pchan.h"
#include "proto.h"
#include "ptls.h"
#include "test.h"
#include "test_mig_common.h"

/* ---- pure code --------------------------------------------------------- */

int t_pchan_golden(const struct t_env *env)
{
	static const uint8_t want[PCHAN_HDR_LEN] = {
		0x46, 0x4C, 0x50, 0x43, 0x01, 0x11, 0x00, 0x00, /* FLPC v1 pages, flags 0 */
		0, 0, 0, 0, 0, 0, 0, 7,                         /* seq 7 */
		0, 0, 0, 0, 0, 0, 0x01, 0x00,                   /* page 256 */
		0, 0, 0, 2,                                     /* 2 pages */
		0, 0, 0x20, 0x00,                               /* 8192 bytes */
	};
	struct pchan_hdr h = { .type = PCHAN_T_PAGES, .seq = 7, .page = 256, .count = 2,
			       .length = 8192 }, back;
	uint8_t buf[PCHAN_HDR_LEN];

	(void)env;
	pchan_encode_hdr(&h, buf);
	CHECK(!memcmp(buf, want, sizeof(buf)));
	CHECK(pchan_decode_hdr(buf, sizeof(buf), &back) == PCHAN_OK);
	CHECK(back.type == h.type && back.seq == 7 && back.page == 256 && back.count == 2 &&
	      back.length == 8192);
	CHECK(pchan_decode_hdr(buf, 3, &back) == PCHAN_NEED_MORE);
	return T_PASS;
}

int t_pchan_malformed(const struct t_env *env)
{
	static const struct {
		const char *name;
		struct pchan_hdr h;
		enum pchan_result want;
	} cases[] = {
		{ "pages ok", { PCHAN_T_PAGES, 0, 1, 10, 2, 8192 }, PCHAN_OK },
		{ "pages past the end", { PCHAN_T_PAGES, 0, 1, 99, 2, 8192 }, PCHAN_BAD_SHAPE },
		{ "pages count overflow", { PCHAN_T_PAGES, 0, 1, 1, 0xFFFFFFFF, 8192 }, PCHAN_BAD_SHAPE },
		{ "pages huge index", { PCHAN_T_PAGES, 0, 1, UINT64_MAX, 1, 4096 }, PCHAN_BAD_SHAPE },
		{ "pages length mismatch", { PCHAN_T_PAGES, 0, 1, 10, 2, 4096 }, PCHAN_BAD_SHAPE },
		{ "pages zero count", { PCHAN_T_PAGES, 0, 1, 10, 0, 0 }, PCHAN_BAD_SHAPE },
		{ "pages_z ok", { PCHAN_T_PAGES_Z, 0, 1, 10, 2, 100 }, PCHAN_OK },
		{ "pages_z not smaller", { PCHAN_T_PAGES_Z, 0, 1, 10, 2, 8192 }, PCHAN_BAD_SHAPE },
		{ "pages_z empty", { PCHAN_T_PAGES_Z, 0, 1, 10, 2, 0 }, PCHAN_BAD_SHAPE },
		{ "pages_z past the end", { PCHAN_T_PAGES_Z, 0, 1, 99, 2, 100 }, PCHAN_BAD_SHAPE },
		{ "zero with payload", { PCHAN_T_ZERO, 0, 1, 0, 100, 8 }, PCHAN_BAD_SHAPE },
		{ "zero whole region", { PCHAN_T_ZERO, 0, 1, 0, 100, 0 }, PCHAN_OK },
		{ "current ok", { PCHAN_T_CURRENT, 0, 1, 10, 2, 0 }, PCHAN_OK },
		{ "current with payload", { PCHAN_T_CURRENT, 0, 1, 10, 2, 8192 }, PCHAN_BAD_SHAPE },
		{ "current past the end", { PCHAN_T_CURRENT, 0, 1, 99, 2, 0 }, PCHAN_BAD_SHAPE },
		{ "request ok", { PCHAN_T_REQUEST, 0, 0, 99, 1, 0 }, PCHAN_OK },
		{ "request out of range", { PCHAN_T_REQUEST, 0, 0, 100, 1, 0 }, PCHAN_BAD_SHAPE },
		{ "request too many", { PCHAN_T_REQUEST, 0, 0, 0, PCHAN_MAX_DEMAND + 1, 0 },
		  PCHAN_BAD_SHAPE },
		{ "stale unaligned", { PCHAN_T_STALE, 0, 1, 1, 64, 8 }, PCHAN_BAD_SHAPE },
		{ "stale ok", { PCHAN_T_STALE, 0, 1, 64, 36, 8 }, PCHAN_OK },
		{ "stale short", { PCHAN_T_STALE, 0, 1, 0, 100, 8 }, PCHAN_BAD_SHAPE },
		{ "hello short", { PCHAN_T_HELLO, 0, 0, 0, 0, 10 }, PCHAN_BAD_SHAPE },
		{ "auth ok", { PCHAN_T_AUTH, 0, 0, 0, 0, 32 }, PCHAN_OK },
		{ "unknown type", { 0x7F, 0, 0, 0, 0, 0 }, PCHAN_BAD_TYPE },
		{ "switchover short", { PCHAN_T_SWITCHOVER, 0, 1, 0, 0, 4 }, PCHAN_BAD_SHAPE },
	};
	struct pchan_geom g = { .n_pages = 100, .page_size = 4096 }, none = { 0 },
			  huge = { .n_pages = UINT64_C(1) << 33, .page_size = 4096 };
	/* count + 63 wrapped in 32 bits: an empty bitmap passed for 2^32 - 63 pages */
	struct pchan_hdr wrap = { .type = PCHAN_T_STALE, .seq = 1, .page = 0, .count = 0xFFFFFFC1,
				  .length = 0 };
	struct pchan_hdr h = { .type = PCHAN_T_PAGES, .page = 0, .count = 1, .length = 4096 };
	uint8_t buf[PCHAN_HDR_LEN];

	(void)env;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECKF(pchan_check(&cases[i].h, &g) == cases[i].want, "%s: got %d", cases[i].name,
		       pchan_check(&cases[i].h, &g));
	CHECK(pchan_check(&wrap, &huge) == PCHAN_BAD_SHAPE);
	/* before SETUP no page frame is acceptable */
	CHECK(pchan_check(&h, &none) == PCHAN_BAD_SHAPE);
	pchan_encode_hdr(&h, buf);
	buf[0] = 'G';
	CHECK(pchan_decode_hdr(buf, 1, &h) == PCHAN_BAD_MAGIC);
	buf[0] = 'F';
	buf[4] = 2;
	CHECK(pchan_decode_hdr(buf, 5, &h) == PCHAN_BAD_VERSION);
	buf[4] = 1;
	buf[7] = 1;
	CHECK(pchan_decode_hdr(buf, sizeof(buf), &h) == PCHAN_BAD_FLAGS);
	buf[7] = 0;
	buf[28] = 0x01; /* 16 MiB */
	CHECK(pchan_decode_hdr(buf, sizeof(buf), &h) == PCHAN_TOO_LARGE);
	return T_PASS;
}

int t_pchan_auth(const struct t_env *env)
{
	uint8_t s1[PCHAN_SECRET_LEN], s2[PCHAN_SECRET_LEN], cn[PCHAN_NONCE_LEN], sn[PCHAN_NONCE_LEN];
	uint8_t a[PCHAN_MAC_LEN], b[PCHAN_MAC_LEN];
	const char *id = "6f0c2b0e-2c44-4f3e-9f1a-3a7d8c1b2e4f";
	struct pchan_hello h = { .kind = PCHAN_PREEMPT }, back;
	uint8_t hb[PCHAN_HELLO_LEN];
	char host[64];
	uint16_t port;

	(void)env;
	CHECK_OK(pchan_parse_secret(SECRET, s1));
	CHECK_OK(pchan_parse_secret(OTHER, s2));
	CHECK(pchan_parse_secret("00", s2) < 0);
	CHECK(pchan_parse_secret("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", s2) < 0);
	CHECK_OK(pchan_parse_secret(OTHER, s2));
	CHECK_OK(pchan_nonce(cn));
	CHECK_OK(pchan_nonce(sn));
	CHECK_OK(pchan_mac(s1, false, id, PCHAN_MAIN, cn, sn, a));
	CHECK_OK(pchan_mac(s1, false, id, PCHAN_MAIN, cn, sn, b));
	CHECK(pchan_mac_equal(a, b));
	CHECK_OK(pchan_mac(s2, false, id, PCHAN_MAIN, cn, sn, b));
	CHECK(!pchan_mac_equal(a, b)); /* another secret */
	CHECK_OK(pchan_mac(s1, true, id, PCHAN_MAIN, cn, sn, b));
	CHECK(!pchan_mac_equal(a, b)); /* a client proof is no server proof */
	CHECK_OK(pchan_mac(s1, false, id, PCHAN_PREEMPT, cn, sn, b));
	CHECK(!pchan_mac_equal(a, b)); /* nor one for the other channel */
	CHECK_OK(pchan_mac(s1, false, id, PCHAN_MAIN, sn, cn, b));
	CHECK(!pchan_mac_equal(a, b)); /* both nonces count, in order */
	memcpy(h.id, id, PCHAN_ID_LEN + 1);
	memcpy(h.nonce, cn, sizeof(cn));
	pchan_encode_hello(&h, hb);
	CHECK_OK(pchan_decode_hello(hb, sizeof(hb), &back));
	CHECK(!strcmp(back.id, id) && back.kind == PCHAN_PREEMPT && !memcmp(back.nonce, cn, sizeof(cn)));
	hb[40] = PCHAN_KIND_LAST; /* push connection 7 */
	CHECK(!pchan_decode_hello(hb, sizeof(hb), &back) && back.kind == PCHAN_KIND_LAST);
	hb[40] = PCHAN_KIND_LAST + 1;
	CHECK(pchan_decode_hello(hb, sizeof(hb), &back) < 0);
	CHECK(!netaddr_parse("127.0.0.1:7702", host, sizeof(host), &port) && port == 7702 &&
	      !strcmp(host, "127.0.0.1"));
	CHECK(!netaddr_parse("[::1]:0", host, sizeof(host), &port) && port == 0 &&
	      !strcmp(host, "::1"));
	CHECK(netaddr_parse("host", host, sizeof(host), &port) < 0);
	CHECK(netaddr_parse("host:99999", host, sizeof(host), &port) < 0);
	CHECK(netaddr_parse(":80", host, sizeof(host), &port) < 0);
	CHECK(netaddr_parse("h:-1", host, sizeof(host), &port) < 0);
	return T_PASS;
}

int t_mig_wire_encrypted(const struct t_env *env)
{
	(void)env;
	return migrate_via("16M", UINT64_C(16) << 20, RELAY_CAPTURE, NULL);
}

int t_mig_wire_plaintext_control(const struct t_env *env)
{
	static const char *const plain[] = { "--page-channel-plaintext", NULL };

	(void)env;
	return migrate_via("16M", UINT64_C(16) << 20, RELAY_CAPTURE, plain);
}

int t_mig_tampered_frame(const struct t_env *env)
{
	(void)env;
	return migrate_via("16M", UINT64_C(16) << 20, RELAY_FLIP, NULL);
}

/* A source with the wrong secret is dropped and logged; nothing moves. */
int t_mig_wrong_secret(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), OTHER, json_object());
	CHECK(out);
	CHECK_OK(h_wait_log(p.dst.log, "page channel peer failed authentication, dropped", 10000));
	m = wait_phase(p.sctl, id, "paused", 10000);
	CHECK(m && strstr(str(m, "error"), "authentication failed"));
	json_decref(m);
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && stat_of(m, "precopy_pages") == 0 && !strcmp(str(m, "phase"), "precopy"));
	json_decref(m);
	CHECK(!h_file_contains(p.dst.log, SECRET) && !h_file_contains(p.src.log, OTHER) &&
	      !h_file_contains(p.src.log, SECRET));
	/* cancel before the switchover: the source region is writable again */
	m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* The peer's error frame, then end of stream. */
static int expect_refused(struct ptls_conn *c, const char *needle)
{
	struct pchan_geom g = { 0 };
	struct pchan_hdr h;
	char buf[2048];
	int r = pchan_recv(c, &h, buf, sizeof(buf), &g, 5000);

	if (r || h.type != PCHAN_T_ERROR || !strstr(buf, needle)) {
		printf("    expected an error frame with \"%s\" (r=%d type=%u)\n", needle, r,
		       r ? 0 : h.type);
		return -1;
	}
	r = pchan_recv(c, &h, buf, sizeof(buf), &g, 5000);
	return r < 0 && errno == ECONNRESET ? 0 : -1;
}

/* End of stream (or a reset) within timeout_ms, whatever came before. */
static int expect_closed(int fd, int timeout_ms)
{
	char buf[4096];

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, timeout_ms) != 1)
			return -1;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 0;
	}
}

/* Malformed frames, out-of-range pages and strangers are refused; the job goes on. */
int t_mig_malformed_refused(const struct t_env *env)
{
	struct pair p;
	char id[JX_UUID_LEN + 1], err[256] = "";
	json_t *in, *m;
	const char *channel;
	struct pchan_hdr h;
	uint8_t page[MIG_PAGE] = { 0 }, junk[64];
	struct ptls_conn *c;
	int fd;

	(void)env;
	CHECK_OK(pair_start(&p));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(1) << 20, SECRET);
	CHECK(in);
	channel = str(in, "channel");
	/* a stranger speaking something else, and a plaintext page channel: not TLS */
	fd = pchan_connect(channel, 2000);
	CHECK(fd >= 0);
	CHECK(write(fd, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
	CHECK_OK(expect_closed(fd, 10000));
	close(fd);
	CHECK_OK(h_wait_log(p.dst.log, "page channel TLS handshake failed, dropped", 5000));
	fd = pchan_connect(channel, 2000);
	CHECK(fd >= 0);
	{
		struct pchan_hello hello = { .kind = PCHAN_MAIN };
		uint8_t hb[PCHAN_HDR_LEN + PCHAN_HELLO_LEN];

		h = (struct pchan_hdr){ .type = PCHAN_T_HELLO, .length = PCHAN_HELLO_LEN };
		memcpy(hello.id, id, PCHAN_ID_LEN + 1);
		pchan_encode_hdr(&h, hb);
		pchan_encode_hello(&hello, hb + PCHAN_HDR_LEN);
		CHECK(write(fd, hb, sizeof(hb)) == (ssize_t)sizeof(hb));
	}
	CHECK_OK(expect_closed(fd, 10000));
	close(fd);
	/* a hello for a job this agent does not have: no PSK for it, so no TLS */
	CHECK(!fake_source(channel, "00000000-0000-4000-8000-000000000000", PCHAN_MAIN, err,
			   sizeof(err)));
	CHECK_OK(h_wait_log(p.dst.log, "page channel TLS handshake failed, dropped", 5000));
	/* authenticated, then a page beyond the region (256 pages) */
	c = fake_source(channel, id, PCHAN_MAIN, err, sizeof(err));
	CHECK(c);
	h = (struct pchan_hdr){ .type = PCHAN_T_PAGES, .seq = 1, .page = 256, .count = 1,
				.length = MIG_PAGE };
	CHECK_OK(pchan_send(c, &h, page));
	CHECK_OK(expect_refused(c, "page range"));
	ptls_close(c);
	CHECK_OK(h_wait_log(p.dst.log, "page channel peer broke the protocol, dropped", 5000));
	/* a demand request on the main channel, then garbage */
	c = fake_source(channel, id, PCHAN_MAIN, err, sizeof(err));
	CHECK(c);
	h = (struct pchan_hdr){ .type = PCHAN_T_REQUEST, .page = 1, .count = 1 };
	CHECK_OK(pchan_send(c, &h, NULL));
	CHECK_OK(expect_refused(c, "unexpected frame"));
	ptls_close(c);
	c = fake_source(channel, id, PCHAN_PREEMPT, err, sizeof(err));
	CHECK(c);
	memset(junk, 0xAB, sizeof(junk));
	{
		struct iovec v = { .iov_base = junk, .iov_len = sizeof(junk) };

		CHECK_OK(ptls_writev(c, &v, 1));
	}
	CHECK_OK(expect_refused(c, "bad magic"));
	ptls_close(c);
	/* nothing was staged from any of it, and the job still takes a proper source */
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && strcmp(str(m, "phase"), "failed") && stat_of(m, "precopy_pages") == 0);
	json_decref(m);
	c = fake_source(channel, id, PCHAN_MAIN, err, sizeof(err));
	CHECK(c);
	ptls_close(c);
	/* control messages refuse bad input with clear codes */
	CHECK_OK(h_call_error(p.dctl, PROTO_T_MIGRATION_IN, "CONFLICT", "{s:s, s:s, s:I, s:s}",
			      "migration_id", id, "region_name", "demo", "length", (json_int_t)4096,
			      "secret", SECRET));
	CHECK_OK(h_call_error(p.dctl, PROTO_T_MIGRATION_IN, "BAD_REQUEST", "{s:s, s:s, s:I, s:s}",
			      "migration_id", "not-a-uuid", "region_name", "demo", "length",
			      (json_int_t)4096, "secret", SECRET));
	CHECK_OK(h_call_error(p.dctl, PROTO_T_MIGRATION_IN, "BAD_REQUEST", "{s:s, s:s, s:I, s:s}",
			      "migration_id", "00000000-0000-4000-8000-000000000001", "region_name",
			      "demo", "length", (json_int_t)4096, "secret", "abcd"));
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_IN, "UNAVAILABLE", "{s:s, s:s, s:I, s:s}",
			      "migration_id", "00000000-0000-4000-8000-000000000001", "region_name",
			      "demo", "length", (json_int_t)4096, "secret", SECRET));
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_OUT, "NOT_FOUND", "{s:s, s:s, s:s, s:s}",
			      "migration_id", "00000000-0000-4000-8000-000000000002", "region_id",
			      "00000000-0000-4000-8000-000000000003", "destination", channel, "secret",
			      SECRET));
	CHECK_OK(h_call_error(p.dctl, PROTO_T_MIGRATION_GET, "NOT_FOUND", "{s:s}", "migration_id",
			      "00000000-0000-4000-8000-000000000002"));
	CHECK_OK(h_call_error(p.dctl, PROTO_T_MIGRATION_SWITCHOVER, "CONFLICT", "{s:s}",
			      "migration_id", id));
	CHECK_OK(h_call_error(p.dctl, PROTO_T_MIGRATION_DELETE, "CONFLICT", "{s:s}", "migration_id",
			      id));
	m = h_call(p.dctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	m = h_call(p.dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = h_call(p.dctl, PROTO_T_MIGRATION_LIST, "{}");
	CHECK(m && json_array_size(json_object_get(m, "migrations")) == 0);
	json_decref(m);
	json_decref(in);
	return T_PASS;
}

static int secret_of(void *arg, const char *id, uint8_t secret[PCHAN_SECRET_LEN])
{
	(void)arg;
	(void)id;
	return pchan_parse_secret(SECRET, secret);
}

/* Fake destination: authenticates the source, then asks for a page beyond its region. */
int t_mig_request_out_of_range(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], addr[64];
	uint8_t secret[PCHAN_SECRET_LEN], buf[PCHAN_HELLO_LEN], sn[PCHAN_NONCE_LEN], mac[PCHAN_MAC_LEN];
	int lfd;
	struct ptls_conn *cs[2] = { NULL, NULL };
	json_t *out, *m;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "4M", region));
	CHECK_OK(pchan_parse_secret(SECRET, secret));
	lfd = pchan_listen("127.0.0.1:0", addr, sizeof(addr));
	CHECK(lfd >= 0);
	new_id(id);
	out = mig_out(&p, id, region, addr, SECRET, json_pack("{s:s}", "postcopy", "manual"));
	CHECK(out);
	for (int i = 0; i < 2; i++) {
		struct pchan_hello hello;
		struct pchan_geom g = { 0 };
		struct pchan_hdr h;
		struct pollfd pf = { .fd = lfd, .events = POLLIN };

		char why[256];
		int fd;

		CHECK(poll(&pf, 1, 10000) == 1);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		CHECK(fd >= 0);
		char named[PCHAN_ID_LEN + 1];

		cs[i] = ptls_accept(test_tls(), fd, secret_of, NULL, deadline_in(5000), named, why,
				    sizeof(why));
		CHECKF(cs[i], "%s", why);
		ptls_set_deadline(cs[i], 0);
		CHECK_OK(pchan_recv(cs[i], &h, buf, sizeof(buf), &g, 5000));
		CHECK(h.type == PCHAN_T_HELLO && !pchan_decode_hello(buf, h.length, &hello));
		CHECK(hello.kind == (i ? PCHAN_PREEMPT : PCHAN_MAIN) && !strcmp(hello.id, id));
		pchan_nonce(sn);
		h = (struct pchan_hdr){ .type = PCHAN_T_CHALLENGE, .length = PCHAN_NONCE_LEN };
		CHECK_OK(pchan_send(cs[i], &h, sn));
		CHECK_OK(pchan_recv(cs[i], &h, buf, sizeof(buf), &g, 5000));
		CHECK(h.type == PCHAN_T_AUTH);
		pchan_mac(secret, false, id, hello.kind, hello.nonce, sn, mac);
		CHECK(pchan_mac_equal(mac, buf));
		pchan_mac(secret, true, id, hello.kind, hello.nonce, sn, mac);
		h = (struct pchan_hdr){ .type = PCHAN_T_AUTH_OK, .length = PCHAN_MAC_LEN };
		CHECK_OK(pchan_send(cs[i], &h, mac));
	}
	{
		struct pchan_hdr h = { .type = PCHAN_T_REQUEST, .page = 1024, .count = 1 };

		CHECK_OK(pchan_send(cs[1], &h, NULL));
	}
	CHECK_OK(h_wait_log(p.src.log, "frame length or page range does not fit", 10000));
	m = wait_phase(p.sctl, id, "paused precopy", 10000);
	CHECK(m && stat_of(m, "demand_pages") == 0);
	json_decref(m);
	/* the migration owns the region's hold uffd: no snapshot of it meanwhile */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_SNAPSHOT_TAKE, "CONFLICT", "{s:s, s:s, s:s, s:s}",
			      "snapshot_id", "00000000-0000-4000-8000-000000000001", "region_id", region,
			      "path", "/nonexistent/snapshot.img", "kind", "full"));
	/* cancel: the region goes back to its track uffd and its writers run */
	ptls_close(cs[0]);
	ptls_close(cs[1]);
	close(lfd);
	m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	{
		json_t *a = cmd(&src, "dump /dev/null\n", 10000), *b = NULL;
		uint64_t w0 = a ? (uint64_t)json_integer_value(json_object_get(a, "writes")) : 0, w1 = w0;

		for (int i = 0; i < 500 && w1 == w0; i++) {
			json_decref(b);
			b = cmd(&src, "dump /dev/null\n", 10000);
			w1 = b ? (uint64_t)json_integer_value(json_object_get(b, "writes")) : w0;
		}
		json_decref(a);
		json_decref(b);
		CHECKF(w1 > w0, "the source's writers do not run after cancel");
	}
	m = h_region_of(p.sctl, region);
	CHECK(m && !strcmp(str(m, "state"), "ATTACHED"));
	json_decref(m);
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(out);
	return T_PASS;
}

/* A client of one address that sends a byte every few hundred ms and never finishes. */
struct trickler {
	int fd;
	uint64_t opened_ms, closed_ms; /* 0: still open */
};

static uint64_t mono_ms(void)
{
	return mono_now_ms();
}

static int trickle_open(const char *channel, const char *from)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
	char host[64];
	uint16_t port;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || netaddr_parse(channel, host, sizeof(host), &port) ||
	    inet_pton(AF_INET, from, &a.sin_addr) != 1 || inet_pton(AF_INET, host, &b.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	b.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&b, sizeof(b))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * 40 connections from 127.0.0.2 that trickle a TLS record header a byte at
 * a time: 8 of them (the per-address limit) get a handshake slot and lose
 * it at the handshake deadline though they never stop sending, the others
 * are refused at once; meanwhile the real source, from 127.0.0.1, connects
 * at its first attempt and the job completes.
 */
int t_mig_trickling_clients(const struct t_env *env)
{
	static const char *const opts[] = { "--page-channel-handshake-timeout-ms", "1500", NULL };
	static const uint8_t hello_start[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC };
	enum { N = 40, DEADLINE_MS = 1500, SLACK_MS = 1500 };
	struct trickler t[N];
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m;
	const char *channel;
	unsigned refused = 0, dropped = 0, open_left = N;
	uint64_t start, worst = 0;

	(void)env;
	CHECK_OK(pair_start_with(&p, opts));
	CHECK_OK(start_source(&p, &src, "4M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(4) << 20, SECRET);
	CHECK(in);
	channel = str(in, "channel");
	for (int i = 0; i < N; i++) {
		t[i].fd = trickle_open(channel, "127.0.0.2");
		CHECKF(t[i].fd >= 0, "cannot connect from 127.0.0.2: %s", strerror(errno));
		t[i].opened_ms = mono_ms();
		t[i].closed_ms = 0;
	}
	out = mig_out(&p, id, region, channel, SECRET, json_object());
	CHECK(out);
	/* trickle until every connection is gone (or far past the deadline) */
	start = mono_ms();
	for (unsigned step = 0; open_left && mono_ms() - start < 4 * DEADLINE_MS; step++) {
		for (int i = 0; i < N; i++) {
			struct pollfd pf = { .fd = t[i].fd, .events = POLLIN };
			uint8_t b = hello_start[step % sizeof(hello_start)];
			char sink[64];

			if (t[i].closed_ms)
				continue;
			if ((poll(&pf, 1, 0) == 1 && read(t[i].fd, sink, sizeof(sink)) <= 0) ||
			    send(t[i].fd, &b, 1, MSG_NOSIGNAL) != 1) {
				t[i].closed_ms = mono_ms();
				open_left--;
			}
		}
		nap_ms(100);
	}
	for (int i = 0; i < N; i++) {
		uint64_t life = t[i].closed_ms - t[i].opened_ms;

		CHECKF(t[i].closed_ms, "connection %d still open after %d ms of trickling", i,
		       4 * DEADLINE_MS);
		if (life < DEADLINE_MS / 2) {
			refused++;
		} else {
			dropped++;
			worst = life > worst ? life : worst;
		}
		close(t[i].fd);
	}
	t_logf("%u refused at once, %u dropped at the deadline (latest after %llu ms)", refused,
	       dropped, (unsigned long long)worst);
	CHECKF(dropped == 8 && refused == N - 8, "%u dropped, %u refused", dropped, refused);
	CHECK(worst < DEADLINE_MS + SLACK_MS);
	CHECK_OK(h_wait_log(p.dst.log, "too many page channel handshakes from one address", 5000));
	/* the real source was not kept out: its first connection went through */
	m = wait_phase(p.sctl, id, "postcopy completed", 30000);
	CHECK(m);
	CHECK(stat_of(m, "reconnects") == 0);
	json_decref(m);
	CHECK(!h_file_contains(p.src.log, "page channel connect failed"));
	h_proc_write(&src, "exit\n");
	h_proc_wait(&src, 10000);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* ---- certificates ------------------------------------------------------ */

static int run_openssl(const char *const *argv)
{
	char out[4096], err[4096];
	int status = -1;

	if (h_run_capture(argv, out, sizeof(out), err, sizeof(err), &status) || status) {
		printf("    %s %s failed (%d): %s\n", argv[0], argv[1], status, err);
		return -1;
	}
	return 0;
}

/*
 * A test CA and one certificate for 127.0.0.1 (both agents use it: each
 * end presents it and checks the other's against the CA), made with the
 * openssl command.  opts gets the agent options, ending in NULL.
 */
static int make_certs(const char *dir, char paths[3][160], const char *opts[8])
{
	char cakey[160], csr[160], ext[160];
	FILE *f;

	snprintf(paths[0], 160, "%s/agent.pem", dir);
	snprintf(paths[1], 160, "%s/agent.key", dir);
	snprintf(paths[2], 160, "%s/ca.pem", dir);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", dir);
	snprintf(csr, sizeof(csr), "%s/agent.csr", dir);
	snprintf(ext, sizeof(ext), "%s/ext.cnf", dir);
	f = fopen(ext, "w");
	if (!f)
		return -1;
	fputs("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n", f);
	fclose(f);
	{
		const char *const ca[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
					   "ec_paramgen_curve:P-256", "-nodes", "-keyout", cakey, "-out",
					   paths[2], "-days", "1", "-subj", "/CN=faultline test CA", NULL };
		const char *const req[] = { "/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt",
					    "ec_paramgen_curve:P-256", "-nodes", "-keyout", paths[1], "-out",
					    csr, "-subj", "/CN=faultline test agent", NULL };
		const char *const sign[] = { "/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", paths[2], "-CAkey",
					     cakey, "-CAcreateserial", "-out", paths[0], "-days", "1",
					     "-extfile", ext, NULL };

		if (run_openssl(ca) || run_openssl(req) || run_openssl(sign))
			return -1;
	}
	opts[0] = "--page-channel-cert";
	opts[1] = paths[0];
	opts[2] = "--page-channel-key";
	opts[3] = paths[1];
	opts[4] = "--page-channel-ca";
	opts[5] = paths[2];
	opts[6] = NULL;
	return 0;
}

/* Certificates instead of the PSK: the migration arrives byte-exact. */
int t_mig_certificates(const struct t_env *env)
{
	char dir[64], paths[3][160];
	const char *opts[8];

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	CHECK_OK(make_certs(dir, paths, opts));
	return migrate_via("16M", UINT64_C(16) << 20, RELAY_NONE, opts);
}

/* With certificates configured, a peer that only knows the job's secret gets no TLS session. */
int t_mig_certificates_required(const struct t_env *env)
{
	char dir[64], paths[3][160], id[JX_UUID_LEN + 1], err[256] = "";
	const char *opts[8];
	struct pair p;
	json_t *in;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	CHECK_OK(make_certs(dir, paths, opts));
	CHECK_OK(pair_start_with(&p, opts));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(1) << 20, SECRET);
	CHECK(in);
	CHECK(!fake_source(str(in, "channel"), id, PCHAN_MAIN, err, sizeof(err)));
	CHECK_OK(h_wait_log(p.dst.log, "page channel TLS handshake failed, dropped", 5000));
	CHECK(h_file_contains(p.dst.log, "peer did not return a certificate") ||
	      h_file_contains(p.dst.log, "no suitable signature") ||
	      h_file_contains(p.dst.log, "certificate"));
	json_decref(in);
	return T_PASS;
}

/* ---- accept errors ----------------------------------------------------- */

/* The lowest descriptor number the process does not use. */
static int lowest_free_fd(pid_t pid)
{
	char path[64];

	for (int fd = 0; fd < 65536; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if (access(path, F_OK))
			return fd;
	}
	return -1;
}

/*
 * Out of descriptors, the listener backs off instead of retrying accept()
 * at once: the agent stays nearly idle with a connection queued, and takes
 * it once descriptors are back.
 */
int t_mig_accept_emfile_backs_off(const struct t_env *env)
{
	struct pair p;
	struct rlimit old, low;
	char id[JX_UUID_LEN + 1], err[256] = "";
	struct ptls_conn *c;
	json_t *in;
	long t0, t1;
	int fd, lowest;

	(void)env;
	CHECK_OK(pair_start(&p));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(1) << 20, SECRET);
	CHECK(in);
	lowest = lowest_free_fd(p.dst.pid);
	CHECK(lowest > 0);
	CHECK_OK(prlimit(p.dst.pid, RLIMIT_NOFILE, NULL, &old));
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	CHECK_OK(prlimit(p.dst.pid, RLIMIT_NOFILE, &low, NULL));
	fd = pchan_connect(str(in, "channel"), 2000); /* queued by the kernel, not accepted */
	CHECK(fd >= 0);
	CHECK_OK(h_wait_log(p.dst.log, "page channel accept failed, backing off", 5000));
	t0 = h_proc_cpu_ticks(p.dst.pid);
	nap_ms(1000);
	t1 = h_proc_cpu_ticks(p.dst.pid);
	CHECK(t0 >= 0 && t1 >= 0);
	/* a retry loop burns a whole CPU: about sysconf(_SC_CLK_TCK) ticks a second */
	CHECKF(t1 - t0 < sysconf(_SC_CLK_TCK) / 4, "the agent used %ld ticks in 1 s", t1 - t0);
	CHECK_OK(prlimit(p.dst.pid, RLIMIT_NOFILE, &old, NULL));
	close(fd);
	c = fake_source(str(in, "channel"), id, PCHAN_MAIN, err, sizeof(err));
	CHECKF(c, "no connection once descriptors are back: %s", err);
	ptls_close(c);
	json_decref(in);
	return T_PASS;
}

/*
 * "compress": "zstd": pages travel as pages_z frames (the demo's 0x5A pages
 * compress well) while two writers run, and every page arrives byte-exact.
 */
int t_mig_zstd_byte_exact(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, size_s, region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s, s:s}", "max_rounds", 2, "postcopy", "auto", "compress", "zstd"));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	m = wait_phase(p.sctl, id, "postcopy completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(dump_to(&src, sdump, 30000));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	t_logf("%llu pages compressed into %llu bytes", (unsigned long long)stat_of(m, "compressed_pages"),
	       (unsigned long long)stat_of(m, "compressed_bytes"));
	CHECK(stat_of(m, "compressed_pages") >= size / MIG_PAGE / 4);
	CHECK(stat_of(m, "compressed_bytes") < stat_of(m, "compressed_pages") * MIG_PAGE / 2);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	/* an unknown compression is refused, not ignored */
	m = mig_out(&p, "00000000-0000-4000-8000-000000000001", region, str(in, "channel"), SECRET,
		    json_pack("{s:s}", "compress", "lz4"));
	CHECK(!m);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}
