/*
 * Snapshots in flight, recorded in the state directory: a capture (or a
 * consolidation, under an id of its own) writes its image to <path>.tmp
 * and renames it into place when it completes, so
 * an agent killed in the middle leaves a partial .tmp that nobody would
 * remove.  Before the .tmp is created the take is recorded
 * (<state>/inflight/<snapshot_id>.json, fsynced); the record goes when the
 * take ends, whichever way.  A starting agent removes the .tmp of every
 * record it finds (the image itself, renamed into place before the record
 * could go, is complete and stays) and then the record.
 */
#ifndef FAULTLINE_INFLIGHT_H
#define FAULTLINE_INFLIGHT_H

#include <stdbool.h>

struct agent;

/* 0, or -1 with errno: the take must not start (nothing would clean up after it) */
int inflight_note(struct agent *ag, const char *snapshot_id, const char *path);
void inflight_done(struct agent *ag, const char *snapshot_id);
/* allowed(ag, path): whether path is a snapshot path this agent may write */
void inflight_recover(struct agent *ag, bool (*allowed)(struct agent *ag, const char *path));

#endif /* FAULTLINE_INFLIGHT_H */
