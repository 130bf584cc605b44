/*
 * snapshot_take (PROTOCOL.md §1.10) on the loop thread: it hands a capture
 * (capture.h) to the region's fault worker and answers when it comes back.
 * The jobs on whole images are in imgjob.h.  Snapshot paths must lie
 * inside the --allow-snapshot-dir directories (snap_check_path).
 */
#ifndef FAULTLINE_SNAP_H
#define FAULTLINE_SNAP_H

#include <jansson.h>

#include "cmd.h"
#include "fault.h"

struct agent;

int snap_take(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
	      json_t **reply, struct cmd_error *err);
void snap_capture_done(struct agent *ag, struct fault_done *d);
void snap_quiesce_reply(struct agent *ag, struct conn *c, const struct proto_hdr *h,
			const uint8_t *payload);
/* At start: removes the partial images of snapshots a killed agent left (inflight.h). */
void snap_recover(struct agent *ag);
void snap_fini(struct agent *ag);
/* whether a snapshot of the region is being taken */
bool snap_taking(struct agent *ag, const char *region_id, char *snapshot_id, size_t len);
/* whether a snapshot_take is writing the image at path */
bool snap_writing(struct agent *ag, const char *path);
/*
 * A snapshot path from a request: absolute, its directory inside an allowed
 * snapshot directory after resolving symlinks (the file itself may not exist
 * yet).  out: the directory resolved + the name.  -1 with err set.
 */
int snap_check_path(struct agent *ag, json_t *v, const char *what, char *out, size_t out_len,
		    struct cmd_error *err);

#endif /* FAULTLINE_SNAP_H */
