/*
 * faultline-bench: lazy restore against the kernel and a minimal handler,
 * measured in one run on one machine (docs/benchmarks.md).
 */
#ifndef FAULTLINE_BENCH_H
#define FAULTLINE_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "content.h"

enum bench_mode {
	BM_ANON,      /* kernel: first touch of anonymous memory */
	BM_FILE,      /* kernel: MAP_PRIVATE of the image (Firecracker's File backend) */
	BM_MINIMAL,   /* a minimal uffd handler: one page per fault, one thread */
	BM_FAULTLINE, /* the agent, through libfaultline and a restore session */
};

struct bench_agent {
	pid_t pid;
	char dir[128];
	char sock[192];
	int ctl;
	uint64_t next_id;
};

struct bench_env {
	char dir[128];
	char image[256];
	uint64_t size;
	uint64_t seed;
	struct bench_agent spin, nospin; /* --spin-us default and 0 */
	struct bench_agent other[2];     /* --compare: other agent binaries, spin on */
	const char *compare_path[2];
	const char *agent_path;
	bool cold; /* --cold: the image leaves the page cache before each run */
	const char *const *agent_extra; /* more agent options (NULL-terminated), or NULL */
	const char *install_helpers; /* --install-helpers N for the agents, NULL: their default */
	unsigned clone_around;       /* --clone-around N: fault_around_pages of clone sessions */
};

#define BENCH_MAX_THREADS 4

struct bench_case {
	enum bench_mode mode;
	enum content_pattern pattern;
	unsigned threads;        /* 1..BENCH_MAX_THREADS */
	bool nospin;
	unsigned fault_around;
	const char *working_set; /* faultline: "off", "record", "replay" */
	bool read;               /* touch with a read instead of a write */
	bool clone;              /* faultline: a session of mode clone (one shared copy) */
	unsigned other;          /* faultline: 1, 2: the first, second --compare agent */
};

struct bench_result {
	double total_ms;     /* register + touch */
	double touch_ms;
	double ns_per_page;  /* touch time per touched page */
	uint64_t touched;
	uint64_t faults;     /* touches that took a fault (see bench_run.c) */
	double p50_us, p99_us;
	uint64_t agent_faults, agent_prefetched;
	double agent_p50_us, agent_p99_us;
	uint64_t mismatches;
	double first_fault_ms; /* restore request (or mmap) to the first touch served */
	/* the agent's own restore-to-run (session "timing"), ms from the request; -1: not reported */
	double agent_reply_ms, agent_registered_ms, agent_first_fault_ms;
	double agent_cpu_ms; /* CPU the agent used while the workload touched; -1: unknown */
};

int bench_agent_start(struct bench_agent *a, const struct bench_env *env, const char *name,
		      const char *spin_us);
void bench_agent_stop(struct bench_agent *a);
struct json_t;
struct json_t *bench_call(struct bench_agent *a, uint8_t type, struct json_t *req);
int bench_restore_create(struct bench_agent *a, const struct bench_env *env,
			 const struct bench_case *c, char *socket, size_t len, char *id, size_t id_len);
int bench_restore_delete(struct bench_agent *a, const char *id);
struct json_t *bench_restore_get(struct bench_agent *a, const char *id);
int bench_drop_cache(const char *path);
int bench_clones(const struct bench_env *env, unsigned n);
int bench_region_stats(struct bench_agent *a, const char *id, struct bench_result *r);
int bench_run(const struct bench_env *env, const struct bench_case *c, struct bench_result *r);
void bench_warm(uint64_t bytes);

#endif /* FAULTLINE_BENCH_H */
