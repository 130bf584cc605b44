/*
 * Migration tests (PROTOCOL.md §1.9, §3): the page channel codec and
 * authentication as pure code, then two real agents on this machine with
 * faultline-demo workloads: a source that writes without pause during
 * precopy and a destination that attaches by region name.  The
 * destination's memory is compared byte for byte with the source's memory
 * captured while its writers are held.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "faultline.h"
#include "harness.h"
#include "hwork.h"
#include "jx.h"
#include "mono.h"
#include "netaddr.h"
#include "pchan.h"
#include "proto.h"
#include "ptls.h"
#include "test.h"

#define MIG_PAGE 4096
#define MIG_MARKS 64

static const char *const SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char *const OTHER = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

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
	hb[40] = 7;
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

/* ---- two agents -------------------------------------------------------- */

struct pair {
	struct h_agent src, dst;
	int sctl, dctl;
	char handoff[200];
};

/* extra: options for both agents (at most 6), NULL: none */
static int pair_start_with(struct pair *p, const char *const *extra)
{
	const char *dst[10] = { "--page-channel-listen", "127.0.0.1:0" };
	unsigned n = 2;

	for (unsigned i = 0; extra && extra[i] && n < 8; i++)
		dst[n++] = extra[i];
	dst[n] = NULL;
	if (h_agent_start(&p->src, extra) || h_agent_start(&p->dst, dst))
		return -1;
	p->sctl = h_ctl_open(&p->src);
	p->dctl = h_ctl_open(&p->dst);
	snprintf(p->handoff, sizeof(p->handoff), "%s/handoff.sock", p->src.state);
	return p->sctl < 0 || p->dctl < 0 ? -1 : 0;
}

static int pair_start(struct pair *p)
{
	return pair_start_with(p, NULL);
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static uint64_t stat_of(json_t *m, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(m, "stats"), k));
}

static void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls migration_get until the phase is one of `phases` (space separated). */
static json_t *wait_phase(int ctl, const char *id, const char *phases, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		const char *ph = m ? str(m, "phase") : NULL;
		char want[128];

		snprintf(want, sizeof(want), " %s ", phases);
		if (ph) {
			char have[32];

			snprintf(have, sizeof(have), " %s ", ph);
			if (strstr(want, have))
				return m;
		}
		if (waited >= timeout_ms) {
			char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;

			printf("    migration %s not in {%s} after %d ms: %s\n", id, phases, timeout_ms,
			       s ? s : "(no reply)");
			free(s);
			json_decref(m);
			return NULL;
		}
		json_decref(m);
		nap_ms(10);
	}
}

static json_t *mig_in(struct pair *p, const char *id, const char *name, uint64_t len,
		      const char *secret)
{
	return h_call(p->dctl, PROTO_T_MIGRATION_IN, "{s:s, s:s, s:I, s:i, s:s, s:{s:s}}",
		      "migration_id", id, "region_name", name, "length", (json_int_t)len, "page_size",
		      MIG_PAGE, "secret", secret, "labels", "app", "test");
}

static json_t *mig_out(struct pair *p, const char *id, const char *region, const char *dest,
		       const char *secret, json_t *options)
{
	return h_call(p->sctl, PROTO_T_MIGRATION_OUT, "{s:s, s:s, s:s, s:s, s:o}", "migration_id", id,
		      "region_id", region, "destination", dest, "secret", secret, "options", options);
}

/* rate: writes per second of all threads together, "0": as fast as they can */
static int start_source_paced(struct pair *p, struct h_proc *src, const char *size, char *region,
			      const char *threads, const char *rate)
{
	const char *args[] = { "mig-source", "--socket", p->handoff, "--size", size, "--threads",
			       threads, "--rate", rate, "--name", "demo", NULL };
	json_t *j;

	if (h_demo(src, args))
		return -1;
	j = h_proc_json(src, 10000);
	if (!j || !str(j, "region_id")) {
		json_decref(j);
		return -1;
	}
	snprintf(region, JX_UUID_LEN + 1, "%s", str(j, "region_id"));
	json_decref(j);
	return 0;
}

static int start_source_n(struct pair *p, struct h_proc *src, const char *size, char *region,
			  const char *threads)
{
	return start_source_paced(p, src, size, region, threads, "0");
}

static int start_source(struct pair *p, struct h_proc *src, const char *size, char *region)
{
	return start_source_n(p, src, size, region, "2");
}

static int start_dest(struct h_proc *dst, const char *sock, const char *size, const char *dump)
{
	const char *args[] = { "mig-dest", "--socket", sock, "--size", size, "--name", "demo",
			       "--dump", dump, "--mark", "64", NULL };
	json_t *j;

	if (h_demo(dst, args))
		return -1;
	j = h_proc_json(dst, 10000);
	if (!j || !str(j, "region_id")) {
		json_decref(j);
		return -1;
	}
	json_decref(j);
	return 0;
}

static json_t *cmd(struct h_proc *p, const char *line, int timeout_ms)
{
	if (h_proc_write(p, line))
		return NULL;
	return h_proc_json(p, timeout_ms);
}

/* Has workload w dump its region to path, within timeout_ms; 0 when it says ok. */
static int dump_to(struct h_proc *w, const char *path, int timeout_ms)
{
	char line[300];
	json_t *j;
	int r;

	snprintf(line, sizeof(line), "dump %s\n", path);
	j = cmd(w, line, timeout_ms);
	r = j && json_is_true(json_object_get(j, "ok")) ? 0 : -1;
	json_decref(j);
	return r;
}

/* Tells both workloads to exit and waits for them; 0 when both exited. */
static int exit_both(struct h_proc *src, struct h_proc *dst)
{
	int r;

	h_proc_write(src, "exit\n");
	h_proc_write(dst, "exit\n");
	r = h_proc_wait(src, 10000);
	return h_proc_wait(dst, 10000) || r ? -1 : 0;
}

/* Pages that differ, the destination's markers (last 16 bytes of marked pages) excepted. */
static long compare_dumps(const char *a, const char *b, uint64_t size)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	uint8_t pa[MIG_PAGE], pb[MIG_PAGE];
	uint64_t pages = size / MIG_PAGE, step = pages / MIG_MARKS;
	long diff = 0;

	if (!fa || !fb) {
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		return -1;
	}
	for (uint64_t p = 0; p < pages; p++) {
		if (fread(pa, 1, MIG_PAGE, fa) != MIG_PAGE || fread(pb, 1, MIG_PAGE, fb) != MIG_PAGE) {
			diff = -1;
			break;
		}
		if (p % step == 0 && p / step < MIG_MARKS)
			memcpy(pb + 4080, pa + 4080, 16);
		if (memcmp(pa, pb, MIG_PAGE)) {
			if (diff < 5)
				printf("    page %llu differs\n", (unsigned long long)p);
			diff++;
		}
	}
	fclose(fa);
	fclose(fb);
	return diff;
}

static void new_id(char *out)
{
	FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");

	if (!f || !fgets(out, JX_UUID_LEN + 1, f))
		snprintf(out, JX_UUID_LEN + 1, "6f0c2b0e-2c44-4f3e-9f1a-3a7d8c1b2e4f");
	if (f)
		fclose(f);
}

/* A TCP relay between the source and the destination's page channel that
 * the test can cut (closing every relayed connection) and block. */
struct relay {
	int lfd;
	char addr[64], target[64];
	_Atomic int cut, refuse, stop, conns;
	_Atomic int drop;      /* source -> destination bytes are read and thrown away */
	pthread_t t;
	/* source -> destination bytes of the first connection: kept, and one flipped */
	uint8_t *cap;
	size_t cap_len, cap_max;
	uint64_t first_seen;   /* relay thread: bytes of the first connection so far */
	_Atomic uint64_t flip_at; /* offset in the first connection; 0: none */
	_Atomic int flipped;
	int first_fd;          /* relay thread: the first connection's source side */
};

/* The first connection's source bytes: captured, and the one at flip_at flipped. */
static void relay_look(struct relay *r, uint8_t *buf, size_t len)
{
	uint64_t at = atomic_load(&r->flip_at);

	if (at && at >= r->first_seen && at < r->first_seen + len) {
		buf[at - r->first_seen] ^= 0x01;
		atomic_store(&r->flipped, 1);
	}
	if (r->cap && r->cap_len < r->cap_max) {
		size_t k = len < r->cap_max - r->cap_len ? len : r->cap_max - r->cap_len;

		memcpy(r->cap + r->cap_len, buf, k);
		r->cap_len += k;
	}
	r->first_seen += len;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	int fds[32][2];
	unsigned n = 0;
	char buf[65536];

	while (!atomic_load(&r->stop)) {
		struct pollfd pf[65];
		unsigned k = 0, polled;

		if (atomic_exchange(&r->cut, 0)) {
			for (unsigned i = 0; i < n; i++) {
				close(fds[i][0]);
				close(fds[i][1]);
			}
			n = 0;
			atomic_store(&r->conns, 0);
		}
		pf[k++] = (struct pollfd){ .fd = r->lfd, .events = POLLIN };
		for (unsigned i = 0; i < n; i++) {
			pf[k++] = (struct pollfd){ .fd = fds[i][0], .events = POLLIN };
			pf[k++] = (struct pollfd){ .fd = fds[i][1], .events = POLLIN };
		}
		polled = n; /* pairs accepted below are looked at next round */
		if (poll(pf, k, 5) <= 0)
			continue;
		if (pf[0].revents) {
			int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC), t;

			if (c >= 0 && (atomic_load(&r->refuse) || n == 32)) {
				close(c);
			} else if (c >= 0) {
				t = pchan_connect(r->target, 2000);
				/* the relay writes whole reads: blocking */
				if (t >= 0 && fcntl(t, F_SETFL, 0)) {
					close(t);
					t = -1;
				}
				if (t < 0) {
					close(c);
				} else {
					if (r->first_fd < 0)
						r->first_fd = c;
					fds[n][0] = c;
					fds[n][1] = t;
					n++;
					atomic_store(&r->conns, (int)n);
				}
			}
		}
		for (unsigned i = 0; i < polled; i++) {
			for (int side = 0; side < 2; side++) {
				ssize_t got;

				if (!pf[1 + 2 * i + (unsigned)side].revents)
					continue;
				got = read(fds[i][side], buf, sizeof(buf));
				if (got > 0 && !side && atomic_load(&r->drop))
					continue; /* lost on the way: the destination never sees them */
				if (got > 0 && !side && fds[i][0] == r->first_fd)
					relay_look(r, (uint8_t *)buf, (size_t)got);
				if (got <= 0 || write(fds[i][!side], buf, (size_t)got) != got) {
					if (fds[i][0] == r->first_fd)
						r->first_fd = -2; /* gone: later connections go through untouched */
					close(fds[i][0]);
					close(fds[i][1]);
					fds[i][0] = fds[n - 1][0];
					fds[i][1] = fds[n - 1][1];
					n--;
					atomic_store(&r->conns, (int)n);
					goto next_round;
				}
			}
		}
next_round:;
	}
	for (unsigned i = 0; i < n; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	return NULL;
}

static int relay_start(struct relay *r, const char *target)
{
	memset(r, 0, sizeof(*r));
	r->first_fd = -1;
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->lfd = pchan_listen("127.0.0.1:0", r->addr, sizeof(r->addr));
	if (r->lfd < 0)
		return -1;
	return pthread_create(&r->t, NULL, relay_main, r) ? -1 : 0;
}

static void relay_stop(struct relay *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->t, NULL);
	close(r->lfd);
	free(r->cap);
}

/* A run of len bytes equal to b in buf: page contents in clear. */
static bool has_run(const uint8_t *buf, size_t n, uint8_t b, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		run = buf[i] == b ? run + 1 : 0;
		if (run >= len)
			return true;
	}
	return false;
}

/*
 * The full path: precopy while two threads write, switchover after three
 * rounds, the destination workload's first writes and then a read of every
 * page, completion, the source told; every byte compared.
 */
enum relay_mode { RELAY_NONE, RELAY_CUT, RELAY_CAPTURE, RELAY_FLIP };

static int migrate_via(const char *size_s, uint64_t size, enum relay_mode mode,
		       const char *const *extra);

