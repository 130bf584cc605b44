/*
 * The migration journal (mig_journal.c).  Private to src/migration/.
 */
#ifndef FAULTLINE_MIG_JOURNAL_H
#define FAULTLINE_MIG_JOURNAL_H

#include <stddef.h>

#include <jansson.h>

struct agent;
struct mig;

#include <stdbool.h>

int mig_journal_write(struct mig *m);
bool mig_journal_ended(struct mig *m, json_t *j);
void mig_journal_forget(struct mig *m);
void mig_journal_recover(struct agent *ag);
void mig_journal_dir(const struct agent *ag, char *out, size_t len);

/* mig_dst.c: the state of a job read back from its journal j (before it is listed) */
void mig_dst_restore(struct mig *m, json_t *j);
/* mig_ctl.c: a job made again from its journal o */
int mig_recover(struct agent *ag, json_t *o, char *why, size_t why_len);

#endif /* FAULTLINE_MIG_JOURNAL_H */
