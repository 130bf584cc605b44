/*
 * The migration job registry shared by mig.c (registry, JSON, start and
 * stop), mig_listen.c (the page channel listener) and mig_ctl.c (the
 * control messages).  Private to src/migration/.
 */
#ifndef FAULTLINE_MIG_REG_H
#define FAULTLINE_MIG_REG_H

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>

#include "loop.h"
#include "mig.h"

#define MIG_MAX_HANDSHAKES 32     /* connections not yet authenticated */
#define MIG_MAX_PEER_HANDSHAKES 8 /* of them from one address */
#define MIG_ACCEPT_BACKOFF_MIN_MS 10
#define MIG_ACCEPT_BACKOFF_MAX_MS 1000
/* "granule_pages": pages one tracking fault lifts when a job tracks on the hold uffd */
#define MIG_DEFAULT_GRANULE 1
#define MIG_MAX_GRANULE 512

struct mig_extra {
	struct srv *sock; /* destination: the session socket */
	char sock_path[256];
};

/* destination session sockets, by job: kept beside the job, loop thread only */
struct mig_side {
	struct mig *m;
	struct mig_extra x;
	struct mig_side *next;
};

struct mig_reg {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct mig *head;
	int listen_fd;
	pthread_t listen_th;
	bool listening;
	char bound[300];
	unsigned handshakes;     /* listener threads alive (handshake, then reader) */
	unsigned pending;        /* of them in their handshake */
	struct {
		char addr[INET6_ADDRSTRLEN];
		unsigned n;      /* handshakes from addr; 0: entry free */
	} peers[MIG_MAX_HANDSHAKES];
	struct ptls *tls;        /* both directions' TLS contexts */
	int notify_fd;
	struct loop_handler notify_h;
	struct agent *ag;
	struct mig_side *sides;  /* loop thread only */
};

struct mig *mig_find_locked(struct mig_reg *reg, const char *id);
void mig_free(struct mig *m);
void mig_put(struct mig_reg *reg, struct mig *m);
void mig_stop_job(struct agent *ag, struct mig *m, bool cancel);
void *mig_listen_main(void *arg);

#endif /* FAULTLINE_MIG_REG_H */
