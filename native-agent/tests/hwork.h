/*
 * Test helpers for the fault engine's end-to-end tests: images in the
 * agent's image directory, control requests, faultline-demo processes
 * driven through their stdin/stdout, and 2 MiB huge page reservations that
 * are given back when the test ends.
 */
#ifndef FAULTLINE_HWORK_H
#define FAULTLINE_HWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "harness.h"

struct h_proc {
	pid_t pid;
	int in, out, err;
	char buf[16384];
	size_t len;
	bool exited;
	int status;
};

void h_work_setup(const char *demo_path);
void h_work_cleanup(void);
int h_image(const struct h_agent *a, const char *name, uint64_t size, uint64_t seed, char *path,
	    size_t path_len);
int h_ctl_open(const struct h_agent *a);
json_t *h_call(int fd, uint8_t type, const char *fmt, ...);
json_t *h_callj(int fd, uint8_t type, json_t *req);
int h_call_error(int fd, uint8_t type, const char *code, const char *fmt, ...);
json_t *h_region_of(int ctl, const char *id);
uint64_t h_stat(json_t *region, const char *group, const char *name);
json_t *h_restore_create(int ctl, const char *image, const char *extra_json);
int h_demo(struct h_proc *p, const char *const *args);
json_t *h_proc_json(struct h_proc *p, int timeout_ms);
int h_proc_write(struct h_proc *p, const char *s);
int h_proc_wait(struct h_proc *p, int timeout_ms);
int h_demo_run(const char *const *args, json_t **summary);
int h_hugepages(unsigned n);

/*
 * A fault answered at once takes microseconds; this bound only catches
 * hangs.  It allows for the ASan build on a loaded 2-CPU machine, where a
 * worker busy with a background chunk at idle priority (see
 * docs/reliability.md) was seen to answer a fault after more than 5 s.
 */
#define H_READ_BOUND_MS 15000
long h_proc_cpu_ticks(pid_t pid);
int h_read_within(const void *src, size_t len, void *dst, int timeout_ms);
int h_read_bounded(const void *src, size_t len, void *dst);
int h_remove_late(void *addr, size_t len);

#endif /* FAULTLINE_HWORK_H */
