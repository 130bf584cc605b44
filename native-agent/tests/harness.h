/*
 * Test harness: starts the real agent binary in a private temp directory
 * and speaks the control protocol to it.  Every wait is on a real event
 * (readiness notification, pidfd, socket readiness, inotify) bounded by a
 * deadline; nothing sleeps in the hope that something happened.
 */
#ifndef FAULTLINE_HARNESS_H
#define FAULTLINE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto.h"

#define H_TIMEOUT_MS 10000

struct h_agent {
	pid_t pid;
	int pidfd;
	bool exited;
	int status; /* waitpid status once exited */
	int notify_fd;
	char dir[64];
	char sock[128];
	char state[128];
	char log[128];
};

void h_setup(const char *agent_path);
int h_tmpdir(char *out, size_t len);
int h_agent_spawn(struct h_agent *a, const char *dir, const char *sock,
		  const char *const *extra);
int h_agent_spawn_fds(struct h_agent *a, const char *dir, const char *sock,
		      const char *const *extra, const int *fds, const char *names, unsigned n_fds);
int h_agent_start(struct h_agent *a, const char *const *extra);
void h_agents_forget_exited(void);
int h_agent_wait_ready(struct h_agent *a, int timeout_ms);
int h_agent_wait_exit(struct h_agent *a, int timeout_ms);
int h_agent_exit_code(const struct h_agent *a);
void h_dump_file(const char *path);
bool h_cleanup(bool passed, bool verbose);

int h_run_capture(const char *const *argv, char *out, size_t out_len,
		  char *err, size_t err_len, int *status);

int h_connect(const char *sock);
int h_send_all(int fd, const void *buf, size_t len);
int h_send_frame(int fd, uint8_t type, uint16_t flags, uint64_t id, const char *json);
size_t h_frame(uint8_t *out, uint8_t type, uint16_t flags, uint64_t id, const char *json);
int h_recv_frame(int fd, int timeout_ms, struct proto_hdr *h, char **payload);
int h_expect_closed(int fd, int timeout_ms);
json_t *h_expect_reply(int fd, uint8_t type, uint64_t id);
json_t *h_expect_reply_within(int fd, uint8_t type, uint64_t id, int timeout_ms);
json_t *h_request(int fd, uint8_t type, uint64_t id, const char *json);
int h_expect_error(int fd, uint8_t type, uint64_t id, const char *code);
int h_hello(int fd);
int h_ping(int fd, uint64_t id);
int h_wait_log(const char *path, const char *needle, int timeout_ms);
bool h_file_contains(const char *path, const char *needle);

#endif /* FAULTLINE_HARNESS_H */
