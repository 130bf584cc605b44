/*
 * Jobs on whole snapshot images: snapshot_verify, snapshot_consolidate,
 * snapshot_restore and snapshot_delete (PROTOCOL.md §1.10).  They read or
 * write files on job threads (job.h) and answer from the loop thread;
 * none of them runs on a path a snapshot_take is writing.
 */
#ifndef FAULTLINE_IMGJOB_H
#define FAULTLINE_IMGJOB_H

#include <jansson.h>

#include "cmd.h"

struct agent;

int imgjob_verify(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		  json_t **reply, struct cmd_error *err);
int imgjob_delete(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		  json_t **reply, struct cmd_error *err);
int imgjob_consolidate(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h,
		       json_t *req, json_t **reply, struct cmd_error *err);
int imgjob_restore(struct agent *ag, struct cmd_session *s, const struct proto_hdr *h, json_t *req,
		   json_t **reply, struct cmd_error *err);

#endif /* FAULTLINE_IMGJOB_H */
