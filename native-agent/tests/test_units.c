/*
 * The pure parts of the fault engine's input handling, table-driven:
 * handoff payload validation, Firecracker's handshake, working-set files,
 * image path checks, and the core helpers every format and statistic
 * shares (byte order, log2 histograms).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "content.h"
#include "fdlim.h"
#include "hist.h"
#include "harness.h"
#include "hsk.h"
#include "image.h"
#include "readahead.h"
#include "region.h"
#include "test.h"
#include "wset.h"

int t_unit_register_payload(const struct t_env *env)
{
	static const struct {
		const char *json;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ "{\"start\":4096,\"length\":8192,\"page_size\":4096,\"modes\":[\"missing\"]}", NULL },
		{ "{\"name\":\"n\",\"labels\":{\"a\":\"b\"},\"start\":2097152,\"length\":2097152,"
		  "\"page_size\":2097152,\"modes\":[\"missing\",\"wp\"],\"features\":114,"
		  "\"resume_id\":\"0b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77\",\"future\":[1]}", NULL },
		{ "{\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}", "\"start\"" },
		{ "{\"start\":4096,\"length\":0,\"page_size\":4096,\"modes\":[\"missing\"]}", "empty" },
		{ "{\"start\":4095,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}", "aligned" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":3000,\"modes\":[\"missing\"]}", "page size" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[]}", "modes" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\",\"missing\"]}",
		  "twice" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"fast\"]}", "unknown mode" },
		{ "{\"start\":-4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}", "\"start\"" },
		{ "{\"start\":144115188075855872,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}",
		  "user address" },
		{ "{\"start\":4096,\"length\":1099511631872,\"page_size\":4096,\"modes\":[\"missing\"]}",
		  "larger than" },
		{ "{\"name\":\"\",\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}",
		  "\"name\"" },
		{ "{\"labels\":{\"a\":1},\"start\":4096,\"length\":4096,\"page_size\":4096,"
		  "\"modes\":[\"missing\"]}", "label" },
		/* labels follow the service's (Kubernetes') rules */
		{ "{\"labels\":{\"example.com/app\":\"db-1\",\"tier\":\"\"},\"start\":4096,"
		  "\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}", NULL },
		{ "{\"labels\":{\"-app\":\"x\"},\"start\":4096,\"length\":4096,\"page_size\":4096,"
		  "\"modes\":[\"missing\"]}", "label" },
		{ "{\"labels\":{\"app\":\"a b\"},\"start\":4096,\"length\":4096,\"page_size\":4096,"
		  "\"modes\":[\"missing\"]}", "label" },
		{ "{\"labels\":{\"Example.com/app\":\"x\"},\"start\":4096,\"length\":4096,"
		  "\"page_size\":4096,\"modes\":[\"missing\"]}", "label" },
		{ "{\"labels\":{\"app\":\"0123456789012345678901234567890123456789012345678901234567890123\"},"
		  "\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"]}", "label" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"],"
		  "\"resume_id\":\"0B0F6C1E-6A4E-4A53-9F59-2F1C3C9E1A77\"}", "resume_id" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"],"
		  "\"features\":\"all\"}", "\"features\"" },
		/* the hold uffd (snapshots) */
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"wp\"],"
		  "\"hold_uffd\":true,\"hold_features\":8264}", NULL },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"missing\"],"
		  "\"hold_uffd\":true}", "needs the \"wp\" mode" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"wp\"],"
		  "\"hold_uffd\":1}", "\"hold_uffd\"" },
		{ "{\"start\":4096,\"length\":4096,\"page_size\":4096,\"modes\":[\"wp\"],"
		  "\"hold_uffd\":true,\"hold_features\":-1}", "\"hold_features\"" },
	};

	(void)env;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *req = json_loads(cases[i].json, 0, NULL);
		struct hsk_register hr;
		char why[256] = "";
		int ret;

		CHECKF(req, "case %zu is not JSON", i);
		ret = hsk_parse_register(req, 4096, &hr, why, sizeof(why));
		if (!cases[i].error)
			CHECKF(ret == 0, "case %zu refused: %s", i, why);
		else
			CHECKF(ret < 0 && strstr(why, cases[i].error), "case %zu: \"%s\"", i, why);
		if (i == 1)
			CHECK(hr.modes == (REGION_MODE_MISSING | REGION_MODE_WP) && hr.resume &&
			      hr.page_size == 2097152 && !strcmp(hr.name, "n") && !hr.hold);
		if (!cases[i].error && strstr(cases[i].json, "hold_uffd"))
			CHECK(hr.hold && hr.hold_features == 8264);
		json_decref(req);
	}
	return T_PASS;
}

