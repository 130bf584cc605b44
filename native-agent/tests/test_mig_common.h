/*
 * Shared parts of the migration tests (test_mig_*.c): two real agents on
 * this machine (the destination with a page channel listener) and
 * faultline-demo workloads on them, driven through their control
 * sockets and stdin/stdout; a TCP relay the tests can cut, capture and
 * corrupt; a fake source that authenticates to a destination's page
 * channel.  Every wait is on a real event or polls real state with a
 * deadline.
 */
#ifndef FAULTLINE_TEST_MIG_COMMON_H
#define FAULTLINE_TEST_MIG_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "harness.h"
#include "hwork.h"
#include "pchan.h"
#include "ptls.h"

#define MIG_PAGE 4096
#define MIG_MARKS 64

/* the jobs' secret, and another one */
extern const char *const SECRET;
extern const char *const OTHER;

/* ---- two agents -------------------------------------------------------- */

struct pair {
	struct h_agent src, dst;
	int sctl, dctl;
	char handoff[200];
};

int pair_start_with(struct pair *p, const char *const *extra);
int pair_start(struct pair *p);

/* the job object's fields, and its stats */
const char *str(json_t *o, const char *k);
uint64_t stat_of(json_t *m, const char *k);
void nap_ms(long ms);
json_t *wait_phase(int ctl, const char *id, const char *phases, int timeout_ms);
json_t *wait_stat(int ctl, const char *id, const char *key, uint64_t min, int timeout_ms);
json_t *wait_more_rounds(int ctl, const char *id, uint64_t more, int timeout_ms);
json_t *mig_in(struct pair *p, const char *id, const char *name, uint64_t len,
	       const char *secret);
json_t *mig_out(struct pair *p, const char *id, const char *region, const char *dest,
		const char *secret, json_t *options);
int switch_over_and_wait(int ctl, const char *id, const char *phases, int timeout_ms);
int switch_over_to_dest(struct pair *p, const char *id, json_t *in, struct h_proc *dst,
			const char *dump, const char *phases);
void new_id(char *out);
int out_refused_naming(int ctl, const char *region, const char *dest, const char *opts,
		       const char *field);

/* ---- the workloads (faultline-demo mig-source, mig-dest) ---------------- */

int start_source_paced(struct pair *p, struct h_proc *src, const char *size, char *region,
		       const char *threads, const char *rate);
int start_source_n(struct pair *p, struct h_proc *src, const char *size, char *region,
		   const char *threads);
int start_source(struct pair *p, struct h_proc *src, const char *size, char *region);
int start_dest(struct h_proc *dst, const char *sock, const char *size, const char *dump);
json_t *cmd(struct h_proc *p, const char *line, int timeout_ms);
int dump_to(struct h_proc *w, const char *path, int timeout_ms);
int exit_both(struct h_proc *src, struct h_proc *dst);
uint64_t writes_after(struct h_proc *src, uint64_t since);
long compare_dumps(const char *a, const char *b, uint64_t size);
long compare_dumps_except(const char *a, const char *b, uint64_t size, uint64_t except,
			  uint64_t *except_nonzero);

struct t_env;
int inject_agent(const struct t_env *env, const char *what);

/* ---- a relay between the agents, and the full path through it ------------ */

#define RELAY_PAIRS 128

/* One relayed connection: the source's side, the destination's, a thread per direction. */
struct relay_pair {
	struct relay *r;
	int fd[2];             /* 0: the source's side, 1: the destination's */
	pthread_t pump[2];     /* pump[i] reads fd[i] and writes fd[!i] */
	bool look;             /* the connection whose source bytes are captured or flipped */
};

/*
 * A TCP relay between the source and the destination's page channel that
 * the test can cut (shutting every relayed connection down) and block.
 * Each connection is pumped by its own threads, so one whose reader does
 * not read never holds up another, as on a network.  A connection one side
 * of which ends is shut down both ways but closed only by relay_stop(): the
 * other side's writes into it then block instead of meeting a reset, as on
 * a path that stopped delivering, which the agents must get past.
 */
struct relay {
	int lfd;
	char addr[64], target[64];
	_Atomic int cut, refuse, stop;
	_Atomic int drop;      /* source -> destination bytes are read and thrown away */
	pthread_t t;           /* accepts, and carries out cuts */
	pthread_mutex_t mu;    /* the pairs, the capture */
	struct relay_pair pair[RELAY_PAIRS];
	unsigned n;            /* pairs started (never reused: closed by relay_stop) */
	/* source -> destination bytes of one connection: kept, and one flipped */
	uint8_t *cap;
	size_t cap_len, cap_max;
	uint64_t first_seen;   /* bytes of that connection so far */
	_Atomic uint64_t flip_at; /* offset in that connection; 0: none */
	_Atomic int flipped;
	unsigned look;         /* which accepted connection it is (0: the first) */
};

int relay_start(struct relay *r, const char *target, unsigned look);
void relay_stop(struct relay *r);

enum relay_mode { RELAY_NONE, RELAY_CUT, RELAY_CAPTURE, RELAY_FLIP };

int migrate_and_compare(const char *size_s, uint64_t size, bool cut);
int migrate_via(const char *size_s, uint64_t size, enum relay_mode mode,
		const char *const *extra);

/* How migrate_with() runs the job. */
struct via {
	enum relay_mode mode;
	const char *const *extra; /* more options for both agents, NULL-terminated; NULL: none */
	unsigned push;            /* the job's push_connections (0: not given) */
	unsigned push_used;       /* the connections that must push (push_connections in the stats) */
	unsigned look;            /* the relay captures or flips this accepted connection (0: main) */
};

int migrate_with(const char *size_s, uint64_t size, const struct via *v);

/* ---- a fake source on a destination's page channel ---------------------- */

struct ptls *test_tls(void);
uint64_t deadline_in(unsigned ms);
struct ptls_conn *fake_source(const char *channel, const char *id, enum pchan_kind kind,
			      char *err, size_t err_len);

#endif /* FAULTLINE_TEST_MIG_COMMON_H */