static int migrate_and_compare(const char *size_s, uint64_t size, bool cut)
{
	return migrate_via(size_s, size, cut ? RELAY_CUT : RELAY_NONE, NULL);
}

/*
 * extra: more agent options for both agents (NULL: none).  RELAY_CAPTURE
 * keeps the main channel's bytes and checks that no page content is in
 * them (TLS), or is (--page-channel-plaintext, the test's own control);
 * RELAY_FLIP flips one byte of it, 1 MiB in: that connection must end,
 * the job resume on a new one and the bytes still arrive exact.
 */
static int migrate_via(const char *size_s, uint64_t size, enum relay_mode mode,
		       const char *const *extra)
{
	bool cut = mode == RELAY_CUT, relayed = mode != RELAY_NONE;
	bool plain = extra && extra[0] && !strcmp(extra[0], "--page-channel-plaintext");
	struct pair p;
	struct h_proc src, dst;
	struct relay relay;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *opts, *j;
	const char *sock, *channel;
	long diff;

	CHECK_OK(pair_start_with(&p, extra));
	/* captured: no writers, so that every populated page is 0x5A, a pattern to look for */
	CHECK_OK(start_source_n(&p, &src, size_s, region, mode == RELAY_CAPTURE ? "0" : "2"));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in && !strcmp(str(in, "phase"), "precopy") && !strcmp(str(in, "role"), "destination"));
	sock = str(json_object_get(in, "session"), "socket");
	channel = str(in, "channel");
	CHECK(sock && channel);
	if (relayed)
		CHECK_OK(relay_start(&relay, channel));
	if (mode == RELAY_CAPTURE) {
		relay.cap_max = (size_t)size * 2;
		relay.cap = malloc(relay.cap_max);
		CHECK(relay.cap);
	}
	if (mode == RELAY_FLIP)
		atomic_store(&relay.flip_at, 1u << 20);
	/* with a cut the background push is slowed, so that the cut lands mid-postcopy */
	opts = json_pack("{s:i, s:s, s:I}", "max_rounds", 3, "postcopy", "auto",
			 "bandwidth_bytes_per_s", (json_int_t)(cut ? size / 2 : 0));
	out = mig_out(&p, id, region, relayed ? relay.addr : channel, SECRET, opts);
	CHECK(out && !strcmp(str(out, "phase"), "precopy") && !strcmp(str(out, "role"), "source"));
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	/* the destination workload attaches now: its faults wait for the switchover */
	CHECK_OK(start_dest(&dst, sock, size_s, ddump));
	m = wait_phase(p.sctl, id, "postcopy completed", 60000);
	CHECK(m);
	CHECK(stat_of(m, "rounds") >= 1 && stat_of(m, "precopy_pages") >= size / MIG_PAGE);
	json_decref(m);
	/* the source's writers are held from the switchover on: this is the state to carry */
	CHECK_OK(dump_to(&src, sdump, 30000));
	if (cut) {
		m = wait_phase(p.dctl, id, "postcopy", 10000);
		CHECK(m);
		json_decref(m);
		atomic_store(&relay.refuse, 1);
		atomic_store(&relay.cut, 1);
		m = wait_phase(p.sctl, id, "paused", 10000);
		CHECK_OK(h_wait_log(p.dst.log, "page channel broken, migration paused", 10000));
		CHECK(m && !strcmp(str(m, "paused_in"), "postcopy"));
		json_decref(m);
		m = wait_phase(p.dctl, id, "paused", 10000);
		CHECK(m && stat_of(m, "remaining_bytes") > 0);
		json_decref(m);
		/* while the link is down the destination's faults wait: nothing completes */
		m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		CHECK(m && strcmp(str(m, "phase"), "completed"));
		json_decref(m);
		atomic_store(&relay.refuse, 0);
		m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s}", "migration_id", id);
		CHECK(m);
		json_decref(m);
	}
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	if (cut || mode == RELAY_FLIP)
		CHECK(stat_of(m, "reconnects") >= 1);
	json_decref(m);
	if (mode == RELAY_FLIP) {
		CHECK(atomic_load(&relay.flipped));
		CHECK_OK(h_wait_log(p.dst.log, "page channel data failed its integrity check", 5000));
	}
	if (mode == RELAY_CAPTURE) {
		/* the populated pages are all 0x5A: in clear, long runs of it */
		t_logf("captured %zu bytes of the main channel", relay.cap_len);
		CHECK(relay.cap_len >= size / 2);
		CHECKF(has_run(relay.cap, relay.cap_len, 0x5A, 256) == plain,
		       plain ? "page contents not found in a plaintext channel: the check is blind"
			     : "page contents travel in clear");
	}
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	CHECK(json_is_integer(json_object_get(json_object_get(m, "stats"), "downtime_ms")));
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(m, "stats"),
								 "demand_latency"), "count")) > 0);
	t_logf("downtime %lld ms, demand p99 %lld ns",
	       (long long)json_integer_value(json_object_get(json_object_get(m, "stats"), "downtime_ms")),
	       (long long)json_integer_value(json_object_get(
		       json_object_get(json_object_get(m, "stats"), "demand_latency"), "p99_ns")));
	json_decref(m);
	/* the destination's own writes stay after every background page arrived */
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers")) == MIG_MARKS &&
	      json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	/* a page the destination workload drops reads zero, not the migrated bytes */
	j = cmd(&dst, "drop 3\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "nonzero_bytes")) == 0);
	json_decref(j);
	diff = compare_dumps(sdump, ddump, size);
	CHECKF(diff == 0, "%ld pages differ between the source at the hold and the destination", diff);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	/* deleting the finished jobs: the destination's memory is its own, no agent needed */
	m = h_call(p.dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(h_wait_log(p.dst.log, "destination region released to its workload", 10000));
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	j = cmd(&dst, "drop 7\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "nonzero_bytes")) == 0);
	json_decref(j);
	CHECK_OK(exit_both(&src, &dst));
	if (relayed)
		relay_stop(&relay);
	json_decref(in);
	json_decref(out);
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

/*
 * A region migrated while 4 threads write to random pages without pause,
 * so that writes land in every instant around the switchover; then the
 * source's memory (held) and the destination's are compared page by page.
 * The writers are paced (20,000 writes/s in all): unpaced, they dirty
 * every page between any two scans, everything is stale at the
 * switchover, and a lost write could not show.  tracking: the job's "tracking" option.  Returns the pages that
 * differ (or -1), and the tracking the source used into used[8].
 */
static long migrate_hammered(const char *tracking, char used[8])
{
	const char *size_s = "32M";
	uint64_t size = UINT64_C(32) << 20;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], cmdline[300];
	json_t *in, *m, *j;
	const char *sock, *channel;
	long diff = -1;

	used[0] = '\0';
	if (pair_start(&p) || start_source_paced(&p, &src, size_s, region, "4", "20000"))
		return -1;
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	sock = in ? str(json_object_get(in, "session"), "socket") : NULL;
	channel = in ? str(in, "channel") : NULL;
	if (!sock || !channel)
		goto out;
	m = mig_out(&p, id, region, channel, SECRET,
		    json_pack("{s:i, s:s, s:s}", "max_rounds", 2, "postcopy", "auto", "tracking", tracking));
	if (!m)
		goto out;
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	if (start_dest(&dst, sock, size_s, ddump))
		goto out;
	m = wait_phase(p.sctl, id, "postcopy completed", 60000);
	if (!m)
		goto out;
	if (str(json_object_get(m, "stats"), "tracking"))
		snprintf(used, 8, "%s", str(json_object_get(m, "stats"), "tracking"));
	json_decref(m);
	snprintf(cmdline, sizeof(cmdline), "dump %s\n", sdump);
	j = cmd(&src, cmdline, 30000);
	if (!j || !json_is_true(json_object_get(j, "ok"))) {
		json_decref(j);
		goto out;
	}
	json_decref(j);
	j = h_proc_json(&dst, 60000);
	if (j && str(j, "dumped"))
		diff = compare_dumps(sdump, ddump, size);
	json_decref(j);
	h_proc_write(&src, "exit\n");
	h_proc_write(&dst, "exit\n");
	h_proc_wait(&src, 10000);
	h_proc_wait(&dst, 10000);
out:
	json_decref(in);
	return diff;
}

/*
 * WP_ASYNC tracking moves the range from the track uffd to the hold uffd
 * at the switchover, which clears its uffd-wp bits: writes between the
 * last scan and the new protection would be unseen unless the workload is
 * stopped meanwhile (mig_src_engine.c).  With the stop, every page is
 * exact; the self-check runs the same against an agent that skips the
 * stop and widens the window (build/faultline-agent-inject,
 * FAULTLINE_INJECT=mig-gap), and the comparison must catch it.
 */
int t_mig_switchover_gap_covered(const struct t_env *env)
{
	char path[PATH_MAX], dir[PATH_MAX], used[8];
	long diff;

	diff = migrate_hammered("auto", used);
	CHECKF(!strcmp(used, "async"), "the source tracked with \"%s\", not WP_ASYNC", used);
	CHECKF(diff == 0, "%ld pages differ after a WP_ASYNC switchover under hammering writers", diff);
	/* the fallback: tracking on the hold uffd for the whole job */
	diff = migrate_hammered("hold", used);
	CHECKF(!strcmp(used, "hold"), "the source tracked with \"%s\", not on the hold uffd", used);
	CHECKF(diff == 0, "%ld pages differ after a switchover tracked on the hold uffd", diff);
	/* the self-check: without the stop the gap loses writes, and the comparison sees it */
	snprintf(dir, sizeof(dir), "%s", env->agent_path);
	snprintf(path, sizeof(path), "%s/faultline-agent-inject", dirname(dir));
	CHECKF(access(path, X_OK) == 0, "%s is missing (make builds it with the tests)", path);
	h_setup(path);
	setenv("FAULTLINE_INJECT", "mig-gap", 1);
	diff = migrate_hammered("auto", used);
	unsetenv("FAULTLINE_INJECT");
	h_setup(env->agent_path);
	t_logf("without the stop, %ld pages differ", diff);
	CHECKF(diff > 0, "an uncovered switchover gap went unnoticed (%ld pages differ): the test is blind",
	       diff);
	return T_PASS;
}

int t_mig_byte_for_byte(const struct t_env *env)
{
	(void)env;
	return migrate_and_compare("64M", UINT64_C(64) << 20, false);
}

int t_mig_byte_for_byte_256m(const struct t_env *env)
{
	(void)env;
	return migrate_and_compare("256M", UINT64_C(256) << 20, false);
}

int t_mig_cut_and_resume(const struct t_env *env)
{
	(void)env;
	return migrate_and_compare("64M", UINT64_C(64) << 20, true);
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

/* The TLS contexts of the tests' fake peers: the job's secret as PSK, as the agents'. */
static struct ptls *test_tls(void)
{
	static struct ptls *t;
	struct ptls_opts o = { 0 };
	char why[256];

	if (!t)
		t = ptls_new(&o, why, sizeof(why));
	return t;
}

static uint64_t deadline_in(unsigned ms)
{
	return mono_now_ns() + (uint64_t)ms * 1000000u;
}

/* Authenticates to the destination's page channel as the source would. */
static struct ptls_conn *fake_source(const char *channel, const char *id, enum pchan_kind kind,
				     char *err, size_t err_len)
{
	uint8_t secret[PCHAN_SECRET_LEN], buf[PCHAN_HELLO_LEN], sn[PCHAN_NONCE_LEN], mac[PCHAN_MAC_LEN];
	struct pchan_hello hello = { .kind = kind };
	struct pchan_hdr h = { .type = PCHAN_T_HELLO, .length = PCHAN_HELLO_LEN };
	struct pchan_geom g = { 0 };
	int fd = pchan_connect(channel, 2000);
	struct ptls_conn *c;

	if (fd < 0 || pchan_parse_secret(SECRET, secret)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c = ptls_connect(test_tls(), fd, "127.0.0.1", id, secret, deadline_in(5000), err, err_len);
	if (!c) {
		close(fd);
		return NULL;
	}
	ptls_set_deadline(c, 0);
	memcpy(hello.id, id, PCHAN_ID_LEN + 1);
	pchan_nonce(hello.nonce);
	pchan_encode_hello(&hello, buf);
	if (pchan_send(c, &h, buf) || pchan_recv(c, &h, buf, sizeof(buf), &g, 5000) ||
	    h.type != PCHAN_T_CHALLENGE)
		goto fail;
	memcpy(sn, buf, sizeof(sn));
	pchan_mac(secret, false, id, kind, hello.nonce, sn, mac);
	h = (struct pchan_hdr){ .type = PCHAN_T_AUTH, .length = PCHAN_MAC_LEN };
	if (pchan_send(c, &h, mac) || pchan_recv(c, &h, buf, sizeof(buf), &g, 5000))
		goto fail;
	if (h.type != PCHAN_T_AUTH_OK) {
		snprintf(err, err_len, "%.*s", (int)h.length, (char *)buf);
		goto fail;
	}
	pchan_mac(secret, true, id, kind, hello.nonce, sn, mac);
	if (!pchan_mac_equal(mac, buf))
		goto fail;
	return c;
fail:
	ptls_close(c);
	return NULL;
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

/* Writes counted by the source demo, after at least one more than `since` (deadline ~10 s). */
static uint64_t writes_after(struct h_proc *src, uint64_t since)
{
	uint64_t w = since;

	for (int i = 0; i < 1000 && w <= since; i++) {
		json_t *j = cmd(src, "dump /dev/null\n", 10000);

		w = j ? (uint64_t)json_integer_value(json_object_get(j, "writes")) : since;
		json_decref(j);
		if (w <= since)
			nap_ms(10);
	}
	return w;
}

/*
 * The source agent is killed mid-precopy, its writers waiting on the hold
 * uffd; the agent started again on the same state directory gives the
 * region back to the track uffd when libfaultline registers it again, so
 * the workload runs on (nothing had switched over).
 */
int t_mig_source_agent_killed(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	struct h_agent again;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m;
	uint64_t w, w2;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n}", "postcopy", "manual", "postcopy_after_ms"));
	CHECK(out);
	for (int i = 0;; i++) {
		m = wait_phase(p.sctl, id, "precopy", 10000);
		CHECK(m && i < 1000);
		if (stat_of(m, "rounds") >= 1)
			break;
		json_decref(m);
		nap_ms(10);
	}
	json_decref(m);
	CHECK_OK(kill(p.src.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&p.src, H_TIMEOUT_MS));
	close(p.sctl);
	CHECK_OK(h_agent_spawn(&again, p.src.dir, p.src.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&again, H_TIMEOUT_MS));
	w = writes_after(&src, 0);
	w2 = writes_after(&src, w);
	CHECKF(w2 > w, "the workload's writers stay blocked after the agent restarted");
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* Bytes of a file from off (0 when it is shorter or missing). */
static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (long)st.st_size;
}

/* Pages that differ between two dumps other than page `except`; -1: unreadable. */
static long compare_except(const char *a, const char *b, uint64_t size, uint64_t except,
			   uint64_t *except_nonzero)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	uint8_t pa[MIG_PAGE], pb[MIG_PAGE];
	uint64_t pages = size / MIG_PAGE, step = pages / MIG_MARKS;
	long diff = 0;

	*except_nonzero = 0;
	if (!fa || !fb) {
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		return -1;
	}
	for (uint64_t p = 0; p < pages; p++) {
		if (fread(pa, 1, MIG_PAGE, fa) != MIG_PAGE || fread(pb, 1, MIG_PAGE, fb) != MIG_PAGE) {
			diff = -1;
			break;
		}
		if (p == except) {
			for (unsigned i = 0; i < MIG_PAGE; i++)
				*except_nonzero += pb[i] != 0;
			continue;
		}
		if (p % step == 0 && p / step < MIG_MARKS)
			memcpy(pb + 4080, pa + 4080, 16);
		if (memcmp(pa, pb, MIG_PAGE)) {
			if (diff < 5)
				printf("    page %llu differs\n", (unsigned long long)p);
			diff++;
		}
	}
	fclose(fa);
	fclose(fb);
	return diff;
}

/*
 * The destination agent is killed (SIGKILL) in the middle of postcopy,
 * after its workload dropped a page it never read.  Started again on the
 * same state directory and address, it reads the job back from its
 * journal (paused: the secret is not on disk), the workload registers its
 * region again (libfaultline, resume_id), the control plane gives the
 * secret back, the source reconnects and sends what the destination lost;
 * the migration completes, every page equals the source's at the hold,
 * the workload's own writes stay, and the dropped page reads zero.
 */
int t_mig_dst_agent_killed(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	struct h_agent again;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256],
		removed[400], journal[400], channel[300], dregion[JX_UUID_LEN + 1];
	const char *extra[3] = { "--page-channel-listen", channel, NULL };
	uint64_t size = UINT64_C(16) << 20, nonzero;
	json_t *in, *out, *m, *j;
	int dctl;
	long diff;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	snprintf(channel, sizeof(channel), "%s", str(in, "channel"));
	/* 4 MiB/s and a switchover at once: the background push lasts seconds */
	out = mig_out(&p, id, region, channel, SECRET,
		      json_pack("{s:s, s:n, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", (json_int_t)(size / 4)));
	CHECK(out);
	m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", "-"));
	m = wait_phase(p.sctl, id, "postcopy", 30000);
	CHECK(m);
	json_decref(m);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(dump_to(&src, sdump, 30000));
	/* the workload's marks are written: it runs on the destination */
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && !strcmp(str(m, "phase"), "postcopy") && stat_of(m, "remaining_bytes") > 0,
	       "the destination should be mid-postcopy: %s", m ? str(m, "phase") : "no answer");
	snprintf(dregion, sizeof(dregion), "%s", str(m, "destination_region_id"));
	json_decref(m);
	/* dropped, never read: only the record says it must read zero */
	j = cmd(&dst, "forget 11\n", 10000);
	CHECK(j && json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	snprintf(removed, sizeof(removed), "%s/migration/%s.removed", p.dst.state, dregion);
	for (int waited = 0; file_size(removed) < 16; waited += 10) {
		CHECKF(waited < 10000, "no record of the removed page in %s", removed);
		nap_ms(10);
	}
	snprintf(journal, sizeof(journal), "%s/migration/%s.job", p.dst.state, id);
	{
		char text[4096] = "";
		FILE *f = fopen(journal, "r");
		size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

		if (f)
			fclose(f);
		text[n] = '\0';
		CHECKF(n > 0, "no journal at %s", journal);
		CHECKF(!strstr(text, SECRET) && !strstr(text, "secret"), "the secret is in the journal");
	}
	CHECK_OK(kill(p.dst.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&p.dst, H_TIMEOUT_MS));
	close(p.dctl);
	m = wait_phase(p.sctl, id, "paused", 10000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(h_agent_spawn(&again, p.dst.dir, p.dst.sock, extra));
	CHECK_OK(h_agent_wait_ready(&again, H_TIMEOUT_MS));
	dctl = h_ctl_open(&again);
	CHECK(dctl >= 0);
	m = h_call(dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && !strcmp(str(m, "phase"), "paused") && strstr(str(m, "error") ?: "", "secret") &&
		       json_is_true(json_object_get(m, "needs_secret")),
	       "the job read back: %s", m ? str(m, "phase") : "not found");
	json_decref(m);
	/* libfaultline registers the region again on the job's session socket */
	CHECK_OK(h_wait_log(again.log, "migration destination attached again", 10000));
	m = h_call(dctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret", SECRET);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	CHECK_OK(dump_to(&dst, ddump, 60000));
	m = wait_phase(dctl, id, "completed", 60000);
	CHECK(m && !strcmp(str(m, "destination_region_id") ?: "", dregion) &&
	      json_is_false(json_object_get(m, "needs_secret")));
	json_decref(m);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m && stat_of(m, "reconnects") >= 1);
	json_decref(m);
	diff = compare_except(sdump, ddump, size, 11, &nonzero);
	CHECKF(diff == 0, "%ld pages differ between the source at the hold and the destination", diff);
	CHECKF(nonzero == 0, "the page dropped before the restart reads %llu non-zero bytes",
	       (unsigned long long)nonzero);
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	m = h_call(dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECKF(access(journal, F_OK) && access(removed, F_OK), "the job's files outlive its delete");
	CHECK_OK(exit_both(&src, &dst));
	close(dctl);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The source agent is killed (SIGKILL) after the switchover, in the middle
 * of the background push.  Started again, it reads the job back from its
 * journal; libfaultline registers the source region again and the agent
 * keeps it held (the marker): its writers never run on the source again.
 * The control plane gives the secret back, the source sends every page and
 * the switchover again, and the migration completes byte-exact.
 */
int t_mig_source_agent_killed_held(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	struct h_agent again;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], line[300];
	uint64_t size = UINT64_C(16) << 20, w, w2, nonzero;
	json_t *in, *out, *m, *j;
	int sctl;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", (json_int_t)(size / 4)));
	CHECK(out);
	m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", "-"));
	m = wait_phase(p.sctl, id, "postcopy", 30000);
	CHECK(m);
	json_decref(m);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	snprintf(line, sizeof(line), "dump %s\n", sdump);
	j = cmd(&src, line, 30000);
	CHECK(j && json_is_true(json_object_get(j, "ok")));
	w = (uint64_t)json_integer_value(json_object_get(j, "writes"));
	json_decref(j);
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && stat_of(m, "remaining_bytes") > 0, "the destination should miss pages still");
	json_decref(m);
	CHECK_OK(kill(p.src.pid, SIGKILL));
	CHECK_OK(h_agent_wait_exit(&p.src, H_TIMEOUT_MS));
	close(p.sctl);
	m = wait_phase(p.dctl, id, "paused", 10000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(h_agent_spawn(&again, p.src.dir, p.src.sock, NULL));
	CHECK_OK(h_agent_wait_ready(&again, H_TIMEOUT_MS));
	CHECK_OK(h_wait_log(again.log, "region stays held: it migrated to another host", 10000));
	sctl = h_ctl_open(&again);
	CHECK(sctl >= 0);
	m = h_call(sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECKF(m && !strcmp(str(m, "phase"), "paused") && strstr(str(m, "error") ?: "", "secret"),
	       "the job read back: %s", m ? str(m, "phase") : "not found");
	json_decref(m);
	/* no cancel after the switchover, also after a restart */
	CHECK_OK(h_call_error(sctl, PROTO_T_MIGRATION_CANCEL, "CONFLICT", "{s:s}", "migration_id", id));
	/* the region is served again: region_get says ATTACHED once it is */
	for (int waited = 0;; waited += 10) {
		m = h_call(sctl, PROTO_T_REGION_GET, "{s:s}", "id", region);
		if (m && !strcmp(str(m, "state") ?: "", "ATTACHED"))
			break;
		json_decref(m);
		CHECKF(waited < 10000, "the source region is not attached again");
		nap_ms(10);
	}
	json_decref(m);
	/* held: the writers' count stays where it was at the hold */
	j = cmd(&src, "dump /dev/null\n", 10000);
	CHECK(j);
	w2 = (uint64_t)json_integer_value(json_object_get(j, "writes"));
	json_decref(j);
	CHECKF(w2 == w, "the source's writers ran again after the restart (%llu writes): split brain",
	       (unsigned long long)(w2 - w));
	m = h_call(sctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret", SECRET);
	CHECK(m);
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(line, sizeof(line), "dump %s\n", ddump);
	j = h_proc_json(&dst, 60000); /* the marks are written */
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	j = cmd(&dst, line, 60000);
	CHECK(j && json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	m = wait_phase(sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECK(compare_except(sdump, ddump, size, UINT64_MAX, &nonzero) == 0);
	j = cmd(&dst, "check\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "markers_wrong")) == 0);
	json_decref(j);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	j = cmd(&src, "dump /dev/null\n", 10000);
	CHECK(j && (uint64_t)json_integer_value(json_object_get(j, "writes")) == w);
	json_decref(j);
	m = h_call(sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	h_proc_write(&dst, "exit\n");
	CHECK_OK(h_proc_wait(&dst, 10000));
	close(sctl);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

enum restart_who { RS_SOURCE = 1, RS_DEST = 2, RS_BOTH = 3 };

/* Kills agent a (SIGKILL) and starts it again on its state directory; *ctl: a new control connection. */
static int restart_agent(struct h_agent *a, struct h_agent *again, int *ctl, const char *const *extra)
{
	if (kill(a->pid, SIGKILL) || h_agent_wait_exit(a, H_TIMEOUT_MS))
		return -1;
	close(*ctl);
	if (h_agent_spawn(again, a->dir, a->sock, extra) || h_agent_wait_ready(again, H_TIMEOUT_MS))
		return -1;
	*ctl = h_ctl_open(again);
	return *ctl < 0 ? -1 : 0;
}

/*
 * One or both agents killed (SIGKILL) and started again, before the
 * switchover (mid-precopy, the destination workload waiting) or after it
 * (mid-push): the jobs come back paused from their journals, the workloads
 * register again, the control plane gives the secrets back, and the
 * migration completes with every page equal to the source's at the hold.
 */
struct restart_out {
	long wrong;       /* pages that differ (-1: not compared) */
	unsigned leaks;   /* journals, records of removed pages, temporary files left */
};

/* Files of a migration's that outlive its jobs (the source's .held marker stays: by design). */
static unsigned mig_leftovers(const char *state)
{
	char dir[320];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/migration", state);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if ((len > 4 && !strcmp(de->d_name + len - 4, ".job")) ||
		    (len > 8 && !strcmp(de->d_name + len - 8, ".removed")) || strstr(de->d_name, ".tmp")) {
			printf("    left behind: %s/%s\n", dir, de->d_name);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static int migrate_through_restart_at(struct pair *pp, enum restart_who who, bool after_switchover,
				      unsigned delay_us, struct restart_out *res);

static int migrate_through_restart(enum restart_who who, bool after_switchover)
{
	struct restart_out res;
	struct pair p;
	int ret;

	CHECK_OK(pair_start(&p));
	ret = migrate_through_restart_at(&p, who, after_switchover, 0, &res);
	close(p.sctl);
	close(p.dctl);
	return ret;
}

/* pp: the agents, started (and again, in place, when they are restarted here) */
static int migrate_through_restart_at(struct pair *pp, enum restart_who who, bool after_switchover,
				      unsigned delay_us, struct restart_out *res)
{
	struct pair p = *pp;
	struct h_proc src, dst;
	struct h_agent s2, d2;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], line[300],
		channel[300];
	const char *dextra[3] = { "--page-channel-listen", channel, NULL };
	uint64_t size = UINT64_C(16) << 20, nonzero;
	json_t *in, *out, *m, *j;
	bool dumped = false;

	res->wrong = -1;
	res->leaks = 0;
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	snprintf(channel, sizeof(channel), "%s", str(in, "channel"));
	out = mig_out(&p, id, region, channel, SECRET,
		      json_pack("{s:s, s:n, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", (json_int_t)(size / 4)));
	CHECK(out);
	if (after_switchover) {
		m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
		CHECK(m);
		json_decref(m);
	}
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", "-"));
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	snprintf(line, sizeof(line), "dump %s\n", sdump);
	if (after_switchover) {
		m = wait_phase(p.sctl, id, "postcopy", 30000);
		CHECK(m);
		json_decref(m);
		j = cmd(&src, line, 30000);
		CHECK(j && json_is_true(json_object_get(j, "ok")));
		json_decref(j);
		dumped = true;
	} else {
		/* mid-precopy: some pages staged, the destination's faults wait */
		for (int waited = 0;; waited += 10) {
			m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
			if (m && (stat_of(m, "setup_ms") > 0 || waited > 10000))
				break;
			json_decref(m);
			nap_ms(10);
		}
		CHECK(m && !strcmp(str(m, "phase"), "precopy"));
		json_decref(m);
	}
	if (delay_us) {
		/* chaos: the moment of the kill, from the round's seed */
		struct timespec ts = { .tv_sec = delay_us / 1000000,
				       .tv_nsec = (long)(delay_us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}
	if (who & RS_SOURCE) {
		CHECK_OK(restart_agent(&p.src, &s2, &p.sctl, NULL));
		p.src = s2;
		*pp = p;
	}
	if (who & RS_DEST) {
		CHECK_OK(restart_agent(&p.dst, &d2, &p.dctl, dextra));
		p.dst = d2;
		*pp = p;
	}
	if (who & RS_DEST)
		CHECK_OK(h_wait_log(d2.log, "migration destination attached again", 10000));
	if (who & RS_DEST) {
		m = h_call(p.dctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret",
			   SECRET);
		CHECK(m);
		json_decref(m);
	}
	if (who & RS_SOURCE) {
		/* resumed once the workload registered its region again */
		for (int waited = 0;; waited += 10) {
			m = h_call(p.sctl, PROTO_T_REGION_GET, "{s:s}", "id", region);
			if (m && !strcmp(str(m, "state") ?: "", "ATTACHED"))
				break;
			json_decref(m);
			CHECKF(waited < 10000, "the source region is not attached again");
			nap_ms(10);
		}
		json_decref(m);
	}
	m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s, s:s}", "migration_id", id, "secret", SECRET);
	CHECK(m);
	json_decref(m);
	if (!after_switchover) {
		m = wait_phase(p.sctl, id, "precopy", 30000);
		CHECK(m);
		json_decref(m);
		m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
		CHECK(m);
		json_decref(m);
		m = wait_phase(p.sctl, id, "postcopy completed", 30000);
		CHECK(m);
		json_decref(m);
		j = cmd(&src, line, 30000);
		CHECK(j && json_is_true(json_object_get(j, "ok")));
		json_decref(j);
		dumped = true;
	}
	CHECK(dumped);
	j = h_proc_json(&dst, 60000); /* the marks are written */
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	CHECK_OK(dump_to(&dst, ddump, 60000));
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	res->wrong = compare_except(sdump, ddump, size, UINT64_MAX, &nonzero);
	CHECKF(res->wrong == 0, "%ld pages differ from the source's at the hold", res->wrong);
	j = cmd(&dst, "check\n", 30000);
	res->wrong = j ? json_integer_value(json_object_get(j, "markers_wrong")) : -1;
	CHECKF(res->wrong == 0, "the destination's own writes are lost");
	json_decref(j);
	j = cmd(&src, "wait-migrated\n", 70000);
	CHECK(j && json_is_true(json_object_get(j, "migrated")));
	json_decref(j);
	m = h_call(p.dctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	h_proc_write(&dst, "exit\n");
	CHECK_OK(h_proc_wait(&dst, 10000));
	res->leaks = mig_leftovers(p.src.state) + mig_leftovers(p.dst.state);
	CHECKF(!res->leaks, "%u files outlive the jobs", res->leaks);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The migration scenarios of the chaos campaign (tests/test_chaos.c has the
 * others): per round, from its seed, which agent dies (source,
 * destination, both), whether before the switchover or after it, and when
 * (up to 100 ms after that moment).  FAULTLINE_CHAOS_ROUNDS (default 3),
 * FAULTLINE_CHAOS_SEED (default: the clock).  A round that fails other than
 * by wrong bytes or leaked files counts as a hang (nothing completed in
 * its bounds).
 */
int t_chaos_migration(const struct t_env *env)
{
	const char *r = getenv("FAULTLINE_CHAOS_ROUNDS"), *sd = getenv("FAULTLINE_CHAOS_SEED");
	unsigned rounds = r ? (unsigned)strtoul(r, NULL, 10) : 3, hangs = 0, wrong = 0, leaks = 0;
	uint64_t seed = sd ? strtoull(sd, NULL, 10) : (uint64_t)time(NULL);
	struct pair p;

	(void)env;
	rounds = rounds ? rounds : 1;
	/* one pair of agents for every round (restarted in place): the harness's slots are few */
	CHECK_OK(pair_start(&p));
	printf("    migration: %u rounds, seed %llu\n", rounds, (unsigned long long)seed);
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t rs = (seed + i) * UINT64_C(0x9E3779B97F4A7C15);
		enum restart_who who;
		bool after;
		unsigned delay_us;
		struct restart_out res;
		int ret;

		/* splitmix64's finaliser: every choice follows from the round's seed alone */
		rs = (rs ^ (rs >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		rs = (rs ^ (rs >> 27)) * UINT64_C(0x94D049BB133111EB);
		rs ^= rs >> 31;
		who = (enum restart_who)(1 + rs % 3);
		after = (rs >> 8) & 1;
		delay_us = (unsigned)((rs >> 16) % 100000);

		printf("    round %u (seed %llu): kill %s %s the switchover, %u us in\n", i,
		       (unsigned long long)(seed + i),
		       who == RS_SOURCE ? "the source" : who == RS_DEST ? "the destination" : "both",
		       after ? "after" : "before", delay_us);
		ret = migrate_through_restart_at(&p, who, after, delay_us ? delay_us : 1, &res);
		if (res.wrong > 0)
			wrong++;
		else if (res.leaks)
			leaks++;
		else if (ret != T_PASS)
			hangs++;
		h_agents_forget_exited();
		if (ret != T_PASS) {
			/* the agents may be in any state now: the campaign stops here */
			printf("    round %u failed: replay with FAULTLINE_CHAOS_SEED=%llu "
			       "FAULTLINE_CHAOS_ROUNDS=1\n", i, (unsigned long long)(seed + i));
			rounds = i + 1;
			break;
		}
	}
	close(p.sctl);
	close(p.dctl);
	printf("    chaos migration: rounds=%u hangs=%u wrong_bytes=%u leaks=%u seed=%llu\n", rounds,
	       hangs, wrong, leaks, (unsigned long long)seed);
	return hangs || wrong || leaks ? T_FAIL : T_PASS;
}

/*
 * A source job read back after a restart before its switchover can still
 * be cancelled by the operator, and a cancelled job comes back cancelled
 * from its journal after the next restart: it is never started again.
 */
int t_mig_cancel_survives_restart(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	struct h_agent s2, s3;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n}", "postcopy", "manual", "postcopy_after_ms"));
	CHECK(out);
	m = wait_phase(p.sctl, id, "precopy", 10000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(restart_agent(&p.src, &s2, &p.sctl, NULL));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "paused"));
	json_decref(m);
	/* no secret yet: a resume says what it needs */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_RESUME, "CONFLICT", "{s:s}", "migration_id", id));
	m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	CHECK_OK(restart_agent(&s2, &s3, &p.sctl, NULL));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_RESUME, "CONFLICT", "{s:s, s:s}", "migration_id",
			      id, "secret", SECRET));
	m = h_call(p.sctl, PROTO_T_MIGRATION_DELETE, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	CHECK(mig_leftovers(s3.state) == 0);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	close(p.sctl);
	close(p.dctl);
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

int t_mig_dst_killed_precopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_DEST, false);
}

int t_mig_src_killed_precopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_SOURCE, false);
}

int t_mig_both_killed_precopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_BOTH, false);
}

int t_mig_both_killed_postcopy(const struct t_env *env)
{
	(void)env;
	return migrate_through_restart(RS_BOTH, true);
}

/*
 * Operator controls: pause in precopy (both sides pause, nothing moves),
 * resume, then a manual switchover by request; the migration completes
 * and the destination's copy equals the source's at the hold.
 */
int t_mig_pause_resume_switchover(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	uint64_t size = UINT64_C(16) << 20, before;
	json_t *in, *out, *m, *j;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n}", "postcopy", "manual", "postcopy_after_ms"));
	CHECK(out);
	for (int i = 0;; i++) {
		m = wait_phase(p.sctl, id, "precopy", 10000);
		CHECK(m && i < 1000);
		if (stat_of(m, "rounds") >= 2)
			break;
		json_decref(m);
		nap_ms(10);
	}
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_PAUSE, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "paused") && !strcmp(str(m, "paused_in"), "precopy"));
	json_decref(m);
	m = wait_phase(p.dctl, id, "paused", 10000);
	CHECK(m);
	json_decref(m);
	/* the source's job thread is parked from this line on */
	CHECK_OK(h_wait_log(p.src.log, "migration paused on request", 10000));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m);
	before = stat_of(m, "precopy_pages");
	json_decref(m);
	/* a switchover is refused while paused */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "CONFLICT", "{s:s}", "migration_id",
			      id));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && stat_of(m, "precopy_pages") == before); /* nothing moves while paused */
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_RESUME, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.sctl, id, "precopy", 10000);
	CHECK(m);
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", ddump));
	m = wait_phase(p.sctl, id, "postcopy completed", 30000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(dump_to(&src, sdump, 30000));
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.dctl, id, "completed", 30000);
	CHECK(m);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The source workload dies in the middle of postcopy: the pages it still
 * held are lost, so both sides fail and say why; the destination's
 * workload is never handed a page that did not come from the source.
 */
