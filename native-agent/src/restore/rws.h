/*
 * Working sets of restore sessions (file format: wset.h, PROTOCOL.md §4).
 * Loop thread only.
 */
#ifndef FAULTLINE_RWS_H
#define FAULTLINE_RWS_H

#include <stdbool.h>

struct agent;
struct image;
struct region;
struct restore;
struct wset_rec;

char *rws_path(const struct agent *ag, const struct image *im, bool beside);
bool rws_find(struct restore *s);
bool rws_save(struct restore *s);
void rws_keep(struct restore *s, struct wset_rec *rec);
int rws_prefetch(const struct restore *s, struct region *r, bool sorted);

#endif /* FAULTLINE_RWS_H */
