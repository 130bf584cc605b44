/*
 * Working sets of restore sessions: where a session's recording lives,
 * finding one that belongs to exactly this image, saving what the regions
 * recorded, and turning a recording into the replay of one region.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "agent.h"
#include "image.h"
#include "region.h"
#include "restore.h"
#include "rws.h"

#define LOG_COMP "restore"
#include "log.h"

/* a replayed run is installed in pieces no larger than this (pages) */
#define RWS_REPLAY_PIECE 512

/*
 * Next to the image when its directory is writable (it then travels with
 * the image), else in <state-dir>/worksets under a name derived from the
 * image's resolved path.
 */
char *rws_path(const struct agent *ag, const struct image *im, bool beside)
{
	char *p = NULL, name[32];

	if (beside) {
		char *dir = strdup(im->path), *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash)
			*slash = '\0';
		if (dir && !access(slash == dir ? "/" : dir, W_OK) &&
		    asprintf(&p, "%s.flws", im->path) < 0)
			p = NULL;
		free(dir);
		return p;
	}
	snprintf(name, sizeof(name), "%016llx",
		 (unsigned long long)XXH64(im->path, strlen(im->path), 0));
	if (asprintf(&p, "%s/worksets/%s.flws", ag->opts.state_dir, name) < 0)
		return NULL;
	return p;
}

/* A recording for exactly this image (same size, mtime and sample), or none. */
bool rws_find(struct restore *s)
{
	struct wset_ident id;
	char why[256];

	wset_ident_of(s->image, &id);
	for (int beside = 1; beside >= 0; beside--) {
		char *p = rws_path(s->ag, s->image, beside);
		struct wset w;

		if (!p)
			continue;
		if (!wset_load(p, &w, why, sizeof(why))) {
			if (!memcmp(&w.ident, &id, sizeof(id))) {
				s->replay = w;
				free(s->ws_file);
				s->ws_file = p;
				return true;
			}
			pr_info(&s->ag->log, "working set recorded for another version of the image, ignored",
				LF_STR("file", p));
			wset_free(&w);
		} else if (errno != ENOENT) {
			pr_warn(&s->ag->log, "working set unusable, ignored", LF_STR("file", p),
				LF_STR("reason", why));
		}
		free(p);
	}
	return false;
}

bool rws_save(struct restore *s)
{
	struct wset w = { .created_ms = jx_now_ms() };
	struct wset_rec **recs;

	if (s->ws_mode != WS_RECORD || s->ws_saved || !s->n_recs)
		return false;
	recs = malloc(s->n_recs * sizeof(*recs));
	if (!recs)
		return false;
	for (unsigned i = 0; i < s->n_recs; i++)
		recs[i] = &s->recs[i];
	wset_ident_of(s->image, &w.ident);
	if (wset_from_recs(&w, recs, s->n_recs) || !w.n) {
		free(recs);
		wset_free(&w);
		return false;
	}
	free(recs);
	s->recorded_pages = 0;
	for (uint64_t i = 0; i < w.n; i++)
		s->recorded_pages += w.runs[i].count;
	if (wset_store(s->ws_file, &w))
		pr_perror(&s->ag->log, "cannot store working set", LF_STR("file", s->ws_file));
	else
		pr_info(&s->ag->log, "working set recorded", LF_STR("id", s->id),
			LF_STR("file", s->ws_file), LF_UINT("runs", w.n),
			LF_UINT("pages", s->recorded_pages));
	s->ws_saved = true;
	wset_free(&w);
	for (unsigned i = 0; i < s->n_recs; i++)
		wset_rec_free(&s->recs[i]);
	free(s->recs);
	s->recs = NULL;
	s->n_recs = 0;
	return true;
}

void rws_keep(struct restore *s, struct wset_rec *rec)
{
	struct wset_rec *recs;

	if (!rec->n || s->ws_mode != WS_RECORD || s->ws_saved) {
		wset_rec_free(rec);
		return;
	}
	recs = realloc(s->recs, (s->n_recs + 1) * sizeof(*recs));
	if (!recs) {
		wset_rec_free(rec);
		return;
	}
	s->recs = recs;
	s->recs[s->n_recs++] = *rec;
	memset(rec, 0, sizeof(*rec));
}

static int cmp_run(const void *a, const void *b)
{
	const struct wset_run *x = a, *y = b;

	return x->page < y->page ? -1 : x->page > y->page;
}

static int add_run(struct wset_run **runs, uint64_t *n, uint64_t *cap, uint64_t first, uint64_t last)
{
	while (first < last) {
		uint64_t c = last - first > RWS_REPLAY_PIECE ? RWS_REPLAY_PIECE : last - first;

		if (*n == *cap) {
			uint64_t more = *cap ? *cap * 2 : 64;
			struct wset_run *p = realloc(*runs, more * sizeof(**runs));

			if (!p)
				return -1;
			*runs = p;
			*cap = more;
		}
		(*runs)[(*n)++] = (struct wset_run){ .page = first, .count = (uint32_t)c };
		first += c;
	}
	return 0;
}

/*
 * The recorded runs that fall into r's part of the image, in r's pages.
 * When the workload waits for all of them (libfaultline: the registration
 * is answered after the replay) they are installed in address order with
 * neighbours merged, since larger ioctls install pages for less; when the
 * workload runs meanwhile (Firecracker) the recorded order is kept, first
 * touched first installed, and only runs that follow each other merge.
 */
int rws_prefetch(const struct restore *s, struct region *r, bool sorted)
{
	uint64_t lo_b = r->image_offset, hi_b = r->image_offset + r->length;
	uint64_t n = 0, cap = 0, k = 0;
	struct wset_run *iv = NULL, *runs = NULL;

	if (s->ws_mode != WS_REPLAY || !s->replay.n)
		return 0;
	iv = malloc(s->replay.n * sizeof(*iv));
	if (!iv)
		return -1;
	for (uint64_t i = 0; i < s->replay.n; i++) {
		uint64_t a = s->replay.runs[i].page * WSET_PAGE;
		uint64_t b = a + (uint64_t)s->replay.runs[i].count * WSET_PAGE;

		a = a > lo_b ? a : lo_b;
		b = b < hi_b ? b : hi_b;
		if (a >= b)
			continue;
		/* page: first region page; count: pages (bounded by the region) */
		iv[k].page = (a - lo_b) / r->page_size;
		iv[k].count = (uint32_t)((b - lo_b + r->page_size - 1) / r->page_size - iv[k].page);
		k++;
	}
	if (sorted)
		qsort(iv, k, sizeof(*iv), cmp_run);
	for (uint64_t i = 0; i < k;) {
		uint64_t first = iv[i].page, last = first + iv[i].count;

		for (i++; i < k && iv[i].page <= last && iv[i].page >= first; i++)
			last = iv[i].page + iv[i].count > last ? iv[i].page + iv[i].count : last;
		if (add_run(&runs, &n, &cap, first, last)) {
			free(iv);
			free(runs);
			return -1;
		}
	}
	free(iv);
	r->w.prefetch = runs;
	r->w.n_prefetch = n;
	return 0;
}