int t_mig_source_workload_dies(const struct t_env *env)
{
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], ddump[256];
	json_t *in, *out, *m;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	/* 8 MiB/s: the background push cannot finish before the kill */
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:i}", "max_rounds", 1, "bandwidth_bytes_per_s", 8 << 20));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	m = wait_phase(p.sctl, id, "postcopy", 30000);
	CHECK(m && stat_of(m, "remaining_bytes") > 0);
	json_decref(m);
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	m = wait_phase(p.sctl, id, "failed", 30000);
	CHECK(m && str(m, "error"));
	json_decref(m);
	m = wait_phase(p.dctl, id, "failed", 30000);
	CHECK(m && str(m, "error") && strstr(str(m, "error"), "the source failed"));
	json_decref(m);
	/* a destination workload that comes now waits for pages; it is never given zeros */
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), "16M", ddump));
	m = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "failed"));
	json_decref(m);
	CHECK_OK(kill(dst.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&dst, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * The switchover marker cannot be written (here: a directory is in its
 * place): no switchover.  The job fails with the reason before the source
 * holds its writers, the destination is told, and the source workload goes
 * on writing - the region's only current copy stays where it is.
 */
int t_mig_switchover_unrecorded(const struct t_env *env)
{
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], path[400];
	json_t *in, *out, *m;
	long t0, t;
	int waited = 0;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	snprintf(path, sizeof(path), "%s/migration", p.src.state);
	CHECK(!mkdir(path, 0700) || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/migration/%s.held", p.src.state, region);
	CHECK_OK(mkdir(path, 0700));
	snprintf(path, sizeof(path), "%s/migration/%s.held/in-the-way", p.src.state, region);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		CHECK(fd >= 0);
		close(fd);
	}
	new_id(id);
	in = mig_in(&p, id, "demo", UINT64_C(16) << 20, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET, json_object());
	CHECK(out);
	m = wait_phase(p.sctl, id, "failed completed", 60000);
	CHECKF(m && !strcmp(str(m, "phase"), "failed") && strstr(str(m, "error") ?: "", "cannot record the switchover"),
	       "the source's job: %s", m ? str(m, "phase") : "no answer");
	json_decref(m);
	m = wait_phase(p.dctl, id, "failed", 30000);
	CHECK(m && strstr(str(m, "error") ?: "", "the source failed"));
	json_decref(m);
	/* the source workload is not held: it uses CPU */
	t0 = h_proc_cpu_ticks(src.pid);
	for (t = t0; t0 >= 0 && t <= t0 + 1 && waited < 10000; waited += 20) {
		nap_ms(20);
		t = h_proc_cpu_ticks(src.pid);
	}
	CHECKF(t > t0 + 1, "the source workload stays held after the failed switchover");
	CHECK_OK(kill(src.pid, SIGKILL));
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
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

/* ---- the destination region after the migration completed --------------- */

struct toucher {
	volatile uint8_t *addr;
	size_t len;
	bool drop;
	atomic_bool stop;
	int done_fd;
};

/*
 * Reads one byte of every page again and again (faulting on what was
 * removed), or drops the range again and again (MADV_DONTNEED), so that
 * faults meet pending removals (EAGAIN from the agent's installs).
 */
static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	uint64_t one = 1;
	unsigned sum = 0;

	while (!atomic_load(&t->stop)) {
		if (t->drop) {
			madvise((void *)t->addr, t->len, MADV_DONTNEED);
			continue;
		}
		for (size_t off = 0; off < t->len; off += MIG_PAGE)
			sum += t->addr[off];
	}
	(void)sum;
	if (write(t->done_fd, &one, sizeof(one)) < 0)
		abort();
	return NULL;
}

/*
 * The test is the destination workload (libfaultline, in process).  Once
 * both sides report the migration completed, ranges of the region are
 * removed (MADV_DONTNEED, zapped late) while another thread keeps faulting
 * on them: every read returns promptly, removed pages read zero and the
 * others keep the migrated bytes.
 */
int t_mig_dst_remove_after_complete(const struct t_env *env)
{
	const uint64_t size = UINT64_C(16) << 20, pages = size / MIG_PAGE;
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	uint8_t *mem, *ref = malloc(size), *buf = malloc(size);
	json_t *in, *out, *m;
	fl_client *c;
	fl_region *r;

	(void)env;
	CHECK(ref && buf);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return t_skip("late removals need a second CPU for the agent");
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, "16M", region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s}", "max_rounds", 2, "postcopy", "auto"));
	CHECK(out);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	c = fl_connect(str(json_object_get(in, "session"), "socket"));
	CHECKF(c && !fl_region_register(c, mem, size, "demo", NULL, FL_MODE_MISSING, &r),
	       "register the destination: %s", fl_last_error());
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.dctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECKF(h_read_bounded(mem, size, ref) == 0, "reading the migrated region hangs");
	for (unsigned round = 0; round < 8; round++) {
		uint64_t first = (round * 131) % (pages / 2), n = 32 + (round * 257) % (pages / 4);
		/* the reader and the dropper share the last 16 pages; the late removal is elsewhere */
		struct toucher t[2] = {
			{ .addr = mem + size - 16 * MIG_PAGE, .len = 16 * MIG_PAGE },
			{ .addr = mem + size - 16 * MIG_PAGE, .len = 16 * MIG_PAGE, .drop = true },
		};
		pthread_t th[2];

		for (int k = 0; k < 2; k++) {
			t[k].done_fd = eventfd(0, EFD_CLOEXEC);
			CHECK(t[k].done_fd >= 0 && !pthread_create(&th[k], NULL, toucher_main, &t[k]));
		}
		CHECK_OK(h_remove_late(mem + first * MIG_PAGE, n * MIG_PAGE));
		for (int k = 0; k < 2; k++) {
			struct pollfd pfd = { .fd = t[k].done_fd, .events = POLLIN };

			atomic_store(&t[k].stop, true);
			CHECKF(poll(&pfd, 1, H_READ_BOUND_MS) == 1,
			       "round %u: a thread %s the last 16 pages while pages %llu..%llu were removed"
			       " hangs", round, t[k].drop ? "dropping" : "reading",
			       (unsigned long long)first, (unsigned long long)(first + n - 1));
			pthread_join(th[k], NULL);
			close(t[k].done_fd);
		}
		memset(ref + size - 16 * MIG_PAGE, 0, 16 * MIG_PAGE);
		memset(ref + first * MIG_PAGE, 0, n * MIG_PAGE);
		CHECKF(h_read_bounded(mem, size, buf) == 0, "round %u: a read after the removal hangs",
		       round);
		for (uint64_t pg = 0; pg < pages; pg++)
			CHECKF(!memcmp(buf + pg * MIG_PAGE, ref + pg * MIG_PAGE, MIG_PAGE),
			       "round %u: page %llu differs", round, (unsigned long long)pg);
	}
	fl_region_unregister(r);
	fl_disconnect(c);
	munmap(mem, size);
	json_decref(in);
	json_decref(out);
	free(ref);
	free(buf);
	return T_PASS;
}

