/*
 * Snapshot control messages (PROTOCOL.md §1.10) on the loop thread:
 * snapshot_take hands a capture (capture.h) to the region's fault worker
 * and answers when it comes back; snapshot_verify, snapshot_consolidate and
 * snapshot_restore read or write whole images on job threads (job.h);
 * snapshot_delete removes an image and a leftover temporary file.
 * Paths must lie inside the --allow-snapshot-dir directories.
 */
#ifndef FAULTLINE_SNAP_H
#define FAULTLINE_SNAP_H

#include <jansson.h>

#include "cmd.h"
#include "fault.h"

struct agent;

int snap_take(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
	      json_t **reply, struct cmd_error *err);
int snap_verify(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		json_t **reply, struct cmd_error *err);
int snap_delete(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		json_t **reply, struct cmd_error *err);
int snap_consolidate(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		     json_t *req, json_t **reply, struct cmd_error *err);
int snap_restore(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		 json_t **reply, struct cmd_error *err);
void snap_capture_done(struct agent *ag, struct fault_done *d);
void snap_quiesce_reply(struct agent *ag, struct conn *c, const struct proto_hdr *h,
			const uint8_t *payload);
/* At start: removes the partial images of snapshots a killed agent left (inflight.h). */
void snap_recover(struct agent *ag);
void snap_fini(struct agent *ag);
/* whether a snapshot of the region is being taken */
bool snap_taking(struct agent *ag, const char *region_id, char *snapshot_id, size_t len);
const char *snap_restore_dir(struct agent *ag);

#endif /* FAULTLINE_SNAP_H */
