/*
 * libfaultline's side of the handoff framing (PROTOCOL.md §1.1, §2.1):
 * blocking frame I/O on one AF_UNIX stream socket, with the uffd passed as
 * SCM_RIGHTS on a frame's first byte (the hold uffd rides along as a second
 * descriptor).  Reuses the agent's codec (proto.c).
 */
#ifndef FAULTLINE_FLWIRE_H
#define FAULTLINE_FLWIRE_H

#include <stdint.h>

#include <jansson.h>

#include "proto.h"

#define FLW_RX_FDS 4

struct flw {
	int fd;
	struct proto_buf in;
	int rx_fds[FLW_RX_FDS]; /* descriptors received, oldest first, not taken yet */
	unsigned n_rx_fds;
};

enum flw_recv {
	FLW_FRAME = 1,
	FLW_TIMEOUT = 0,
	FLW_ERROR = -1,   /* errno: ECONNRESET on end of stream, EPROTO on garbage */
	FLW_STOPPED = -2, /* wake_fd became readable */
};

int flw_connect(const char *path);
#define FLW_MAX_FDS 2

/* pass: descriptors sent with the frame's first byte, -1 entries skipped */
int flw_send(int fd, uint8_t type, uint16_t flags, uint64_t id, json_t *body,
	     const int pass[FLW_MAX_FDS]);
enum flw_recv flw_recv(struct flw *w, int timeout_ms, int wake_fd, struct proto_hdr *h,
		       json_t **body);
void flw_reset(struct flw *w);
/* The oldest descriptor received and not taken yet (the caller owns it), or -1. */
int flw_take_fd(struct flw *w);

#endif /* FAULTLINE_FLWIRE_H */