/*
 * Populated pages of zeros (the source's holes, written with zeros) travel
 * as zero runs: no payload bytes for them, and they arrive as zeros; every
 * page compared byte for byte.
 */
int t_mig_zero_pages_not_sent(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, data;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	const char *args[] = { "mig-source", "--socket", NULL, "--size", size_s, "--threads", "0",
			       "--name", "demo", "--zero-holes", NULL };
	json_t *in, *out, *m, *j;

	(void)env;
	CHECK_OK(pair_start(&p));
	args[2] = p.handoff;
	CHECK_OK(h_demo(&src, args));
	j = h_proc_json(&src, 10000);
	CHECK(j && str(j, "region_id"));
	snprintf(region, sizeof(region), "%s", str(j, "region_id"));
	json_decref(j);
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s}", "max_rounds", 1, "postcopy", "auto"));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	data = stat_of(m, "precopy_bytes") + stat_of(m, "postcopy_bytes") + stat_of(m, "demand_bytes");
	t_logf("%llu payload bytes for %llu bytes of which half are zeros", (unsigned long long)data,
	       (unsigned long long)size);
	/* the 0x5A half, not a byte of the zero half (nothing writes: one round sends all) */
	CHECKF(data == size / 2, "%llu payload bytes sent, expected %llu", (unsigned long long)data,
	       (unsigned long long)(size / 2));
	CHECK(stat_of(m, "precopy_pages") >= size / MIG_PAGE);
	json_decref(m);
	CHECK_OK(dump_to(&src, sdump, 30000));
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* Polls migration_get until stats.key >= min; the object, or NULL after timeout_ms. */
static json_t *wait_stat(int ctl, const char *id, const char *key, uint64_t min, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);

		if (m && stat_of(m, key) >= min)
			return m;
		json_decref(m);
		if (waited >= timeout_ms) {
			printf("    migration %s: stats.%s < %llu after %d ms\n", id, key,
			       (unsigned long long)min, timeout_ms);
			return NULL;
		}
		nap_ms(10);
	}
}

