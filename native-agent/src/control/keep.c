/*
 * uffds kept across agent restarts; see keep.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "afile.h"
#include "agent.h"
#include "fdstore.h"
#include "keep.h"
#include "region.h"
#include "restore.h"

#define LOG_COMP "keep"
#include "log.h"

#define KEEP_DIR "kept"

static int record_path(const struct agent *ag, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s/%s.json", ag->opts.state_dir, KEEP_DIR, name) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Field 22 of /proc/PID/stat: tells a workload from a later process with its pid. */
static int pid_start(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
	if (!p)
		return -1;
	/* after ")": state is field 3; start time is field 22 */
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &v) != 1)
		return -1;
	*out = v;
	return 0;
}

int keep_open(struct agent *ag, bool spawn)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", ag->opts.state_dir, KEEP_DIR);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_perror(&ag->log, "cannot create the directory of kept uffds", LF_STR("path", dir));
		return -1;
	}
	if (ag->opts.fd_store == FDSTORE_OFF)
		return -1;
	ag->fdstore = fdstore_open(&ag->log, ag->opts.fd_store, ag->opts.state_dir, "/proc/self/exe",
				   spawn);
	if (!ag->fdstore) {
		if (spawn || errno != ENOENT)
			pr_pwarn(&ag->log, "no descriptor store: Firecracker guests will not survive "
					   "an agent restart");
		return -1;
	}
	pr_info(&ag->log, "descriptor store ready",
		LF_STR("kind", ag->opts.fd_store == FDSTORE_SYSTEMD ? "systemd" : "keeper"));
	return 0;
}

void keep_close(struct agent *ag)
{
	fdstore_close(ag->fdstore);
	ag->fdstore = NULL;
}

static json_t *record_json(const struct keep_record *rec)
{
	json_t *regs = json_array(), *o;

	if (!regs)
		return NULL;
	for (unsigned i = 0; i < rec->n; i++) {
		const struct hsk_fc_region *m = &rec->regions[i].m;

		if (json_array_append_new(regs, json_pack("{s:s, s:I, s:I, s:I, s:I}", "id",
							  rec->regions[i].id, "base", (json_int_t)m->base,
							  "size", (json_int_t)m->size, "offset",
							  (json_int_t)m->offset, "page_size",
							  (json_int_t)m->page_size))) {
			json_decref(regs);
			return NULL;
		}
	}
	o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:o}", "version", 1, "name", rec->name, "session",
		      rec->session, "pid", (json_int_t)rec->pid, "pid_start",
		      (json_int_t)rec->pid_start, "regions", regs);
	return o;
}

static int record_parse(json_t *o, struct keep_record *rec)
{
	json_t *regs, *r;
	json_int_t pid, start;
	const char *name, *session;
	size_t i;

	memset(rec, 0, sizeof(*rec));
	if (json_unpack(o, "{s:s, s:s, s:I, s:I, s:o}", "name", &name, "session", &session, "pid",
			&pid, "pid_start", &start, "regions", &regs) ||
	    !json_is_array(regs) || json_array_size(regs) == 0 ||
	    json_array_size(regs) > KEEP_MAX_REGIONS || pid <= 0 || start < 0 ||
	    strlen(name) >= sizeof(rec->name) || strlen(session) >= sizeof(rec->session))
		return -1;
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	snprintf(rec->session, sizeof(rec->session), "%s", session);
	rec->pid = (pid_t)pid;
	rec->pid_start = (uint64_t)start;
	json_array_foreach(regs, i, r) {
		json_int_t base, size, off, ps;
		const char *id;

		if (json_unpack(r, "{s:s, s:I, s:I, s:I, s:I}", "id", &id, "base", &base, "size", &size,
				"offset", &off, "page_size", &ps) ||
		    !jx_uuid_valid(id) || base < 0 || size <= 0 || off < 0 || ps <= 0 ||
		    ps > UINT32_MAX)
			return -1;
		snprintf(rec->regions[i].id, sizeof(rec->regions[i].id), "%s", id);
		rec->regions[i].m = (struct hsk_fc_region){ .base = (uint64_t)base,
							     .size = (uint64_t)size,
							     .offset = (uint64_t)off,
							     .page_size = (uint32_t)ps };
	}
	rec->n = (unsigned)json_array_size(regs);
	return 0;
}

int keep_firecracker(struct agent *ag, struct restore *s, pid_t pid, int fd,
		     struct region *const *regs, unsigned n)
{
	struct keep_record rec;
	char path[PATH_MAX];
	json_t *o;
	char *text;
	int ret;