int t_unit_firecracker_handshake(const struct t_env *env)
{
	static const struct {
		const char *msg;
		int scan;          /* hsk_fc_scan(): 1 the whole text, 0 incomplete, -1 refused */
		const char *error; /* NULL: parses */
		uint32_t page_size;
	} cases[] = {
		{ "[{\"base_host_virt_addr\":4096,\"size\":8192,\"offset\":0,\"page_size\":4096,"
		  "\"page_size_kib\":4096}]", 1, NULL, 4096 },
		/* older versions: page_size_kib only, in bytes despite its name */
		{ "[{\"base_host_virt_addr\":2097152,\"size\":2097152,\"offset\":0,"
		  "\"page_size_kib\":2097152}]", 1, NULL, 2097152 },
		{ "[{\"base_host_virt_addr\":2097152,\"size\":2097152,\"offset\":0,\"page_size_kib\":2048}]",
		  1, NULL, 2097152 },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0}]", 1, "neither", 0 },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4096,"
		  "\"page_size_kib\":8192}]", 1, "disagree", 0 },
		{ "[{\"base_host_virt_addr\":4096,\"size\":8192,\"offset\":0,\"page_size\":4096},"
		  "{\"base_host_virt_addr\":8192,\"size\":4096,\"offset\":8192,\"page_size\":4096}]", 1,
		  "overlap", 0 },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":1,\"page_size\":4096}]", 1,
		  "offset", 0 },
		{ "[]", 1, "1-", 0 },
		{ "[\"]\",{\"a\":\"[\"}]", 1, "not an object", 0 },
		{ "[{\"size\":", 0, NULL, 0 },
		{ "{\"not\":\"an array\"}", -1, NULL, 0 },
	};

	(void)env;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *m = cases[i].msg;
		struct hsk_fc_region regs[4];
		ssize_t end = hsk_fc_scan((const uint8_t *)m, strlen(m));
		char why[256] = "";
		unsigned n;
		int ret;

		CHECKF(cases[i].scan == 1 ? end == (ssize_t)strlen(m) : end == cases[i].scan,
		       "case %zu: scan %zd", i, end);
		if (end <= 0)
			continue;
		ret = hsk_fc_parse(m, (size_t)end, 4096, regs, 4, &n, why, sizeof(why));
		if (!cases[i].error)
			CHECKF(ret == 0 && regs[0].page_size == cases[i].page_size, "case %zu: %s", i, why);
		else
			CHECKF(ret < 0 && strstr(why, cases[i].error), "case %zu: \"%s\"", i, why);
	}
	/* the message ends where its array closes, whatever follows */
	CHECK(hsk_fc_scan((const uint8_t *)"[1]garbage", 10) == 3);
	return T_PASS;
}