/*
 * "skip_unchanged": the source workload (no writer threads; half its pages
 * 0x5A, half never touched) writes every page once during precopy, with
 * the bytes they hold ("same") or new ones ("change"), either once round 1
 * has sent everything (the next round finds them) or in the middle of a
 * slow round 1 just before the switchover (the final dirty set finds
 * them).  Every byte is compared at the end.
 */
struct rewrite_case {
	const char *name;
	const char *rewrite;   /* "same" or "change" */
	bool skip;             /* the job's skip_unchanged */
	bool at_switchover;    /* rewritten mid-round 1, switched over at once, */
	uint64_t downtime_ms;  /* with this max_downtime_ms: half of it for looking at the dirty set */
	bool inject;           /* an agent whose compare says "unchanged" always */
	/* expected */
	uint64_t min_unchanged, max_unchanged;
	uint64_t min_bytes, max_bytes; /* page bytes sent, in region sizes / 2 */
	bool differs;
};

static int rewrite_run(const struct t_env *env, const struct rewrite_case *c)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, bytes, unchanged, rounds;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256], path[PATH_MAX],
		dir[PATH_MAX], line[64];
	json_t *in, *out, *m, *j;
	long diff;

	if (c->inject) {
		snprintf(dir, sizeof(dir), "%s", env->agent_path);
		snprintf(path, sizeof(path), "%s/faultline-agent-inject", dirname(dir));
		CHECKF(access(path, X_OK) == 0, "%s is missing (make builds it with the tests)", path);
		h_setup(path);
		setenv("FAULTLINE_INJECT", "unchanged-always", 1);
	}
	CHECK_OK(pair_start(&p));
	if (c->inject) {
		unsetenv("FAULTLINE_INJECT");
		h_setup(env->agent_path);
	}
	CHECK_OK(start_source_n(&p, &src, size_s, region, "0"));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	/* mid-round 1: 4 MiB/s, so round 1 takes 2 s */
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:b, s:I, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"skip_unchanged", c->skip, "bandwidth_bytes_per_s",
				(json_int_t)(c->at_switchover ? size / 4 : 0), "max_downtime_ms",
				(json_int_t)(c->at_switchover ? c->downtime_ms : 10)));
	CHECK(out);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	/* round 1 done (every page sent), or a quarter of its bytes out */
	m = c->at_switchover ? wait_stat(p.sctl, id, "precopy_bytes", size / 8, 30000)
			     : wait_stat(p.sctl, id, "rounds", 1, 30000);
	CHECK(m);
	json_decref(m);
	snprintf(line, sizeof(line), "rewrite %s\n", c->rewrite);
	j = cmd(&src, line, 10000);
	CHECK(j && json_integer_value(json_object_get(j, "rewritten")) == (json_int_t)(size / MIG_PAGE));
	json_decref(j);
	if (!c->at_switchover) {
		/* the round after the one under way took the writes; the one after it dealt with them */
		m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		CHECK(m);
		rounds = stat_of(m, "rounds");
		json_decref(m);
		m = wait_stat(p.sctl, id, "rounds", rounds + 2, 30000);
		CHECK(m);
		json_decref(m);
	}
	m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.sctl, id, "postcopy completed", 30000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(dump_to(&src, sdump, 30000));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	bytes = stat_of(m, "precopy_bytes") + stat_of(m, "postcopy_bytes") + stat_of(m, "demand_bytes");
	unchanged = stat_of(m, "unchanged_pages");
	diff = compare_dumps(sdump, ddump, size);
	t_logf("%s: %llu page bytes sent for %llu populated (%llu of them on demand), %llu pages unchanged, "
	       "%ld pages differ", c->name, (unsigned long long)bytes, (unsigned long long)(size / 2),
	       (unsigned long long)stat_of(m, "demand_bytes"), (unsigned long long)unchanged, diff);
	/*
	 * At the switchover every page sent in precopy was written since: with time
	 * to look at them all, each one must have been found unchanged, not listed
	 * stale (the demand answers and the push may still overlap, as they do
	 * without the option).  Without, the push finds them (`current` frames),
	 * unless the destination's demand requests fetched them first.
	 */
	if (c->at_switchover && c->downtime_ms)
		CHECKF(unchanged >= stat_of(m, "precopy_bytes") / MIG_PAGE,
		       "%s: %llu pages unchanged, but %llu data pages were sent before the switchover",
		       c->name, (unsigned long long)unchanged,
		       (unsigned long long)(stat_of(m, "precopy_bytes") / MIG_PAGE));
	json_decref(m);
	CHECKF(unchanged >= c->min_unchanged && unchanged <= c->max_unchanged,
	       "%s: %llu pages unchanged, expected %llu-%llu", c->name, (unsigned long long)unchanged,
	       (unsigned long long)c->min_unchanged, (unsigned long long)c->max_unchanged);
	CHECKF(bytes >= c->min_bytes * (size / 2) && bytes <= c->max_bytes * (size / 2),
	       "%s: %llu page bytes sent, expected %llu-%llu x %llu", c->name, (unsigned long long)bytes,
	       (unsigned long long)c->min_bytes, (unsigned long long)c->max_bytes,
	       (unsigned long long)(size / 2));
	if (c->differs)
		CHECKF(diff > 0, "%s: a compare that says \"unchanged\" always went unnoticed: the test is "
		       "blind", c->name);
	else
		CHECKF(diff == 0, "%s: %ld pages differ between the source at the hold and the destination",
		       c->name, diff);
	/* an option that is not a boolean is refused, not taken for the default */
	CHECK_OK(h_call_error(p.sctl, PROTO_T_MIGRATION_OUT, "BAD_REQUEST", "{s:s, s:s, s:s, s:s, s:{s:s}}",
			      "migration_id", "00000000-0000-4000-8000-000000000002", "region_id", region,
			      "destination", str(in, "channel"), "secret", SECRET, "options",
			      "skip_unchanged", "yes"));
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * Pages are 4096: 2048 of 0x5A (8 MiB, "size / 2" below) and 2048 never
 * touched, sent as a zero run; a rewrite populates those with zeros
 * ("same") or makes them data ("change").
 */
