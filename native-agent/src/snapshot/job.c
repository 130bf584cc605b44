/*
 * Jobs on threads of their own; see job.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent.h"
#include "job.h"

#define LOG_COMP "agent"
#include "log.h"

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct jobs *js = j->ag->jobs;
	uint64_t one = 1;
	ssize_t n;

	j->run(j);
	pthread_mutex_lock(&js->mu);
	for (struct job **pp = &js->running; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	j->next = js->finished;
	js->finished = j;
	pthread_mutex_unlock(&js->mu);
	do
		n = write(js->notify_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	return NULL;
}

/* Finished jobs: joined, then completed on the loop thread. */
static void reap(struct agent *ag)
{
	struct jobs *js = ag->jobs;
	struct job *done;
	uint64_t v;

	if (read(js->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_pwarn(&ag->log, "reading the job eventfd failed");
	pthread_mutex_lock(&js->mu);
	done = js->finished;
	js->finished = NULL;
	pthread_mutex_unlock(&js->mu);
	while (done) {
		struct job *next = done->next;

		pthread_join(done->thread, NULL);
		js->n_running--;
		done->done(ag, done);
		done = next;
	}
}

static void jobs_ready(struct loop *lp, struct loop_handler *h, uint32_t events)
{
	(void)lp;
	(void)events;
	reap(h->opaque);
}

int job_init(struct agent *ag)
{
	struct jobs *js = calloc(1, sizeof(*js));

	if (!js)
		return -1;
	pthread_mutex_init(&js->mu, NULL);
	js->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	js->h.fn = jobs_ready;
	js->h.opaque = ag;
	if (js->notify_fd < 0 || loop_add(&ag->loop, js->notify_fd, EPOLLIN, &js->h)) {
		pr_perror(&ag->log, "cannot set up jobs");
		if (js->notify_fd >= 0)
			close(js->notify_fd);
		pthread_mutex_destroy(&js->mu);
		free(js);
		return -1;
	}
	ag->jobs = js;
	return 0;
}

/* Waits for running jobs (they are bounded: one image each) and completes them. */
void job_fini(struct agent *ag)
{
	struct jobs *js = ag->jobs;

	if (!js)
		return;
	while (js->n_running) {
		struct pollfd pfd = { .fd = js->notify_fd, .events = POLLIN };

		poll(&pfd, 1, 1000);
		reap(ag);
	}
	loop_del(&ag->loop, js->notify_fd, &js->h);
	close(js->notify_fd);
	pthread_mutex_destroy(&js->mu);
	free(js);
	ag->jobs = NULL;
}

int job_start(struct agent *ag, struct job *j)
{
	struct jobs *js = ag->jobs;
	int err;

	j->ag = ag;
	pthread_mutex_lock(&js->mu);
	j->next = js->running;
	js->running = j;
	pthread_mutex_unlock(&js->mu);
	err = pthread_create(&j->thread, NULL, job_main, j);
	if (err) {
		pthread_mutex_lock(&js->mu);
		for (struct job **pp = &js->running; *pp; pp = &(*pp)->next) {
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		}
		pthread_mutex_unlock(&js->mu);
		errno = err;
		return -1;
	}
	js->n_running++;
	return 0;
}

/* Is a running job's match(job, key) true (a file a job is rewriting)? */
bool job_busy(struct agent *ag, bool (*match)(const struct job *j, const void *key),
	      const void *key)
{
	struct jobs *js = ag->jobs;
	bool busy = false;

	pthread_mutex_lock(&js->mu);
	for (struct job *j = js->running; j && !busy; j = j->next)
		busy = match(j, key);
	for (struct job *j = js->finished; j && !busy; j = j->next)
		busy = match(j, key);
	pthread_mutex_unlock(&js->mu);
	return busy;
}
