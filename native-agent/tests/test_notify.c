/*
 * Change events on the control socket (PROTOCOL.md §1.11): a subscriber
 * sees attach, state changes and statistics in sequence, and one that does
 * not read loses events and sees the gap in the sequence numbers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "faultline.h"
#include "harness.h"
#include "hwork.h"
#include "test.h"

#define EV_PAGES 16

/* The next event frame on a subscribed connection, or NULL after timeout_ms. */
static json_t *next_event(int fd, int timeout_ms)
{
	struct proto_hdr h;
	char *payload;
	json_t *ev;

	if (h_recv_frame(fd, timeout_ms, &h, &payload))
		return NULL;
	if (h.type != PROTO_T_EVENT || h.flags || h.id) {
		printf("    not an event: type %u flags %u id %llu: %s\n", h.type, h.flags,
		       (unsigned long long)h.id, payload);
		free(payload);
		return NULL;
	}
	ev = json_loads(payload, 0, NULL);
	free(payload);
	return ev;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static const char *kind_of(json_t *ev)
{
	const char *k = json_string_value(json_object_get(ev, "kind"));

	return k ? k : "";
}

static const char *region_state_of(json_t *ev)
{
	const char *s = json_string_value(json_object_get(json_object_get(ev, "region"), "state"));

	return s ? s : "";
}

/* Events of this test's region until one satisfies kind (and state, if given); checks seq order. */
static json_t *await_event(int fd, uint64_t *seq, const char *id, const char *kind, const char *state)
{
	for (;;) {
		json_t *ev = next_event(fd, H_TIMEOUT_MS);
		uint64_t s;

		if (!ev) {
			printf("    no %s event\n", kind);
			return NULL;
		}
		s = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
		if (s != *seq + 1) {
			printf("    seq %llu after %llu\n", (unsigned long long)s, (unsigned long long)*seq);
			json_decref(ev);
			return NULL;
		}
		*seq = s;
		if (!strcmp(kind_of(ev), kind) && (!state || !strcmp(region_state_of(ev), state))) {
			if (!strcmp(kind, "region_stats"))
				return ev;
			if (!strcmp(json_string_value(json_object_get(ev, "id")), id))
				return ev;
		}
		json_decref(ev);
	}
}

/* The next event, whatever its kind, in sequence. */
static json_t *await_any(int fd, uint64_t *seq)
{
	json_t *ev = next_event(fd, H_TIMEOUT_MS);

	if (ev && (uint64_t)json_integer_value(json_object_get(ev, "seq")) != *seq + 1) {
		printf("    seq out of order\n");
		json_decref(ev);
		return NULL;
	}
	if (ev)
		*seq += 1;
	return ev;
}

/* Missing faults of region id as an event reports them (in "region" or "regions"), 0 if absent. */
static uint64_t missing_of(json_t *ev, const char *id)
{
	json_t *list = json_object_get(ev, "regions"), *r;
	size_t i;

	if (!list) {
		r = json_object_get(ev, "region");
		return r && !strcmp(str(r, "id"), id) ? h_stat(r, "faults", "missing") : 0;
	}
	json_array_foreach(list, i, r) {
		if (!strcmp(str(r, "id"), id))
			return h_stat(r, "faults", "missing");
	}
	return 0;
}

int t_notify_region_events(const struct t_env *env)
{
	struct h_agent a;
	char sock[192];
	fl_client *c;
	fl_region *reg;
	json_t *r, *ev;
	uint64_t seq;
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t missing = 0;
	char id[64];
	char *mem;
	int ev_fd, ctl;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ev_fd = h_ctl_open(&a)) >= 0);
	CHECK((ctl = h_ctl_open(&a)) >= 0);
	CHECK_OK(h_call_error(ctl, PROTO_T_SUBSCRIBE, "BAD_REQUEST", "{s:i}", "stats_interval_ms", 5));
	r = h_call(ev_fd, PROTO_T_SUBSCRIBE, "{s:i}", "stats_interval_ms", 100);
	CHECK(r && json_integer_value(json_object_get(r, "stats_interval_ms")) == 100);
	seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
	json_decref(r);

	snprintf(sock, sizeof(sock), "%s/handoff.sock", a.state);
	mem = mmap(NULL, EV_PAGES * (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	c = fl_connect(sock);
	CHECKF(c, "%s", fl_last_error());
	CHECKF(!fl_region_register(c, mem, EV_PAGES * (size_t)ps, "events", NULL, FL_MODE_MISSING, &reg),
	       "%s", fl_last_error());

	ev = await_event(ev_fd, &seq, fl_region_id(reg), "region_attached", NULL);
	CHECK(ev && !strcmp(region_state_of(ev), "ATTACHED"));
	json_decref(ev);
	/* a ping says how far the events went and how many regions they add up to */
	r = h_call(ctl, PROTO_T_PING, "{}");
	CHECK(r && json_integer_value(json_object_get(r, "regions")) == 1 &&
	      (uint64_t)json_integer_value(json_object_get(r, "seq")) >= seq);
	json_decref(r);

	/*
	 * The workload gives its pages back and touches them again: the
	 * counters move, and their statistics follow within an interval.  The
	 * first round completes the region (fault-around fills it), so its
	 * statistics may come with that state change; the second cannot.
	 */
	for (int round = 0; round < 2; round++) {
		uint64_t before = round ? missing : 0;

		CHECK_OK(madvise(mem, EV_PAGES * (size_t)ps, MADV_DONTNEED));
		mem[0] = 1;
		for (;;) {
			ev = round ? await_event(ev_fd, &seq, NULL, "region_stats", NULL)
				   : await_any(ev_fd, &seq);
			CHECK(ev);
			missing = missing_of(ev, fl_region_id(reg));
			json_decref(ev);
			if (missing > before)
				break;
		}
	}
	/* unregistering ends in DETACHED, pushed without being asked */
	snprintf(id, sizeof(id), "%s", fl_region_id(reg));
	CHECK_OK(fl_region_unregister(reg)); /* frees reg */
	ev = await_event(ev_fd, &seq, id, "region_state", "DETACHED");
	CHECK(ev);
	json_decref(ev);
	r = h_call(ctl, PROTO_T_PING, "{}");
	CHECK(r && json_integer_value(json_object_get(r, "regions")) == 0 &&
	      (uint64_t)json_integer_value(json_object_get(r, "seq")) == seq);
	json_decref(r);

	/* quiet counters send nothing: no statistics event while nothing happens */
	CHECK(!next_event(ev_fd, 400));

	fl_disconnect(c);
	munmap(mem, EV_PAGES * (size_t)ps);
	close(ctl);
	close(ev_fd);
	return T_PASS;
}

/*
 * A subscriber that does not read is not buffered for without bound: once
 * its connection is throttled it misses events, and the next one it gets
 * tells it so by its sequence number.
 */
int t_notify_gap_when_behind(const struct t_env *env)
{
	enum { CYCLES = 600 };
	struct h_agent a;
	char sock[192];
	fl_client *c;
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t seq, last, gaps = 0, events = 0;
	json_t *r, *ev;
	char *mem;
	int ev_fd;

	(void)env;
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ev_fd = h_ctl_open(&a)) >= 0);
	r = h_call(ev_fd, PROTO_T_SUBSCRIBE, "{s:i}", "stats_interval_ms", 100);
	CHECK(r);
	seq = last = (uint64_t)json_integer_value(json_object_get(r, "seq"));
	json_decref(r);

	snprintf(sock, sizeof(sock), "%s/handoff.sock", a.state);
	/* a page of its own per cycle: a release completes after the reply */
	mem = mmap(NULL, CYCLES * (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	c = fl_connect(sock);
	CHECKF(c, "%s", fl_last_error());
	/* three events per cycle while the subscriber reads nothing */
	for (int i = 0; i < CYCLES; i++) {
		fl_region *reg;

		CHECKF(!fl_region_register(c, mem + (size_t)i * (size_t)ps, (size_t)ps, "gap", NULL,
					   FL_MODE_MISSING, &reg), "%s", fl_last_error());
		CHECKF(!fl_region_unregister(reg), "%s", fl_last_error());
	}
	/*
	 * The backlog, then (nothing more happens) a "sequence" event: it
	 * repeats the last number sent, so what was lost shows.
	 */
	for (;;) {
		uint64_t s;

		ev = next_event(ev_fd, H_TIMEOUT_MS);
		CHECKF(ev, "no sequence event after %llu events", (unsigned long long)events);
		s = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
		if (!strcmp(kind_of(ev), "sequence")) {
			gaps += s != last;
			last = s;
			json_decref(ev);
			break;
		}
		CHECKF(s > last, "seq %llu after %llu", (unsigned long long)s, (unsigned long long)last);
		gaps += s != last + 1;
		last = s;
		events++;
		json_decref(ev);
	}
	t_logf("read %llu events up to seq %llu, %llu gap(s)", (unsigned long long)events,
	       (unsigned long long)last, (unsigned long long)gaps);
	CHECKF(gaps >= 1, "no gap after %d cycles", CYCLES);
	CHECK(events < last - seq);
	CHECK_OK(h_wait_log(a.log, "subscriber is behind", H_TIMEOUT_MS));

	fl_disconnect(c);
	munmap(mem, CYCLES * (size_t)ps);
	close(ev_fd);
	return T_PASS;
}

/*
 * Statistics of many regions with large labels (64 long labels each, ~17
 * KiB a region) come in events that each fit a frame and that a subscriber
 * that reads takes without losing one: batched by size as well as by count,
 * and held back while it still reads the last ones (the numbers follow each
 * other, nothing is missed).
 */
int t_notify_stats_of_large_regions(const struct t_env *env)
{
	enum { REGIONS = 72 };
	static char labels[64 * 300];
	char prefix[200], sock[192];
	fl_region *regs[REGIONS];
	uint64_t seen[REGIONS] = { 0 };
	long ps = sysconf(_SC_PAGESIZE);
	unsigned left = REGIONS, events = 0;
	struct h_agent a;
	uint64_t seq;
	fl_client *c;
	size_t at = 0;
	json_t *r;
	char *mem;
	int ev_fd;

	(void)env;
	snprintf(prefix, sizeof(prefix), "%s.%s.%s.io", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	for (int i = 0; i < 64; i++)
		at += (size_t)snprintf(labels + at, sizeof(labels) - at, "%s%s/k%02d=%.63s", i ? "," : "", prefix, i,
				       "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
	CHECK(at < sizeof(labels));
	CHECK_OK(h_agent_start(&a, NULL));
	CHECK((ev_fd = h_ctl_open(&a)) >= 0);
	r = h_call(ev_fd, PROTO_T_SUBSCRIBE, "{s:i}", "stats_interval_ms", 100);
	CHECK(r);
	seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
	json_decref(r);

	snprintf(sock, sizeof(sock), "%s/handoff.sock", a.state);
	mem = mmap(NULL, REGIONS * (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	CHECKF((c = fl_connect(sock)) != NULL, "%s", fl_last_error());
	/* one at a time, each reported with its first fault before the next */
	for (int i = 0; i < REGIONS; i++) {
		CHECKF(!fl_region_register(c, mem + (size_t)i * (size_t)ps, (size_t)ps, "large", labels,
					   FL_MODE_MISSING, &regs[i]), "region %d: %s", i, fl_last_error());
		mem[(size_t)i * (size_t)ps] = 1;
		for (uint64_t missing = 0; !missing;) {
			json_t *ev = await_any(ev_fd, &seq);

			CHECKF(ev, "region %d: an event in sequence", i);
			missing = missing_of(ev, fl_region_id(regs[i]));
			json_decref(ev);
		}
	}
	/* then all at once: only their statistics change, ~1.2 MiB of them in one interval */
	CHECK_OK(madvise(mem, REGIONS * (size_t)ps, MADV_DONTNEED));
	for (int i = 0; i < REGIONS; i++)
		mem[(size_t)i * (size_t)ps] = 2;
	while (left) {
		json_t *ev = await_any(ev_fd, &seq), *list, *one;
		size_t k;

		CHECKF(ev, "an event in sequence after %u, %u regions not reported yet", events, left);
		events++;
		list = json_object_get(ev, "regions");
		json_array_foreach(list, k, one) {
			for (int i = 0; i < REGIONS; i++) {
				if (seen[i] < 2 && !strcmp(str(one, "id"), fl_region_id(regs[i])) &&
				    (seen[i] = h_stat(one, "faults", "missing")) >= 2)
					left--;
			}
		}
		json_decref(ev);
	}
	CHECKF(events >= 9, "%u events for %d regions of ~17 KiB", events, REGIONS);
	CHECK(!h_file_contains(a.log, "cannot encode frame"));
	CHECK(!h_file_contains(a.log, "subscriber is behind"));
	for (int i = 0; i < REGIONS; i++)
		CHECK_OK(fl_region_unregister(regs[i]));
	fl_disconnect(c);
	munmap(mem, REGIONS * (size_t)ps);
	close(ev_fd);
	return T_PASS;
}