int t_mig_unchanged_not_sent(const struct t_env *env)
{
	static const struct rewrite_case cases[] = {
		/*
		 * nothing goes twice: the 0x5A pages and the zeroed ones are all unchanged
		 * (counted per time a page was found so: the rewrite's two stores to a page
		 * can straddle a round's scan, which then reports it in two rounds)
		 */
		{ "same after round 1", "same", true, false, 0, false, 2048, 8192, 1, 1, false },
		/* what was sent of round 1 is not stale at the switchover, the rest goes once */
		{ "same mid-round 1", "same", true, true, 2000, false, 1, 8192, 1, 2, false },
		/* no time to look at the switchover: stale, then found current by the push */
		{ "same mid-round 1, no time at the switchover", "same", true, true, 0, false, 1, 8192, 1, 2,
		  false },
		/*
		 * changed bytes always go again: each page once more, 2 x 8 MiB of it,
		 * exactly, so no changed page was skipped.  Some are found unchanged all
		 * the same, rightly: a page whose two stores straddled a round's scan is
		 * reported in the round after it went too, and the tracking may report a
		 * page of a huge page written before the rewrite reached it (sent later).
		 */
		{ "change after round 1", "change", true, false, 0, false, 0, 4096, 3, 3, false },
		/* without the option the same bytes go again */
		{ "same, skip_unchanged off", "same", false, false, 0, false, 0, 0, 2, 3, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (rewrite_run(env, &cases[i]) != T_PASS)
			return T_FAIL;
	return T_PASS;
}

/*
 * The self-check: against an agent whose compare takes every page with a
 * fingerprint for unchanged (build/faultline-agent-inject,
 * FAULTLINE_INJECT=unchanged-always), the changed pages stay behind and
 * the byte comparison must see it.
 */
int t_mig_unchanged_compare_checked(const struct t_env *env)
{
	static const struct rewrite_case broken[] = {
		/* in a precopy round */
		{ "change, broken compare", "change", true, false, 0, true, 2048, 8192, 1, 1, true },
		/* in the postcopy push: `current` frames for stale pages that changed */
		{ "change mid-round 1, broken compare", "change", true, true, 0, true, 1, 8192, 0, 2, true },
	};

	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (rewrite_run(env, &broken[i]) != T_PASS)
			return T_FAIL;
	return T_PASS;
}

/*
 * Frames that never reached the destination: once round 1 is staged there,
 * the relay throws the source's bytes away, the workload changes every
 * page and the source sends them all (lost), then the relay cuts and the
 * source reconnects.  The destination's auth_ok seq names the last frame
 * it processed, so the source sends those pages again; their bytes are
 * the very ones it last sent, so their fingerprints match, but the
 * destination has the older bytes: only forgetting the fingerprints of
 * unprocessed frames on the reconnect sends them.  Returns the pages that
 * differ at the end, or -1.
 */
static long lost_frames_run(void)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, rounds, sent;
	struct pair p;
	struct h_proc src, dst;
	struct relay relay;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in = NULL, *m, *j;
	long diff = -1;
	bool relayed = false;

	if (pair_start(&p) || start_source_n(&p, &src, size_s, region, "0"))
		return -1;
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	if (!in || relay_start(&relay, str(in, "channel")))
		goto out;
	relayed = true;
	m = mig_out(&p, id, region, relay.addr, SECRET, json_pack("{s:s, s:n}", "postcopy", "manual",
								   "postcopy_after_ms"));
	if (!m)
		goto out;
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	if (start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump))
		goto out;
	/*
	 * Round 1 sent, and idle rounds after it while the destination stages
	 * it (loopback: far less than those rounds take); if it had not, the
	 * pages would go again anyway, and only the self-check could miss.
	 */
	if (!(m = wait_stat(p.sctl, id, "rounds", 1, 30000)))
		goto out;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	if (!(m = wait_stat(p.sctl, id, "rounds", rounds + 10, 30000)))
		goto out;
	sent = stat_of(m, "precopy_bytes");
	json_decref(m);
	atomic_store(&relay.drop, 1);
	j = cmd(&src, "rewrite change\n", 10000);
	if (!j || !json_object_get(j, "rewritten")) {
		json_decref(j);
		goto out;
	}
	json_decref(j);
	/* every page went out again (into the relay's bin) */
	if (!(m = wait_stat(p.sctl, id, "precopy_bytes", sent + size, 30000)))
		goto out;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	if (!(m = wait_stat(p.sctl, id, "rounds", rounds + 2, 30000)))
		goto out;
	json_decref(m);
	atomic_store(&relay.cut, 1);
	atomic_store(&relay.drop, 0);
	if (!(m = wait_stat(p.sctl, id, "reconnects", 1, 30000)))
		goto out;
	rounds = stat_of(m, "rounds");
	json_decref(m);
	/* a round on the new connection dealt with what it had to send again */
	if (!(m = wait_stat(p.sctl, id, "rounds", rounds + 2, 30000)))
		goto out;
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	json_decref(m);
	if (!m || !(m = wait_phase(p.sctl, id, "postcopy completed", 30000)))
		goto out;
	json_decref(m);
	if (dump_to(&src, sdump, 30000))
		goto out;
	j = h_proc_json(&dst, 60000);
	if (j && str(j, "dumped"))
		diff = compare_dumps(sdump, ddump, size);
	json_decref(j);
	if (exit_both(&src, &dst))
		diff = -1;
out:
	if (relayed)
		relay_stop(&relay);
	json_decref(in);
	return diff;
}

/*
 * The self-check runs it against an agent that keeps the fingerprints
 * over a reconnect (build/faultline-agent-inject,
 * FAULTLINE_INJECT=unchanged-keep): the destination keeps the older bytes
 * and the comparison must see it.
 */
int t_mig_unchanged_forgotten_on_reconnect(const struct t_env *env)
{
	char path[PATH_MAX], dir[PATH_MAX];
	long diff;

	diff = lost_frames_run();
	CHECKF(diff == 0, "%ld pages differ after frames were lost and the source reconnected", diff);
	snprintf(dir, sizeof(dir), "%s", env->agent_path);
	snprintf(path, sizeof(path), "%s/faultline-agent-inject", dirname(dir));
	CHECKF(access(path, X_OK) == 0, "%s is missing (make builds it with the tests)", path);
	h_setup(path);
	setenv("FAULTLINE_INJECT", "unchanged-keep", 1);
	diff = lost_frames_run();
	unsetenv("FAULTLINE_INJECT");
	h_setup(env->agent_path);
	t_logf("fingerprints kept over the reconnect: %ld pages differ", diff);
	CHECKF(diff > 0, "fingerprints of lost frames kept over a reconnect went unnoticed (%ld pages "
	       "differ): the test is blind", diff);
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

/*
 * A destination that never waits for a page (its workload attaches after the
 * switchover) has a downtime all the same: from the source's hold to the
 * moment the destination ran, before any fault was served.
 */
int t_mig_downtime_without_faults(const struct t_env *env)
{
	const char *size_s = "4M";
	uint64_t size = UINT64_C(4) << 20;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j, *st;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, size_s, region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:i, s:s}", "max_rounds", 1, "postcopy", "auto"));
	CHECK(out);
	/* switched over with no destination workload: nothing can fault there yet */
	m = wait_phase(p.dctl, id, "postcopy", 60000);
	CHECK(m);
	st = json_object_get(m, "stats");
	CHECKF(json_is_null(json_object_get(st, "first_fault_at_ms")) &&
		       json_is_integer(json_object_get(st, "downtime_ms")) &&
		       json_integer_value(json_object_get(st, "downtime_ms")) < 60000,
	       "downtime %s, first fault %s", json_dumps(json_object_get(st, "downtime_ms"), JSON_ENCODE_ANY),
	       json_dumps(json_object_get(st, "first_fault_at_ms"), JSON_ENCODE_ANY));
	json_decref(m);
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(dump_to(&src, sdump, 30000));
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	j = h_proc_json(&dst, 60000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	CHECK(m);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/* ---- granule_pages --------------------------------------------------------- */

/*
 * A migration_out with options opts (JSON text) is refused with
 * BAD_REQUEST, and its message names field.  The job would be "00…01".
 */
static int out_refused_naming(int ctl, const char *region, const char *dest, const char *opts,
			      const char *field)
{
	char req[1024], *payload = NULL;
	struct proto_hdr h;
	json_t *j;
	int ret = -1;

	snprintf(req, sizeof(req), "{\"migration_id\":\"00000000-0000-4000-8000-000000000001\","
		 "\"region_id\":\"%s\",\"destination\":\"%s\",\"secret\":\"%s\",\"options\":%s}",
		 region, dest, SECRET, opts);
	if (h_send_frame(ctl, PROTO_T_MIGRATION_OUT, 0, 9001, req) ||
	    h_recv_frame(ctl, H_TIMEOUT_MS, &h, &payload))
		return -1;
	j = json_loads(payload, 0, NULL);
	if (h.id == 9001 && (h.flags & PROTO_F_ERROR) && j && !strcmp(str(j, "code") ?: "", "BAD_REQUEST") &&
	    strstr(str(j, "message") ?: "", field))
		ret = 0;
	else
		printf("    options %s: wanted BAD_REQUEST naming \"%s\", got %s\n", opts, field, payload);
	json_decref(j);
	free(payload);
	return ret;
}

/*
 * One job tracked on the hold uffd with granule_pages `granule`, on agents
 * whose own granule (--track-granule-pages) is 4: once round 1 has sent
 * every page, the workload writes every page once; *faults: the tracking
 * faults that took.  The job is cancelled at the end (the worker lets go).
 */
static int granule_run(uint64_t granule, uint64_t *faults)
{
	static const char *const agent_granule[] = { "--track-granule-pages", "4", NULL };
	const uint64_t size = UINT64_C(16) << 20;
	struct pair p;
	struct h_proc src;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
	json_t *in, *out, *m, *j;
	uint64_t before, rounds;

	CHECK_OK(pair_start_with(&p, agent_granule));
	CHECK_OK(start_source_n(&p, &src, "16M", region, "0"));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:s, s:I}", "postcopy", "manual", "postcopy_after_ms",
				"tracking", "hold", "granule_pages", (json_int_t)granule));
	CHECK(out);
	m = wait_stat(p.sctl, id, "rounds", 1, 30000);
	CHECK(m && !strcmp(str(json_object_get(m, "stats"), "tracking") ?: "", "hold"));
	before = stat_of(m, "tracking_faults");
	json_decref(m);
	j = cmd(&src, "rewrite change\n", 30000);
	CHECK(j && json_integer_value(json_object_get(j, "rewritten")) == (json_int_t)(size / MIG_PAGE));
	json_decref(j);
	/* the worker counts a fault as it lifts it: a round it served after them sees them all */
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m);
	rounds = stat_of(m, "rounds");
	json_decref(m);
	m = wait_stat(p.sctl, id, "rounds", rounds + 1, 30000);
	CHECK(m);
	*faults = stat_of(m, "tracking_faults") - before;
	json_decref(m);
	m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
	CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
	json_decref(m);
	/* bad values are refused, naming the option, not clamped */
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":0}",
				    "granule_pages"));
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":513}",
				    "granule_pages"));
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":-16}",
				    "granule_pages"));
	CHECK_OK(out_refused_naming(p.sctl, region, str(in, "channel"), "{\"granule_pages\":\"16\"}",
				    "granule_pages"));
	h_proc_write(&src, "exit\n");
	CHECK_OK(h_proc_wait(&src, 10000));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}

