/*
 * Work that blocks (reading a whole snapshot image to verify it, writing a
 * consolidated one) on a thread of its own, so the loop thread keeps
 * serving: a job runs its function on the thread, then its completion on
 * the loop thread, where it answers the request that started it.
 * Threads: job_start() and completions on the loop thread; run() on the
 * job's thread, which touches nothing but the job.
 */
#ifndef FAULTLINE_JOB_H
#define FAULTLINE_JOB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct agent;
struct job;

typedef void (*job_fn)(struct job *j);
typedef void (*job_done_fn)(struct agent *ag, struct job *j);

struct job {
	struct job *next;
	job_fn run;        /* on the job's thread */
	job_done_fn done;  /* on the loop thread; frees the job */
	void *arg;
	pthread_t thread;
	struct agent *ag;
};

struct jobs {
	pthread_mutex_t mu;
	struct job *running, *finished;
	int notify_fd;
	struct loop_handler h;
	unsigned n_running;
};

int job_init(struct agent *ag);
void job_fini(struct agent *ag);
int job_start(struct agent *ag, struct job *j);
bool job_busy(struct agent *ag, bool (*match)(const struct job *j, const void *key),
	      const void *key);

#endif /* FAULTLINE_JOB_H */
