/*
 * logfmt writer.  A line is formatted into a stack buffer and written with a
 * single write(2), so lines from future worker threads never interleave
 * (O_APPEND makes that hold for concurrent writers of a shared file too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096
/* room always kept free for closing a quote and the truncation marker */
#define LOG_TAIL_RESERVE 24

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool in_quote;
	bool truncated;
};

static const char *const level_names[] = {
	[LOG_LVL_DEBUG] = "debug",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_ERROR] = "error",
};

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_LVL_ERROR)
		return "unknown";
	return level_names[level];
}

int log_level_parse(const char *s, enum log_level *level)
{
	for (unsigned i = 0; i <= LOG_LVL_ERROR; i++) {
		if (!strcmp(s, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	if (!strcmp(s, "warning")) {
		*level = LOG_LVL_WARN;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

static int open_log_file(const char *path)
{
	int fd;

	do
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	while (fd < 0 && errno == EINTR);
	return fd;
}

int log_init(struct log *lg, enum log_level level, const char *path)
{
	lg->fd = STDERR_FILENO;
	lg->level = level;
	lg->path = NULL;
	if (!path)
		return 0;

	lg->path = strdup(path);
	if (!lg->path)
		return -1;
	lg->fd = open_log_file(path);
	if (lg->fd < 0) {
		int err = errno;

		free(lg->path);
		lg->path = NULL;
		lg->fd = STDERR_FILENO;
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * For log rotation (SIGHUP).  The new file is dup3()'d over the old
 * descriptor so the fd number never changes and no writer can observe a
 * closed or reused descriptor.
 */
int log_reopen(struct log *lg)
{
	int fd, ret = 0;

	if (!lg->path)
		return 0;
	fd = open_log_file(lg->path);
	if (fd < 0)
		return -1;
	if (dup3(fd, lg->fd, O_CLOEXEC) < 0)
		ret = -1;
	close(fd);
	return ret;
}

void log_fini(struct log *lg)
{
	if (lg->path) {
		close(lg->fd);
		free(lg->path);
		lg->path = NULL;
	}
	lg->fd = STDERR_FILENO;
}

bool log_enabled(const struct log *lg, enum log_level level)
{
	return level >= lg->level;
}

/* Appends n bytes as one unit: all of them or, when out of room, none. */
static void put(struct line *l, const char *s, size_t n)
{
	if (l->truncated || n > LOG_LINE_MAX - LOG_TAIL_RESERVE - l->len) {
		l->truncated = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p >= 0x7f)
			return true;
	}
	return false;
}

/*
 * Values are quoted when they contain anything but plain printable ASCII
 * without '=', and escaped so that one event is always exactly one line,
 * whatever a peer put in the strings we log.
 */
static void put_value(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];

	if (!needs_quotes(s)) {
		put_str(l, s);
		return;
	}
	put(l, "\"", 1);
	l->in_quote = !l->truncated;
	while (*p && !l->truncated) {
		size_t n;

		switch (*p) {
		case '"':
			put(l, "\\\"", 2);
			break;
		case '\\':
			put(l, "\\\\", 2);
			break;
		case '\n':
			put(l, "\\n", 2);
			break;
		case '\r':
			put(l, "\\r", 2);
			break;
		case '\t':
			put(l, "\\t", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				put_str(l, esc);
			} else if ((n = utf8_seq_len(p)) != 0) {
				put(l, (const char *)p, n);
				p += n;
				continue;
			} else {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				put_str(l, esc);
			}
		}
		p++;
	}
	if (!l->truncated) {
		put(l, "\"", 1);
		l->in_quote = false;
	}
}

static void put_field(struct line *l, const struct log_field *f)
{
	char num[32];

	put(l, " ", 1);
	put_str(l, f->key);
	put(l, "=", 1);
	switch (f->type) {
	case LOG_F_STR:
		put_value(l, f->s ? f->s : "");
		return;
	case LOG_F_INT:
		snprintf(num, sizeof(num), "%lld", f->i);
		break;
	case LOG_F_UINT:
		snprintf(num, sizeof(num), "%llu", f->u);
		break;
	case LOG_F_HEX:
		snprintf(num, sizeof(num), "0x%llx", f->u);
		break;
	case LOG_F_BOOL:
		snprintf(num, sizeof(num), "%s", f->b ? "true" : "false");
		break;
	case LOG_F_END:
		return;
	}
	put_str(l, num);
}

static void put_timestamp(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char buf[48];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	put_str(l, buf);
}

static void write_line(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it; never block the loop */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_emit(struct log *lg, enum log_level level, const char *comp, int err,
	      const char *msg, ...)
{
	int saved_errno = errno;
	struct line l = { .len = 0 };
	struct log_field f;
	va_list ap;

	if (!log_enabled(lg, level)) {
		errno = saved_errno;
		return;
	}

	put_timestamp(&l);
	put_str(&l, " level=");
	put_str(&l, log_level_name(level));
	put_str(&l, " comp=");
	put_value(&l, comp);
	put_str(&l, " msg=");
	put_value(&l, msg);

	va_start(ap, msg);
	for (f = va_arg(ap, struct log_field); f.type != LOG_F_END;
	     f = va_arg(ap, struct log_field))
		put_field(&l, &f);
	va_end(ap);

	if (err) {
		char ebuf[128];

		put_field(&l, &LF_STR("err", strerror_r(err, ebuf, sizeof(ebuf))));
		put_field(&l, &LF_INT("errno", err));
	}

	/* the reserve guarantees this fits */
	if (l.in_quote)
		l.buf[l.len++] = '"';
	if (l.truncated) {
		memcpy(l.buf + l.len, " truncated=true", 15);
		l.len += 15;
	}
	l.buf[l.len++] = '\n';
	write_line(lg->fd, l.buf, l.len);
	errno = saved_errno;
}
