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

#endif /* FAULTLINE_AFILE_H */