int t_unit_working_set_file(const struct t_env *env)
{
	struct wset_run runs[] = { { 0, 16 }, { 4096, 512 }, { 255, 1 } };
	struct wset w = { .ident = { 64 << 20, 123456789, 42 }, .created_ms = 7, .runs = runs, .n = 3 };
	size_t len = wset_encoded_len(3);
	uint8_t *buf = malloc(len);
	char why[256], dir[64], path[128];
	struct wset back;

	(void)env;
	CHECK(buf);
	wset_encode(&w, buf);
	CHECK_OK(wset_decode(buf, len, &back, why, sizeof(why)));
	CHECK(back.n == 3 && back.runs[1].page == 4096 && back.runs[1].count == 512);
	CHECK(!memcmp(&back.ident, &w.ident, sizeof(w.ident)) && back.created_ms == 7);
	wset_free(&back);
	/* any flipped bit is caught */
	for (size_t i = 0; i < len; i += 7) {
		buf[i] ^= 0x10;
		CHECKF(wset_decode(buf, len, &back, why, sizeof(why)) < 0, "flip at %zu accepted", i);
		buf[i] ^= 0x10;
	}
	CHECK(wset_decode(buf, len - 1, &back, why, sizeof(why)) < 0);
	/* runs must lie inside the image they were recorded for */
	runs[2].page = 4096;
	runs[2].count = 1;
	w.ident.image_size = 4096 * 4096;
	wset_encode(&w, buf);
	CHECK(wset_decode(buf, len, &back, why, sizeof(why)) < 0 && strstr(why, "outside"));
	/* stored atomically and read back */
	w.ident.image_size = 64 << 20;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/x.flws", dir);
	CHECK_OK(wset_store(path, &w));
	CHECK_OK(wset_load(path, &back, why, sizeof(why)));
	CHECK(back.n == 3);
	wset_free(&back);
	free(buf);
	return T_PASS;
}

int t_unit_image_paths(const struct t_env *env)
{
	char dir[64], allowed[96], outside[96], path[160];
	char *dirs[1] = { allowed };
	struct image *im;
	char why[256];

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(allowed, sizeof(allowed), "%s/allowed", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	CHECK_OK(mkdir(allowed, 0700));
	CHECK_OK(mkdir(outside, 0700));
	snprintf(path, sizeof(path), "%s/img", allowed);
	CHECK_OK(content_write_image(path, 8192, 1));
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_OK);
	CHECK(im->size == 8192 && image_zero(im, 4096, 4096) == false);
	image_put(im);
	snprintf(path, sizeof(path), "%s/img", outside);
	CHECK_OK(content_write_image(path, 8192, 1));
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_DENIED);
	/* a symlink inside pointing outside, and ".." tricks, stay outside */
	snprintf(path, sizeof(path), "%s/link", allowed);
	CHECK_OK(symlink("../outside/img", path));
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_DENIED);
	snprintf(path, sizeof(path), "%s/../outside/img", allowed);
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_DENIED);
	/* a directory named like the allowed one plus a suffix is not inside it */
	snprintf(path, sizeof(path), "%s2", allowed);
	CHECK_OK(mkdir(path, 0700));
	snprintf(path, sizeof(path), "%s2/img", allowed);
	CHECK_OK(content_write_image(path, 8192, 1));
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_DENIED);
	/* inside but not usable */
	snprintf(path, sizeof(path), "%s/sub", allowed);
	CHECK_OK(mkdir(path, 0700));
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_INVALID);
	snprintf(path, sizeof(path), "%s/none", allowed);
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_INVALID);
	CHECK(image_open("relative/img", dirs, 1, &im, why, sizeof(why)) == IMAGE_INVALID);
	return T_PASS;
}

/*
 * What a replay asks the kernel to read ahead (engine/readahead.h), on a
 * sparse image: runs in install order, near ones (< 32 KiB apart, a request
 * <= 4 MiB) as one request with the gap, at most 32 MiB ahead of the
 * installs; only image regions whose installs read the file.
 */
