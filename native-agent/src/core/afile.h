/*
 * Files that are replaced whole or not at all (persisted restore sessions,
 * working-set recordings): written to a temporary name in the same
 * directory, fsynced, renamed over the old one, and the directory fsynced,
 * so a crash leaves either the old or the new content, never a mix.
 */
#ifndef FAULTLINE_AFILE_H
#define FAULTLINE_AFILE_H

#include <stddef.h>
#include <sys/types.h>

int afile_write(const char *path, const void *buf, size_t len, mode_t mode);
/*
 * The same replacement without the fsyncs, where a caller must not wait for
 * the disk: whole against a crash of the process (the kernel keeps what was
 * written), not yet against a crash of the host.  The caller makes it
 * durable with afile_write soon after.
 */
int afile_stage(const char *path, const void *buf, size_t len, mode_t mode);
/*
 * A new file, durable when the call returns, at the cost of one journal
 * commit instead of two: the name is given before the content is synced,
 * so a crash before the return may leave the file at path unreadable
 * (truncated), never a mix with an older file.  For files whose reader
 * skips an unreadable one as never written (a persisted restore session);
 * a file that exists is replaced, and its old content may be lost so.
 */
int afile_create(const char *path, const void *buf, size_t len, mode_t mode);

#endif /* FAULTLINE_AFILE_H */
