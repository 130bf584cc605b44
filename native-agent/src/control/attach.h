/*
 * Regions from handoff to release, on the loop thread: creating them from a
 * libfaultline registration or a Firecracker handshake, handing their uffd
 * to the fault engine, detaching them on request, and acting on what the
 * engine reports (replies that were waiting, session state, recordings,
 * telling the workload its region was released).
 */
#ifndef FAULTLINE_ATTACH_H
#define FAULTLINE_ATTACH_H

#include <stdbool.h>

#include <jansson.h>

#include "cmd.h"
#include "conn.h"
#include "hsk.h"
#include "keep.h"

struct agent;
struct region;
struct restore;

int attach_start(struct agent *ag);
void attach_stop(struct agent *ag);
int attach_register(struct agent *ag, struct conn *c, struct restore *s, const struct proto_hdr *h,
		    json_t *req, int fd, int hold_fd, json_t **reply, struct cmd_error *err);
int attach_firecracker(struct agent *ag, struct conn *c, struct restore *s,
		       const struct hsk_fc_region *m, unsigned n, int fd, char *why, size_t why_len);
int attach_kept_firecracker(struct agent *ag, const struct keep_record *rec, struct restore *s,
			    int fd);
void attach_sweep_removed(struct agent *ag);
int attach_unregister(struct agent *ag, const struct conn_peer *peer, json_t *req,
		      struct cmd_error *err);
int attach_detach(struct agent *ag, struct region *r, bool populate, struct conn_ref ref,
		  uint8_t type, uint64_t id, json_t **reply, struct cmd_error *err);

#endif /* FAULTLINE_ATTACH_H */
