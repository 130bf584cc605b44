/*
 * The migration journal (PROTOCOL.md §1.9 "Agent restarts"): what a
 * restarted agent needs to go on with a job, on either side, in
 * <state-dir>/migration/<id>.job (JSON, mode 0600, written whole to a
 * temporary name, fsynced and renamed: core/afile.c).  The job's secret is
 * never in it: a job read back waits, paused, until the control plane
 * supplies the secret again (migration_resume with "secret").
 *
 * The destination's is written before what it records is acted on or
 * answered: at migration_in, when the workload attached (its region id,
 * which it resumes with), at the switchover, before `done` (every page
 * installed in the workload) and at completion; the source's before the
 * job starts, at completion, cancel and failure (whether it switched over
 * is its .held marker, mig.c).  Staged pages are not journaled: a restarted destination
 * answers the source's reconnect with sequence 0 and is sent every page
 * again; what the workload holds it learns from its pagemap, the pages the
 * workload removed from <state-dir>/migration/<region id>.removed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "agent.h"
#include "mig.h"

#define LOG_COMP "migration"
#include "log.h"

#include "mig_dst.h"
#include "mig_journal.h"

/* One writer at a time, so that a later state never loses to an earlier one. */
static pthread_mutex_t jr_mu = PTHREAD_MUTEX_INITIALIZER;

static void job_path(const struct mig *m, char *out, size_t len)
{
	snprintf(out, len, "%s/migration/%s.job", m->ag->opts.state_dir, m->id);
}

void mig_journal_dir(const struct agent *ag, char *out, size_t len)
{
	snprintf(out, len, "%s/migration", ag->opts.state_dir);
}

static json_t *dst_json(struct mig *m)
{
	struct mig_dst *d = m->dst;

	return json_pack("{s:i, s:s, s:s, s:s, s:I, s:i, s:O, s:s, s:I, s:s?, s:b, s:I, s:b, s:b}",
			 "version", 1, "migration_id", m->id, "role", "destination", "region_name",
			 m->region_name, "length", (json_int_t)m->length, "page_size", (int)m->page_size,
			 "labels", m->labels, "channel", m->channel, "created_ms",
			 (json_int_t)m->created_ms, "region_id", m->region_id[0] ? m->region_id : NULL,
			 "switched", d && d->switched, "switchover_at_ms",
			 (json_int_t)m->st.switchover_at_ms, "installed_all",
			 d && atomic_load(&d->all_installed), "completed", m->phase == MIG_COMPLETED);
}

/* The source's: whether it switched over is its .held marker (mig.c), written apart. */
static json_t *src_json(struct mig *m)
{
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:i, s:O, s:s, s:I, s:b, s:{s:I, s:I, s:I, "
			 "s:b, s:I, s:I, s:b, s:b, s:b, s:b, s:i}}",
			 "version", 1, "migration_id", m->id, "role", "source", "region_id",
			 m->region_id, "region_name", m->region_name, "length", (json_int_t)m->length,
			 "page_size", (int)m->page_size, "labels", m->labels, "destination", m->channel,
			 "created_ms", (json_int_t)m->created_ms, "completed", m->phase == MIG_COMPLETED,
			 "options", "bandwidth_bytes_per_s", (json_int_t)m->bw_bytes_per_s, "max_rounds",
			 (json_int_t)m->max_rounds, "max_downtime_ms", (json_int_t)m->max_downtime_ms,
			 "postcopy_auto", m->postcopy_auto, "postcopy_after_ms",
			 (json_int_t)m->postcopy_after_ms, "granule_pages", (json_int_t)m->granule,
			 "tracking_hold", m->track_on_hold, "compress_zstd", m->compress_zstd,
			 "skip_unchanged", m->skip_unchanged, "auto_converge", m->auto_converge,
			 "push_connections", (int)m->push_conns);
}

/*
 * A job that ended badly, as its journal says (loop thread, before the job
 * is listed): it stays so.  Returns whether it had.
 */
bool mig_journal_ended(struct mig *m, json_t *j)
{
	const char *ended = json_string_value(json_object_get(j, "ended"));
	const char *error = json_string_value(json_object_get(j, "error"));

	if (!ended || (strcmp(ended, "failed") && strcmp(ended, "cancelled")))
		return false;
	m->phase = m->paused_in = !strcmp(ended, "failed") ? MIG_FAILED : MIG_CANCELLED;
	snprintf(m->error, sizeof(m->error), "%s", error ? error : "");
	return true;
}

/* Any thread; takes m->mu.  -1 with errno when it could not be written. */
int mig_journal_write(struct mig *m)
{
	char path[512], *text = NULL;
	json_t *o;
	int r = -1;

	job_path(m, path, sizeof(path));
	pthread_mutex_lock(&jr_mu);
	pthread_mutex_lock(&m->mu);
	o = m->role == MIG_DEST ? dst_json(m) : src_json(m);
	/* a job that failed or was cancelled comes back so, never started again */
	if (o && (m->phase == MIG_FAILED || m->phase == MIG_CANCELLED) &&
	    (json_object_set_new(o, "ended", json_string(mig_phase_name(m->phase))) ||
	     json_object_set_new(o, "error", json_string(m->error)))) {
		json_decref(o);
		o = NULL;
	}
	pthread_mutex_unlock(&m->mu);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!text)
		errno = ENOMEM;
	else
		r = afile_write(path, text, strlen(text), 0600);
	if (r)
		pr_perror(&m->ag->log, "cannot write the migration journal", LF_STR("migration", m->id),
			  LF_STR("path", path));
	pthread_mutex_unlock(&jr_mu);
	free(text);
	json_decref(o);
	return r;
}

/* The job is deleted: its journal and its region's record of removed pages go. */
void mig_journal_forget(struct mig *m)
{
	char path[512];

	job_path(m, path, sizeof(path));
	pthread_mutex_lock(&jr_mu);
	if (unlink(path) && errno != ENOENT)
		pr_pwarn(&m->ag->log, "cannot remove the migration journal", LF_STR("path", path));
	pthread_mutex_unlock(&jr_mu);
	if (m->role == MIG_DEST && m->region_id[0]) {
		snprintf(path, sizeof(path), "%s/migration/%s.removed", m->ag->opts.state_dir,
			 m->region_id);
		if (unlink(path) && errno != ENOENT)
			pr_pwarn(&m->ag->log, "cannot remove the record of removed pages",
				 LF_STR("path", path));
	}
}

/*
 * Agent start: every journaled destination job is made again (loop
 * thread, after the page channel listener started).  A journal that cannot
 * be read or does not make sense is left where it is and logged: it may be
 * the only record of a workload waiting for its pages.
 */
void mig_journal_recover(struct agent *ag)
{
	char dir[512], path[800];
	struct dirent *de;
	DIR *dp;

	mig_journal_dir(ag, dir, sizeof(dir));
	dp = opendir(dir);
	while (dp && (de = readdir(dp))) {
		size_t len = strlen(de->d_name);
		json_error_t jerr;
		json_t *o;
		char why[256];

		if (len != JX_UUID_LEN + 4 || strcmp(de->d_name + JX_UUID_LEN, ".job"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		o = json_load_file(path, 0, &jerr);
		if (!o) {
			pr_err(&ag->log, "unreadable migration journal left in place", LF_STR("path", path),
			       LF_STR("error", jerr.text));
			continue;
		}
		if (mig_recover(ag, o, why, sizeof(why)))
			pr_err(&ag->log, "migration journal not resumed, left in place", LF_STR("path", path),
			       LF_STR("error", why));
		json_decref(o);
	}
	if (dp)
		closedir(dp);
}