/*
 * "granule_pages": a job that tracks on the hold uffd lifts its own granule
 * per write fault, not the agent's: writing each of 4096 pages once costs
 * about 4096 faults with 1 and about 256 with 16 (a round that protects a
 * page between the writer's two stores to it adds one), and the agent's 4
 * (1024) would fail both.
 */
int t_mig_granule_pages_applied(const struct t_env *env)
{
	static const uint64_t granules[] = { 1, 16 };
	const uint64_t pages = (UINT64_C(16) << 20) / MIG_PAGE;

	(void)env;
	for (size_t i = 0; i < sizeof(granules) / sizeof(granules[0]); i++) {
		uint64_t g = granules[i], faults = 0;

		if (granule_run(g, &faults) != T_PASS)
			return T_FAIL;
		t_logf("granule_pages %llu: %llu tracking faults for %llu pages written once",
		       (unsigned long long)g, (unsigned long long)faults, (unsigned long long)pages);
		CHECKF(faults >= pages / g && faults < 2 * pages / g,
		       "granule_pages %llu: %llu tracking faults, expected %llu-%llu: the job's granule is "
		       "not the one lifted", (unsigned long long)g, (unsigned long long)faults,
		       (unsigned long long)(pages / g), (unsigned long long)(2 * pages / g - 1));
	}
	return T_PASS;
}

/*
 * Threads of process pid that are traced or in a ptrace stop (auto-converge
 * must never leave one so once a job ends); -1 when /proc cannot be read.
 */
static int traced_threads(pid_t pid)
{
	char path[320], line[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* exited meanwhile */
		while (fgets(line, sizeof(line), f)) {
			if ((!strncmp(line, "TracerPid:", 10) && atoi(line + 10) != 0) ||
			    (!strncmp(line, "State:", 6) && strpbrk(line + 6, "tT"))) {
				n++;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Polls the source's job until its stats say throttle == want (timeout_ms); the job, or NULL. */
static json_t *wait_throttle(int ctl, const char *id, const char *want, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		json_t *m = h_call(ctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		const char *t = m ? str(json_object_get(m, "stats"), "throttle") : NULL;

		if (t && !strcmp(t, want))
			return m;
		if (waited >= timeout_ms || (m && strcmp(str(m, "phase"), "precopy"))) {
			char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;

			printf("    throttle not \"%s\" after %d ms: %s\n", want, waited, s ? s : "(no reply)");
			free(s);
			json_decref(m);
			return NULL;
		}
		json_decref(m);
		nap_ms(10);
	}
}

/*
 * auto_converge: a writer that outruns the page channel (20,000 random
 * writes a second against 40 MB/s, 16 MiB) never lets the rounds converge: without
 * the option the source switches over after the first round with most of
 * the region stale; with it, each round that does not converge stops the
 * writer for a larger share of every 100 ms (20%, 30%, ...) until the
 * rounds catch up, and the switchover leaves far fewer pages to send,
 * with WP_ASYNC tracking as on the hold uffd.  (The writer is paced: the
 * throttle slows it by what it cannot catch up, at most 10 ms per period.)
 * Every page arrives byte-exact either way, and no thread of the workload
 * is traced or stopped once the job is over.
 */
int t_mig_auto_converge(const struct t_env *env)
{
	/* on the hold uffd the job's granule_pages (1 by default) lifts page by page, as WP_ASYNC
	 * tracks (16 pages a fault would keep this writer's pages all dirty until the throttle is
	 * near its top) */
	static const struct {
		bool auto_converge;
		const char *tracking;
		unsigned min_pct; /* the throttle at the switchover at least (hold: its faults slow the writer too) */
	} cases[] = { { false, "auto", 0 }, { true, "auto", 30 }, { true, "hold", 20 } };
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, stale[3] = { 0, 0, 0 };

	(void)env;
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pair p;
		struct h_proc src, dst;
		char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
		json_t *in, *out, *m, *j, *st;
		const char *thr;

		CHECK_OK(pair_start(&p));
		CHECK_OK(start_source_paced(&p, &src, size_s, region, "2", "20000"));
		new_id(id);
		in = mig_in(&p, id, "demo", size, SECRET);
		CHECK(in);
		out = mig_out(&p, id, region, str(in, "channel"), SECRET,
			      json_pack("{s:I, s:i, s:i, s:s, s:n, s:b, s:s}", "bandwidth_bytes_per_s",
					(json_int_t)40000000, "max_rounds", 40, "max_downtime_ms", 20,
					"postcopy", "auto", "postcopy_after_ms", "auto_converge",
					cases[c].auto_converge, "tracking", cases[c].tracking));
		CHECK(out);
		snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
		snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
		m = wait_phase(p.sctl, id, "postcopy completed", 120000);
		CHECK(m);
		json_decref(m);
		CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
		CHECK_OK(dump_to(&src, sdump, 30000));
		j = h_proc_json(&dst, 60000);
		CHECK(j && str(j, "dumped"));
		json_decref(j);
		m = wait_phase(p.sctl, id, "completed", 60000);
		CHECK(m);
		st = json_object_get(m, "stats");
		thr = str(st, "throttle");
		stale[c] = stat_of(m, "postcopy_pages") + stat_of(m, "demand_pages");
		t_logf("auto_converge %s, tracking %s: %llu rounds, %llu pages stale at the switchover, throttle %s at "
		       "%llu%%, held %llu ms", cases[c].auto_converge ? "on" : "off",
		       cases[c].tracking, (unsigned long long)stat_of(m, "rounds"), (unsigned long long)stale[c],
		       thr ? thr : "null", (unsigned long long)stat_of(m, "throttle_pct"),
		       (unsigned long long)stat_of(m, "throttled_ms"));
		if (cases[c].auto_converge) {
			CHECKF(thr && !strcmp(thr, "stopped"), "throttle %s after the job", thr ? thr : "null");
			CHECKF(stat_of(m, "throttle_pct") >= cases[c].min_pct, "the throttle stopped at %llu%%",
			       (unsigned long long)stat_of(m, "throttle_pct"));
			CHECK(stat_of(m, "throttled_ms") > 0);
		} else {
			CHECK(!thr && stat_of(m, "throttle_pct") == 0 && stat_of(m, "throttled_ms") == 0);
		}
		json_decref(m);
		CHECKF(compare_dumps(sdump, ddump, size) == 0, "pages differ (auto_converge %d)",
		       cases[c].auto_converge);
		CHECKF(traced_threads(src.pid) == 0, "the source workload is still traced or stopped");
		CHECK_OK(exit_both(&src, &dst));
		json_decref(in);
		json_decref(out);
	}
	/* typically a tenth; the drain before the stop (up to 2 s, the workload throttled) adds some */
	for (unsigned c = 1; c < sizeof(cases) / sizeof(cases[0]); c++)
		CHECKF(stale[c] * 3 < stale[0] * 2, "auto-converge (tracking %s) left %llu pages stale, %llu without it",
		       cases[c].tracking, (unsigned long long)stale[c], (unsigned long long)stale[0]);
	return T_PASS;
}

/*
 * A workload the source agent may not stop (ptrace refused; injected, as
 * the tests run as root): auto_converge reports the throttle "unavailable"
 * and the job switches over as without it, every page byte-exact.
 */
int t_mig_auto_converge_unavailable(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20;
	char path[PATH_MAX], dir[PATH_MAX];
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j;
	const char *thr;
	int r = T_FAIL;

	snprintf(dir, sizeof(dir), "%s", env->agent_path);
	snprintf(path, sizeof(path), "%s/faultline-agent-inject", dirname(dir));
	CHECKF(access(path, X_OK) == 0, "%s is missing (make builds it with the tests)", path);
	h_setup(path);
	setenv("FAULTLINE_INJECT", "throttle-eperm", 1);
	if (pair_start(&p) || start_source_paced(&p, &src, size_s, region, "2", "20000"))
		goto out;
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	if (!in)
		goto out;
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:I, s:i, s:i, s:s, s:n, s:b}", "bandwidth_bytes_per_s", (json_int_t)40000000,
				"max_rounds", 40, "max_downtime_ms", 20, "postcopy", "auto", "postcopy_after_ms",
				"auto_converge", true));
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	m = out ? wait_phase(p.sctl, id, "postcopy completed", 120000) : NULL;
	if (!m)
		goto out_in;
	json_decref(m);
	if (start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump) ||
	    dump_to(&src, sdump, 30000))
		goto out_in;
	j = h_proc_json(&dst, 60000);
	if (!j || !str(j, "dumped")) {
		json_decref(j);
		goto out_in;
	}
	json_decref(j);
	m = wait_phase(p.sctl, id, "completed", 60000);
	if (!m)
		goto out_in;
	thr = str(json_object_get(m, "stats"), "throttle");
	t_logf("throttle %s after %llu round(s), held %llu ms", thr ? thr : "null",
	       (unsigned long long)stat_of(m, "rounds"), (unsigned long long)stat_of(m, "throttled_ms"));
	if (!thr || strcmp(thr, "unavailable") || stat_of(m, "throttled_ms") != 0 ||
	    stat_of(m, "rounds") != 1) {
		printf("    expected throttle \"unavailable\", nothing held, the switchover after round 1\n");
		json_decref(m);
		goto out_in;
	}
	json_decref(m);
	if (compare_dumps(sdump, ddump, size) != 0 || traced_threads(src.pid) != 0 || exit_both(&src, &dst))
		goto out_in;
	r = T_PASS;
out_in:
	json_decref(in);
	json_decref(out);
out:
	unsetenv("FAULTLINE_INJECT");
	h_setup(env->agent_path);
	return r;
}