int t_unit_replay_readahead(const struct t_env *env)
{
	static const struct {
		const char *name;
		enum region_kind kind;
		bool clone;
		struct wset_run runs[4];
		unsigned n;
		uint64_t pages; /* read ahead by the first call */
	} cases[] = {
		{ "one run", REGION_IMAGE, false, { { 0, 16 } }, 1, 16 },
		{ "16 KiB apart: one request with the gap", REGION_IMAGE, false, { { 0, 16 }, { 20, 16 } }, 2, 36 },
		{ "32 KiB apart: still one", REGION_IMAGE, false, { { 0, 16 }, { 24, 16 } }, 2, 40 },
		{ "36 KiB apart: two", REGION_IMAGE, false, { { 0, 16 }, { 25, 16 } }, 2, 32 },
		{ "overlapping", REGION_IMAGE, false, { { 0, 16 }, { 8, 16 } }, 2, 24 },
		{ "recorded order, backwards: two", REGION_IMAGE, false, { { 40, 16 }, { 0, 16 } }, 2, 32 },
		{ "4 MiB at most per request", REGION_IMAGE, false,
		  { { 0, 512 }, { 512, 512 }, { 1024, 512 } }, 3, 1536 },
		{ "anonymous region: nothing", REGION_ANON, false, { { 0, 16 } }, 1, 0 },
		{ "clone: nothing", REGION_IMAGE, true, { { 0, 16 } }, 1, 0 },
	};
	char dir[64], images[96], path[128], why[256];
	char *dirs[1] = { images };
	const uint64_t window = READAHEAD_AHEAD / 4096, n_far = window + 100;
	struct image *im;
	struct region *r;
	int fd;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(images, sizeof(images), "%s/images", dir);
	CHECK_OK(mkdir(images, 0700));
	snprintf(path, sizeof(path), "%s/sparse.img", images);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && !ftruncate(fd, (off_t)(n_far * 16 * 4096)));
	close(fd);
	CHECK(image_open(path, dirs, 1, &im, why, sizeof(why)) == IMAGE_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = region_new(NULL, "ra", NULL, 0, im->size, 4096);
		CHECK(r && (r->w.prefetch = malloc(sizeof(cases[i].runs))));
		r->kind = cases[i].kind;
		r->w.clone = cases[i].clone;
		r->image = im;
		memcpy(r->w.prefetch, cases[i].runs, sizeof(cases[i].runs));
		r->w.n_prefetch = cases[i].n;
		readahead_replay(r);
		CHECKF(region_stat(&r->st.readahead) == cases[i].pages, "%s: %llu pages, want %llu",
		       cases[i].name, (unsigned long long)region_stat(&r->st.readahead),
		       (unsigned long long)cases[i].pages);
		r->image = NULL; /* not the region's reference */
		region_put(r);
	}

	/* one-page runs 64 KiB apart: the window, then as much again as the installs passed */
	r = region_new(NULL, "ra", NULL, 0, im->size, 4096);
	CHECK(r && (r->w.prefetch = calloc(n_far, sizeof(*r->w.prefetch))));
	for (uint64_t i = 0; i < n_far; i++)
		r->w.prefetch[i] = (struct wset_run){ .page = i * 16, .count = 1 };
	r->kind = REGION_IMAGE;
	r->image = im;
	r->w.n_prefetch = n_far;
	readahead_replay(r);
	CHECKF(r->w.ra_pos == window && region_stat(&r->st.readahead) == window,
	       "first call: %llu runs, %llu pages", (unsigned long long)r->w.ra_pos,
	       (unsigned long long)region_stat(&r->st.readahead));
	readahead_replay(r); /* nothing installed since: nothing more */
	CHECK(r->w.ra_pos == window);
	r->w.prefetch_pos = 60;
	readahead_replay(r);
	CHECK(r->w.ra_pos == window + 60);
	r->w.prefetch_pos = 100;
	readahead_replay(r);
	CHECK(r->w.ra_pos == n_far && region_stat(&r->st.readahead) == n_far);
	/* runs the installs passed before being asked for are not asked for any more */
	r->w.ra_pos = r->w.ra_seen = r->w.ra_pages = 0;
	r->w.prefetch_pos = n_far - 10;
	readahead_replay(r);
	CHECK(r->w.ra_pos == n_far && region_stat(&r->st.readahead) == n_far + 10);
	r->image = NULL;
	region_put(r);
	image_put(im);
	return T_PASS;
}