	if (!n || n > KEEP_MAX_REGIONS || ag->opts.fd_store == FDSTORE_OFF ||
	    (!ag->fdstore && keep_open(ag, true)))
		return -1;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.name, sizeof(rec.name), "fc-%s", regs[0]->id);
	snprintf(rec.session, sizeof(rec.session), "%s", s->id);
	rec.pid = pid;
	if (pid_start(pid, &rec.pid_start)) {
		pr_pwarn(&ag->log, "cannot read the workload's start time; its uffd is not kept",
			 LF_INT("pid", pid));
		return -1;
	}
	rec.n = n;
	for (unsigned i = 0; i < n; i++) {
		snprintf(rec.regions[i].id, sizeof(rec.regions[i].id), "%s", regs[i]->id);
		rec.regions[i].m = (struct hsk_fc_region){ .base = region_start(regs[i]),
							    .size = regs[i]->length,
							    .offset = regs[i]->image_offset -
								      s->image_offset,
							    .page_size = regs[i]->page_size };
	}
	o = record_json(&rec);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	/* the record first: a kept uffd without one is dropped at the next start */
	ret = !text || record_path(ag, rec.name, path, sizeof(path)) ||
			      afile_write(path, text, strlen(text), 0600)
		      ? -1
		      : 0;
	free(text);
	if (ret) {
		pr_perror(&ag->log, "cannot record a uffd to keep", LF_STR("name", rec.name));
		return -1;
	}
	if (fdstore_put(ag->fdstore, rec.name, fd, pid)) {
		unlink(path);
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		snprintf(regs[i]->ctl.kept, sizeof(regs[i]->ctl.kept), "%s", rec.name);
	pr_info(&ag->log, "uffd kept across agent restarts", LF_STR("name", rec.name),
		LF_INT("pid", pid), LF_UINT("regions", n));
	return 0;
}

static void forget_kept(struct agent *ag, const char *name)
{
	char path[PATH_MAX];

	if (ag->fdstore && fdstore_del(ag->fdstore, name))
		pr_pwarn(&ag->log, "cannot drop a kept uffd", LF_STR("name", name));
	if (!record_path(ag, name, path, sizeof(path)) && unlink(path) && errno != ENOENT)
		pr_pwarn(&ag->log, "cannot remove the record of a kept uffd", LF_STR("path", path));
}

void keep_release(struct agent *ag, struct region *r)
{
	if (!r->ctl.kept[0])
		return;
	for (struct region *o = ag->regions->head; o; o = o->ctl.next) {
		if (o != r && region_state(o) != REGION_DETACHED && !strcmp(o->ctl.kept, r->ctl.kept)) {
			r->ctl.kept[0] = '\0';
			return;
		}
	}
	pr_info(&ag->log, "kept uffd released", LF_STR("name", r->ctl.kept));
	forget_kept(ag, r->ctl.kept);
	r->ctl.kept[0] = '\0';
}

struct recovery {
	struct agent *ag;
	keep_serve_fn serve;
};

static void recover_one(void *arg, const char *name, int fd)
{
	struct recovery *rc = arg;
	struct agent *ag = rc->ag;
	struct keep_record rec;
	char path[PATH_MAX];
	json_error_t jerr;
	struct restore *s;
	uint64_t start;
	json_t *o = NULL;
	const char *why;

	if (record_path(ag, name, path, sizeof(path)) ||
	    !(o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
		why = "no record of it";
		goto drop;
	}
	if (record_parse(o, &rec) || strcmp(rec.name, name)) {
		why = "its record is not valid";
		goto drop;
	}
	if (pid_start(rec.pid, &start) || start != rec.pid_start) {
		why = "its workload is gone";
		goto drop;
	}
	s = restore_find(ag, rec.session);
	if (!s) {
		why = "its restore session is gone";
		goto drop;
	}
	json_decref(o);
	if (rc->serve(ag, &rec, s, fd)) {
		pr_err(&ag->log, "a kept uffd cannot be served again", LF_STR("name", name));
		forget_kept(ag, name);
		return;
	}
	pr_info(&ag->log, "kept uffd served again", LF_STR("name", name), LF_INT("pid", rec.pid),
		LF_UINT("regions", rec.n));
	return;
drop:
	json_decref(o);
	close(fd);
	pr_warn(&ag->log, "kept uffd dropped", LF_STR("name", name), LF_STR("reason", why));
	forget_kept(ag, name);
}

/* Records whose uffd the store no longer has (its workload exited meanwhile). */
static void remove_orphans(struct agent *ag)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", ag->opts.state_dir, KEEP_DIR);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		bool served = false;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		for (struct region *r = ag->regions->head; r && !served; r = r->ctl.next)
			served = !strncmp(r->ctl.kept, de->d_name, len - 5) && !r->ctl.kept[len - 5];
		if (!served && unlinkat(dirfd(d), de->d_name, 0) == 0)
			pr_info(&ag->log, "record of a uffd no longer kept removed",
				LF_STR("file", de->d_name));
	}
	closedir(d);
}

void keep_recover(struct agent *ag, keep_serve_fn serve)
{
	struct recovery rc = { .ag = ag, .serve = serve };

	/* no store (its keeper exits once every workload it kept for has): records are orphans */
	if (ag->fdstore && fdstore_list(ag->fdstore, recover_one, &rc))
		pr_pwarn(&ag->log, "cannot list the kept uffds");
	remove_orphans(ag);
}