/*
 * However a job ends while it throttles its workload, the workload runs on
 * at once, traced by nobody: cancelled, paused (it is unthrottled until the
 * job goes on), or the source agent stopped.
 */
int t_mig_auto_converge_lets_go(const struct t_env *env)
{
	enum end { END_CANCEL, END_PAUSE, END_AGENT_STOP };
	static const struct {
		const char *name;
		enum end end;
	} cases[] = { { "cancel", END_CANCEL }, { "pause", END_PAUSE }, { "agent stop", END_AGENT_STOP } };

	(void)env;
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pair p;
		struct h_proc src;
		char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1];
		json_t *in, *out, *m;
		uint64_t w;

		t_logf("ends by %s", cases[c].name);
		CHECK_OK(pair_start(&p));
		CHECK_OK(start_source_n(&p, &src, "4M", region, "1"));
		new_id(id);
		in = mig_in(&p, id, "demo", UINT64_C(4) << 20, SECRET);
		CHECK(in);
		if (c == 0) {
			/* a flag that is not a boolean is refused, not taken for false */
			m = mig_out(&p, id, region, str(in, "channel"), SECRET,
				    json_pack("{s:s}", "auto_converge", "yes"));
			CHECK(!m);
		}
		out = mig_out(&p, id, region, str(in, "channel"), SECRET,
			      json_pack("{s:I, s:i, s:s, s:n, s:b}", "bandwidth_bytes_per_s",
					(json_int_t)1000000, "max_rounds", 1000, "postcopy", "auto",
					"postcopy_after_ms", "auto_converge", true));
		CHECK(out);
		m = wait_throttle(p.sctl, id, "throttling", 30000);
		CHECK(m);
		CHECK(stat_of(m, "throttle_pct") >= 20);
		json_decref(m);
		switch (cases[c].end) {
		case END_CANCEL:
			m = h_call(p.sctl, PROTO_T_MIGRATION_CANCEL, "{s:s}", "migration_id", id);
			CHECK(m && !strcmp(str(m, "phase"), "cancelled"));
			json_decref(m);
			break;
		case END_PAUSE:
			m = h_call(p.sctl, PROTO_T_MIGRATION_PAUSE, "{s:s}", "migration_id", id);
			CHECK(m);
			json_decref(m);
			/* logged once the job thread has unthrottled and parked */
			CHECK_OK(h_wait_log(p.src.log, "migration paused on request", 10000));
			m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
			CHECK(m && !strcmp(str(json_object_get(m, "stats"), "throttle"), "ready") &&
			      stat_of(m, "throttle_pct") == 0);
			json_decref(m);
			break;
		case END_AGENT_STOP:
			CHECK_OK(kill(p.src.pid, SIGTERM));
			CHECK_OK(h_agent_wait_exit(&p.src, H_TIMEOUT_MS));
			CHECK(h_agent_exit_code(&p.src) == 0);
			break;
		}
		CHECKF(traced_threads(src.pid) == 0, "%s: the workload is still traced or stopped",
		       cases[c].name);
		w = writes_after(&src, 0);
		CHECKF(writes_after(&src, w) > w, "%s: the workload does not run on", cases[c].name);
		h_proc_write(&src, "exit\n");
		CHECK_OK(h_proc_wait(&src, 10000));
		json_decref(in);
		json_decref(out);
	}
	return T_PASS;
}

/* Page p's bytes as the fake source sends them first: its number in every byte. */
static void first_copy(uint8_t *page, uint64_t p)
{
	memset(page, (int)(p * 7 + 1), MIG_PAGE);
	memcpy(page, &p, sizeof(p));
}

/*
 * After the switchover a staged page that is ready may be installed from
 * the staging at any moment, so the destination never writes into it
 * again: not a second copy of it (raw, or zstd, which decompresses with
 * its output buffer as scratch), whatever it holds.  A fake source sends
 * every page, the switchover, then the same pages again with other bytes
 * (raw and pages_z, on both channels); the workload attaches only after
 * that, so nothing was installed in between, and must read the first
 * copies, byte for byte.  (Caught a destination that decompressed pages_z
 * frames straight into the staging of pages being installed.)
 */
int t_mig_dest_keeps_first_copy(const struct t_env *env)
{
	const uint64_t pages = 256, size = pages * MIG_PAGE;
	struct pair p;
	struct h_proc dst;
	char id[JX_UUID_LEN + 1], err[256] = "", ddump[256];
	const char *args[] = { "mig-dest", "--socket", NULL, "--size", "1M", "--name", "demo",
			       "--dump", NULL, NULL };
	uint8_t *pg = malloc(64 * MIG_PAGE), *z = malloc(ZSTD_compressBound(64 * MIG_PAGE));
	uint8_t setup[12], ms[8] = { 0 }, in[64];
	struct pchan_geom g = { .n_pages = pages, .page_size = MIG_PAGE };
	struct pchan_hdr h;
	struct ptls_conn *c, *pc;
	uint64_t seq = 0, acked = 0;
	FILE *f;
	json_t *j, *mi;

	(void)env;
	CHECK(pg && z);
	CHECK_OK(pair_start(&p));
	new_id(id);
	mi = mig_in(&p, id, "demo", size, SECRET);
	CHECK(mi);
	c = fake_source(str(mi, "channel"), id, PCHAN_MAIN, err, sizeof(err));
	CHECKF(c, "main channel: %s", err);
	pc = fake_source(str(mi, "channel"), id, PCHAN_PREEMPT, err, sizeof(err));
	CHECKF(pc, "preempt channel: %s", err);
	for (int b = 0; b < 8; b++)
		setup[b] = (uint8_t)(size >> (56 - 8 * b));
	for (int b = 0; b < 4; b++)
		setup[8 + b] = (uint8_t)((uint32_t)MIG_PAGE >> (24 - 8 * b));
	h = (struct pchan_hdr){ .type = PCHAN_T_SETUP, .length = 12 };
	CHECK_OK(pchan_send(c, &h, setup));
	for (uint64_t first = 0; first < pages; first += 64) {
		for (uint64_t i = 0; i < 64; i++)
			first_copy(pg + i * MIG_PAGE, first + i);
		h = (struct pchan_hdr){ .type = PCHAN_T_PAGES, .seq = ++seq, .page = first, .count = 64,
					.length = 64 * MIG_PAGE };
		CHECK_OK(pchan_send(c, &h, pg));
	}
	h = (struct pchan_hdr){ .type = PCHAN_T_SWITCHOVER, .seq = ++seq, .length = 8 };
	CHECK_OK(pchan_send(c, &h, ms));
	/* the destination runs (as a real source, the preempt channel carries pages only from then on) */
	j = wait_phase(p.dctl, id, "postcopy", 10000);
	CHECK(j);
	json_decref(j);
	/* every page again, with other bytes: zstd and raw, main and preempt */
	memset(pg, 0xEE, 64 * MIG_PAGE);
	for (uint64_t first = 0; first < pages; first += 64) {
		bool zstd = first / 64 % 2 == 0;
		struct ptls_conn *on = first / 128 ? pc : c;
		size_t n = zstd ? ZSTD_compress(z, ZSTD_compressBound(64 * MIG_PAGE), pg, 64 * MIG_PAGE, 1)
				: 64 * MIG_PAGE;

		CHECK(!ZSTD_isError(n));
		h = (struct pchan_hdr){ .type = zstd ? PCHAN_T_PAGES_Z : PCHAN_T_PAGES,
					.seq = on == c ? ++seq : 0, .page = first, .count = 64,
					.length = (uint32_t)n };
		CHECK_OK(pchan_send(on, &h, zstd ? z : pg));
	}
	/* a last frame on each channel after them: once it is staged, so are they */
	first_copy(pg, pages - 1);
	h = (struct pchan_hdr){ .type = PCHAN_T_PAGES, .page = pages - 1, .count = 1, .length = MIG_PAGE };
	CHECK_OK(pchan_send(pc, &h, pg));
	h.seq = ++seq;
	CHECK_OK(pchan_send(c, &h, pg));
	while (acked < seq) {
		CHECK_OK(pchan_recv(c, &h, in, sizeof(in), &g, 10000));
		if (h.type == PCHAN_T_ACK)
			acked = h.seq;
	}
	j = NULL;
	for (int i = 0; i < 1000; i++) {
		json_decref(j);
		j = h_call(p.dctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
		if (j && stat_of(j, "demand_pages") >= 128 + 1)
			break;
		nap_ms(10);
	}
	CHECKF(j && stat_of(j, "demand_pages") >= 128 + 1, "the preempt channel's pages were not staged");
	json_decref(j);
	/* now the workload: every page installed from the staging */
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	args[2] = str(json_object_get(mi, "session"), "socket");
	args[8] = ddump;
	CHECK_OK(h_demo(&dst, args));
	j = h_proc_json(&dst, 10000);
	CHECK(j && str(j, "region_id"));
	json_decref(j);
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	f = fopen(ddump, "rb");
	CHECK(f);
	for (uint64_t q = 0; q < pages; q++) {
		uint8_t want[MIG_PAGE];

		CHECK(fread(pg, 1, MIG_PAGE, f) == MIG_PAGE);
		first_copy(want, q);
		CHECKF(!memcmp(pg, want, MIG_PAGE), "page %llu is not its first copy (byte 100: 0x%02x)",
		       (unsigned long long)q, pg[100]);
	}
	fclose(f);
	h_proc_write(&dst, "exit\n");
	CHECK_OK(h_proc_wait(&dst, 10000));
	ptls_close(c);
	ptls_close(pc);
	json_decref(mi);
	free(pg);
	free(z);
	return T_PASS;
}

/*
 * Demand pages go ahead of the background push and are not held to its
 * bandwidth limit: the push is limited to 256 KiB/s (it would need a minute
 * for this region), the switchover is asked for at once, so nearly every
 * page is stale, and the destination workload still reads all of them in
 * seconds, through demand requests; every page compared byte for byte.
 */
int t_mig_demand_ahead_of_push(const struct t_env *env)
{
	const char *size_s = "16M";
	uint64_t size = UINT64_C(16) << 20, t0;
	struct pair p;
	struct h_proc src, dst;
	char id[JX_UUID_LEN + 1], region[JX_UUID_LEN + 1], sdump[256], ddump[256];
	json_t *in, *out, *m, *j;
	struct timespec ts;

	(void)env;
	CHECK_OK(pair_start(&p));
	CHECK_OK(start_source(&p, &src, size_s, region));
	new_id(id);
	in = mig_in(&p, id, "demo", size, SECRET);
	CHECK(in);
	out = mig_out(&p, id, region, str(in, "channel"), SECRET,
		      json_pack("{s:s, s:n, s:i}", "postcopy", "manual", "postcopy_after_ms",
				"bandwidth_bytes_per_s", 256 << 10));
	CHECK(out);
	m = h_call(p.sctl, PROTO_T_MIGRATION_SWITCHOVER, "{s:s}", "migration_id", id);
	CHECK(m);
	json_decref(m);
	m = wait_phase(p.sctl, id, "postcopy", 30000);
	CHECK(m);
	json_decref(m);
	snprintf(sdump, sizeof(sdump), "%s/source.bin", p.src.dir);
	CHECK_OK(dump_to(&src, sdump, 30000));
	snprintf(ddump, sizeof(ddump), "%s/dest.bin", p.dst.dir);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	CHECK_OK(start_dest(&dst, str(json_object_get(in, "session"), "socket"), size_s, ddump));
	/* the push alone would take 64 s: the dump must not wait for it */
	j = h_proc_json(&dst, 30000);
	CHECK(j && str(j, "dumped"));
	json_decref(j);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t_logf("destination read 16 MiB in %llu ms with the push limited to 256 KiB/s",
	       (unsigned long long)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - t0));
	m = h_call(p.sctl, PROTO_T_MIGRATION_GET, "{s:s}", "migration_id", id);
	CHECK(m && stat_of(m, "demand_pages") >= size / MIG_PAGE / 4);
	json_decref(m);
	CHECK(compare_dumps(sdump, ddump, size) == 0);
	m = wait_phase(p.sctl, id, "completed", 30000);
	CHECK(m);
	json_decref(m);
	CHECK_OK(exit_both(&src, &dst));
	json_decref(in);
	json_decref(out);
	return T_PASS;
}
