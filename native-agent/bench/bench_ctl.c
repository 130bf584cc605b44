/*
 * faultline-bench: the agents it starts and the control requests it sends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "proto.h"

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= sizeof(sa.sun_path) ||
	    (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int read_exact(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0 && !(r < 0 && errno == EINTR))
			return -1;
		if (r > 0)
			got += (size_t)r;
	}
	return 0;
}

/* One request, its reply (NULL on error replies, printed). */
static json_t *call(struct bench_agent *a, uint8_t type, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	size_t len = strlen(s);
	uint8_t hdr[PROTO_HDR_LEN];
	struct proto_hdr h = proto_hdr_make(type, 0, ++a->next_id, (uint32_t)len);
	char *payload;
	json_t *r;

	proto_encode_hdr(&h, hdr);
	if (write(a->ctl, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    write(a->ctl, s, len) != (ssize_t)len || read_exact(a->ctl, hdr, sizeof(hdr)) ||
	    proto_decode_hdr(hdr, sizeof(hdr), PROTO_MAX_PAYLOAD, &h) != PROTO_OK) {
		free(s);
		return NULL;
	}
	free(s);
	payload = malloc(h.length + 1);
	if (!payload || read_exact(a->ctl, payload, h.length)) {
		free(payload);
		return NULL;
	}
	payload[h.length] = '\0';
	r = json_loads(payload, 0, NULL);
	if (h.flags & PROTO_F_ERROR) {
		fprintf(stderr, "faultline-bench: agent refused %s: %s\n", proto_type_name(type), payload);
		json_decref(r);
		r = NULL;
	}
	free(payload);
	return r;
}

/* Any control request (the snapshot benchmark's snapshot_take and friends). */
json_t *bench_call(struct bench_agent *a, uint8_t type, json_t *req)
{
	return call(a, type, req);
}

/* Waits for READY=1 like systemd would, then says hello. */
int bench_agent_start(struct bench_agent *a, const struct bench_env *env, const char *name,
		      const char *spin_us)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char state[192], log[192], images[192], buf[64];
	struct pollfd pfd;
	json_t *r;
	int nfd;

	memset(a, 0, sizeof(*a));
	if ((size_t)snprintf(a->dir, sizeof(a->dir), "%s/%s", env->dir, name) >= sizeof(a->dir) ||
	    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", a->dir) >= sizeof(sa.sun_path))
		return -1;
	snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", a->dir);
	snprintf(state, sizeof(state), "%s/state", a->dir);
	snprintf(log, sizeof(log), "%s/agent.log", a->dir);
	snprintf(images, sizeof(images), "%s/images", env->dir);
	if (mkdir(a->dir, 0700) && errno != EEXIST)
		return -1;
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	a->pid = fork();
	if (a->pid == 0) {
		const char *argv[32] = { env->agent_path, "--socket", a->sock, "--state-dir", state,
					 "--log-file", log, "--allow-image-dir", images, "--spin-us",
					 spin_us };
		unsigned n = 11;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("NOTIFY_SOCKET", sa.sun_path, 1);
		if (env->install_helpers && n < 29) {
			argv[n++] = "--install-helpers";
			argv[n++] = env->install_helpers;
		}
		for (unsigned i = 0; env->agent_extra && env->agent_extra[i] && n < 31; i++)
			argv[n++] = env->agent_extra[i];
		execv(env->agent_path, (char *const *)argv);
		_exit(127);
	}
	pfd = (struct pollfd){ .fd = nfd, .events = POLLIN };
	if (a->pid < 0 || poll(&pfd, 1, 10000) != 1 || recv(nfd, buf, sizeof(buf), 0) <= 0) {
		fprintf(stderr, "faultline-bench: agent %s did not start (see %s)\n", name, log);
		close(nfd);
		return -1;
	}
	close(nfd);
	a->ctl = sock_connect(a->sock);
	r = a->ctl >= 0 ? json_pack("{s:s}", "client", "faultline-bench") : NULL;
	if (!r) {
		return -1;
	}
	json_decref(r = call(a, PROTO_T_HELLO, r));
	return r ? 0 : -1;
}

void bench_agent_stop(struct bench_agent *a)
{
	if (a->pid <= 0)
		return;
	kill(a->pid, SIGTERM);
	waitpid(a->pid, NULL, 0);
	close(a->ctl);
	a->pid = 0;
}

int bench_restore_create(struct bench_agent *a, const struct bench_env *env,
			 const struct bench_case *c, char *socket, size_t len, char *id, size_t id_len)
{
	json_t *req = json_pack("{s:s, s:i, s:i, s:s, s:s}", "image", env->image, "fault_around_pages",
				(int)c->fault_around, "populate_delay_ms", -1, "working_set",
				c->working_set ? c->working_set : "off", "mode", c->clone ? "clone" : "copy");
	json_t *r = req ? call(a, PROTO_T_RESTORE_CREATE, req) : NULL;

	json_decref(req);
	if (!r)
		return -1;
	snprintf(socket, len, "%s", json_string_value(json_object_get(r, "socket")));
	snprintf(id, id_len, "%s", json_string_value(json_object_get(r, "id")));
	json_decref(r);
	return 0;
}

json_t *bench_restore_get(struct bench_agent *a, const char *id)
{
	json_t *req = json_pack("{s:s}", "id", id), *r = req ? call(a, PROTO_T_RESTORE_GET, req) : NULL;

	json_decref(req);
	return r;
}

/* Sessions go after each run, so that no image stays mapped in the agent. */
int bench_restore_delete(struct bench_agent *a, const char *id)
{
	json_t *req = json_pack("{s:s}", "id", id), *r = req ? call(a, PROTO_T_RESTORE_DELETE, req) : NULL;

	json_decref(req);
	json_decref(r);
	return r ? 0 : -1;
}

/*
 * The agent's view of a region: faults (missing, or minor for a clone),
 * replayed pages, read-to-wake latency.  Read once the worker let go of the
 * unregistered region (its counters are final then, and its session may
 * go): the agent answers an unregister before that, and a slow run (--cold)
 * showed the gap.  Bounded: 10 s.
 */
int bench_region_stats(struct bench_agent *a, const char *id, struct bench_result *res)
{
	json_t *req = json_pack("{s:s}", "id", id), *r = NULL, *st, *lat, *faults;

	for (unsigned i = 0; req && i < 2000; i++) {
		const char *state;

		json_decref(r);
		r = call(a, PROTO_T_REGION_GET, req);
		state = json_string_value(json_object_get(r, "state"));
		if (!r || (state && !strcmp(state, "DETACHED")))
			break;
		poll(NULL, 0, 5);
	}
	json_decref(req);
	if (!r)
		return -1;
	st = json_object_get(r, "stats");
	lat = json_object_get(st, "latency_ns");
	faults = json_object_get(st, "faults");
	res->agent_faults = (uint64_t)json_integer_value(json_object_get(faults, "missing")) +
			    (uint64_t)json_integer_value(json_object_get(faults, "minor"));
	res->agent_prefetched =
		(uint64_t)json_integer_value(json_object_get(json_object_get(st, "installed"), "prefetch"));
	res->agent_p50_us = (double)json_integer_value(json_object_get(lat, "p50")) / 1000.0;
	res->agent_p99_us = (double)json_integer_value(json_object_get(lat, "p99")) / 1000.0;
	json_decref(r);
	return 0;
}
