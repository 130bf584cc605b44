/*
 * Snapshots in flight; see inflight.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "afile.h"
#include "agent.h"
#include "inflight.h"
#include "jx.h"

#define LOG_COMP "snapshot"
#include "log.h"

#define INFLIGHT_DIR "inflight"

static int record_path(struct agent *ag, const char *snapshot_id, char *out, size_t len)
{
	if (!jx_uuid_valid(snapshot_id) ||
	    (size_t)snprintf(out, len, "%s/" INFLIGHT_DIR "/%s.json", ag->opts.state_dir, snapshot_id) >= len) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int inflight_note(struct agent *ag, const char *snapshot_id, const char *path)
{
	char dir[PATH_MAX], rec[PATH_MAX];
	json_t *o = NULL;
	char *text = NULL;
	int ret = -1;

	snprintf(dir, sizeof(dir), "%s/" INFLIGHT_DIR, ag->opts.state_dir);
	if ((mkdir(dir, 0700) && errno != EEXIST) || record_path(ag, snapshot_id, rec, sizeof(rec)))
		return -1;
	o = json_pack("{s:i, s:s, s:s}", "version", 1, "snapshot_id", snapshot_id, "path", path);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!text)
		errno = ENOMEM;
	else
		ret = afile_write(rec, text, strlen(text), 0600);
	free(text);
	json_decref(o);
	return ret;
}

void inflight_done(struct agent *ag, const char *snapshot_id)
{
	char rec[PATH_MAX];

	if (!record_path(ag, snapshot_id, rec, sizeof(rec)) && unlink(rec) && errno != ENOENT)
		pr_pwarn(&ag->log, "cannot remove the record of a snapshot in flight", LF_STR("path", rec));
}

/* One record: its .tmp removed when it is a path the agent may write, then the record. */
static void recover_one(struct agent *ag, const char *rec,
			bool (*allowed)(struct agent *ag, const char *path))
{
	json_error_t jerr;
	json_t *o = json_load_file(rec, 0, &jerr);
	const char *id = NULL, *path = NULL;
	char tmp[PATH_MAX];

	if (!o || json_unpack(o, "{s:s, s:s}", "snapshot_id", &id, "path", &path) || path[0] != '/' ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) || !allowed(ag, path)) {
		pr_warn(&ag->log, "unreadable record of a snapshot in flight, removed",
			LF_STR("path", rec));
	} else if (!unlink(tmp)) {
		pr_warn(&ag->log, "snapshot interrupted by an agent restart: its partial image removed",
			LF_STR("snapshot", id), LF_STR("path", tmp));
	} else if (errno != ENOENT) {
		pr_pwarn(&ag->log, "cannot remove the partial image of an interrupted snapshot",
			 LF_STR("snapshot", id), LF_STR("path", tmp));
		json_decref(o);
		return; /* the record stays: the next start tries again */
	}
	json_decref(o);
	if (unlink(rec) && errno != ENOENT)
		pr_pwarn(&ag->log, "cannot remove the record of a snapshot in flight", LF_STR("path", rec));
}

void inflight_recover(struct agent *ag, bool (*allowed)(struct agent *ag, const char *path))
{
	char dir[PATH_MAX], rec[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/" INFLIGHT_DIR, ag->opts.state_dir);
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			pr_pwarn(&ag->log, "cannot read the records of snapshots in flight",
				 LF_STR("path", dir));
		return;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json"))
			continue;
		if ((size_t)snprintf(rec, sizeof(rec), "%s/%s", dir, de->d_name) < sizeof(rec))
			recover_one(ag, rec, allowed);
	}
	closedir(d);
}