/* The encodings the wire and file formats are specified in (PROTOCOL.md). */
int t_unit_bytes(const struct t_env *env)
{
	uint8_t b[8];

	(void)env;
	bytes_put_be64(b, UINT64_C(0x0102030405060708));
	CHECK(b[0] == 1 && b[7] == 8 && bytes_get_be64(b) == UINT64_C(0x0102030405060708));
	bytes_put_be32(b, 0xA1B2C3D4u);
	CHECK(b[0] == 0xA1 && b[3] == 0xD4 && bytes_get_be32(b) == 0xA1B2C3D4u);
	bytes_put_be16(b, 0xBEEF);
	CHECK(b[0] == 0xBE && b[1] == 0xEF && bytes_get_be16(b) == 0xBEEF);
	bytes_put_le(b, UINT64_C(0x0102030405060708), 8);
	CHECK(b[0] == 8 && b[7] == 1 && bytes_get_le(b, 8) == UINT64_C(0x0102030405060708));
	bytes_put_le(b, 0x1234, 2);
	CHECK(b[0] == 0x34 && b[1] == 0x12 && bytes_get_le(b, 2) == 0x1234);
	CHECK(bytes_hexval('0') == 0 && bytes_hexval('f') == 15 && bytes_hexval('F') == 15);
	CHECK(bytes_hexval('g') == -1 && bytes_hexval(' ') == -1);
	return 0;
}

/*
 * Quantiles of the log2 histograms behind fault latency, writer stalls and
 * demand waits: a known distribution must come back within its bucket.
 */
int t_unit_histogram(const struct t_env *env)
{
	static const struct {
		const char *name;
		uint64_t values[4], counts[4];
		double q;
		uint64_t max, lo, hi; /* the answer must lie in [lo, hi] */
	} cases[] = {
		{ "empty", { 0 }, { 0 }, 0.5, 0, 0, 0 },
		{ "one value", { 1000 }, { 1 }, 0.99, 1000, 512, 1000 },
		{ "zero", { 0 }, { 10 }, 0.5, 0, 0, 1 },
		{ "median of a split", { 100, 100000 }, { 50, 50 }, 0.5, 100000, 64, 128 },
		{ "p99 in the tail", { 100, 100000 }, { 98, 2 }, 0.99, 100000, 65536, 100000 },
		{ "capped at max", { 70000 }, { 1000 }, 0.999, 70000, 65536, 70000 },
	};

	(void)env;
	CHECK(hist_bucket(0) == 0 && hist_bucket(1) == 0 && hist_bucket(2) == 1);
	CHECK(hist_bucket(4095) == 11 && hist_bucket(4096) == 12 && hist_bucket(UINT64_MAX) == 63);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t h[HIST_BUCKETS] = { 0 }, v;

		for (int k = 0; k < 4 && cases[i].counts[k]; k++)
			h[hist_bucket(cases[i].values[k])] += cases[i].counts[k];
		v = hist_quantile(h, cases[i].q, cases[i].max);
		CHECKF(v >= cases[i].lo && v <= cases[i].hi, "%s: %llu not in [%llu, %llu]",
		       cases[i].name, (unsigned long long)v, (unsigned long long)cases[i].lo,
		       (unsigned long long)cases[i].hi);
	}
	return 0;
}

/* The client limit that a descriptor limit allows (fdlim.h). */
int t_unit_fd_limits(const struct t_env *env)
{
	static const struct {
		uint64_t nofile;
		unsigned clients;
	} cases[] = {
		{ 0, FDLIM_MIN_CLIENTS },
		{ 1024, (1024 - FDLIM_RESERVE) / FDLIM_PER_CLIENT },
		{ 20000, (20000 - FDLIM_RESERVE) / FDLIM_PER_CLIENT },
		{ FDLIM_RESERVE, FDLIM_MIN_CLIENTS },
		{ 1048576, FDLIM_MAX_CLIENTS },
		{ UINT64_MAX, FDLIM_MAX_CLIENTS },
	};

	(void)env;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECKF(fdlim_max_clients(cases[i].nofile) == cases[i].clients, "nofile %llu: %u",
		       (unsigned long long)cases[i].nofile, fdlim_max_clients(cases[i].nofile));
	/* the old fixed default of 64 is below what a stock 1024 allows */
	CHECK(fdlim_max_clients(1024) > 64);
	return T_PASS;
}
