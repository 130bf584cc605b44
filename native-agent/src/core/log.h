/*
 * Structured logging: one logfmt line per event,
 *   ts=2026-11-24T19:54:04.123Z level=info comp=ctl msg="client connected" pid=123
 *
 * Each .c file defines LOG_COMP (its component name) before including this
 * header and logs through the pr_* macros, passing the logger explicitly and
 * key/value fields built with the LF_* macros:
 *   pr_info(lg, "client connected", LF_INT("pid", pid), LF_UINT("uid", uid));
 * Logging never changes errno, so "log where detected, return -1 with errno
 * kept" works without saving errno around every message.
 */
#ifndef FAULTLINE_LOG_H
#define FAULTLINE_LOG_H

#include <errno.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
};

enum log_field_type {
	LOG_F_END,
	LOG_F_STR,
	LOG_F_INT,
	LOG_F_UINT,
	LOG_F_HEX,
	LOG_F_BOOL,
};

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s;
		long long i;
		unsigned long long u;
		bool b;
	};
};

struct log {
	int fd;
	enum log_level level;
	char *path; /* NULL: fd is stderr and is never reopened */
};

#define LF_STR(k, v) ((struct log_field){ .key = (k), .type = LOG_F_STR, .s = (v) })
#define LF_INT(k, v) ((struct log_field){ .key = (k), .type = LOG_F_INT, .i = (long long)(v) })
#define LF_UINT(k, v) ((struct log_field){ .key = (k), .type = LOG_F_UINT, .u = (unsigned long long)(v) })
#define LF_HEX(k, v) ((struct log_field){ .key = (k), .type = LOG_F_HEX, .u = (unsigned long long)(v) })
#define LF_BOOL(k, v) ((struct log_field){ .key = (k), .type = LOG_F_BOOL, .b = (v) })
#define LF_END ((struct log_field){ .key = 0, .type = LOG_F_END })

#define pr_debug(lg, ...) log_emit((lg), LOG_LVL_DEBUG, LOG_COMP, 0, __VA_ARGS__, LF_END)
#define pr_info(lg, ...) log_emit((lg), LOG_LVL_INFO, LOG_COMP, 0, __VA_ARGS__, LF_END)
#define pr_warn(lg, ...) log_emit((lg), LOG_LVL_WARN, LOG_COMP, 0, __VA_ARGS__, LF_END)
#define pr_err(lg, ...) log_emit((lg), LOG_LVL_ERROR, LOG_COMP, 0, __VA_ARGS__, LF_END)
/* Adds err="<strerror(errno)>" errno=<n>. */
#define pr_perror(lg, ...) log_emit((lg), LOG_LVL_ERROR, LOG_COMP, errno, __VA_ARGS__, LF_END)
#define pr_pwarn(lg, ...) log_emit((lg), LOG_LVL_WARN, LOG_COMP, errno, __VA_ARGS__, LF_END)

int log_init(struct log *lg, enum log_level level, const char *path);
int log_reopen(struct log *lg);
void log_fini(struct log *lg);
bool log_enabled(const struct log *lg, enum log_level level);
void log_emit(struct log *lg, enum log_level level, const char *comp, int err,
	      const char *msg, ...);
int log_level_parse(const char *s, enum log_level *level);
const char *log_level_name(enum log_level level);

#endif /* FAULTLINE_LOG_H */
