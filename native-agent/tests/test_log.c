/*
 * logfmt output: quoting, escaping, truncation, levels, errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#define LOG_COMP "test"
#include "log.h"

/* Reads the whole log file into buf (NUL-terminated). */
static size_t slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return n;
}

int t_log_escaping(const struct t_env *env)
{
	char dir[64], path[128], out[8192];
	struct log lg;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/t.log", dir);
	CHECK_OK(log_init(&lg, LOG_LVL_INFO, path));
	pr_info(&lg, "client connected", LF_INT("pid", -5), LF_UINT("uid", 0),
		LF_STR("plain", "abc"), LF_STR("space", "a b"), LF_STR("eq", "a=b"),
		LF_STR("quote", "say \"hi\""), LF_STR("nl", "line1\nline2\r\t\x01"),
		LF_STR("empty", ""), LF_STR("utf8", "gr\xc3\xbc\xc3\x9f"),
		LF_STR("bad", "\xff\xc3("), LF_HEX("bits", 0x1ffff), LF_BOOL("ok", true),
		LF_STR("null", NULL));
	log_fini(&lg);
	slurp(path, out, sizeof(out));
	CHECKF(!strncmp(out, "ts=", 3) && strstr(out, "Z level=info comp=test msg=\"client connected\" "),
	       "%s", out);
	CHECK(strstr(out, " pid=-5 uid=0 plain=abc space=\"a b\" eq=\"a=b\" quote=\"say \\\"hi\\\"\""));
	CHECK(strstr(out, " nl=\"line1\\nline2\\r\\t\\u0001\" empty=\"\""));
	CHECK(strstr(out, " utf8=\"gr\xc3\xbc\xc3\x9f\" bad=\"\\xff\\xc3(\""));
	CHECK(strstr(out, " bits=0x1ffff ok=true null=\"\"\n"));
	CHECKF(strchr(out, '\n') == out + strlen(out) - 1, "one event, one line: %s", out);
	return T_PASS;
}

int t_log_truncation(const struct t_env *env)
{
	char dir[64], path[128], *big, *out;
	struct log lg;
	size_t n;

	(void)env;
	big = malloc(10000);
	out = malloc(20000);
	CHECK(big && out);
	memset(big, '"', 9999);
	big[9999] = '\0';
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/t.log", dir);
	CHECK_OK(log_init(&lg, LOG_LVL_DEBUG, path));
	pr_info(&lg, "big", LF_STR("v", big), LF_STR("after", "x"));
	pr_info(&lg, "next");
	log_fini(&lg);
	n = slurp(path, out, 20000);
	/* cut between escapes, the quote closed, marked, and still one line */
	CHECK(n < 4200);
	CHECK(strstr(out, "\\\"\\\"\" truncated=true\n"));
	CHECK(strstr(out, "msg=next\n"));
	CHECK(!strstr(out, "after="));
	free(big);
	free(out);
	return T_PASS;
}

int t_log_levels_and_errno(const struct t_env *env)
{
	char dir[64], path[128], rotated[160], out[4096];
	struct log lg;
	enum log_level lvl;

	(void)env;
	CHECK_OK(h_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/t.log", dir);
	CHECK_OK(log_init(&lg, LOG_LVL_WARN, path));
	pr_info(&lg, "hidden");
	errno = ENOENT;
	pr_perror(&lg, "open failed", LF_STR("path", "/x"));
	CHECK(errno == ENOENT); /* logging never clobbers errno */
	pr_warn(&lg, "shown");
	/* rotation: the old name keeps what was written, the new file gets the rest */
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	CHECK_OK(rename(path, rotated));
	CHECK_OK(log_reopen(&lg));
	pr_err(&lg, "after rotation");
	log_fini(&lg);
	slurp(rotated, out, sizeof(out));
	CHECK(!strstr(out, "hidden") && !strstr(out, "after rotation"));
	CHECK(strstr(out, "level=error comp=test msg=\"open failed\" path=/x "
			  "err=\"No such file or directory\" errno=2\n"));
	CHECK(strstr(out, "level=warn comp=test msg=shown\n"));
	slurp(path, out, sizeof(out));
	CHECK(strstr(out, "msg=\"after rotation\"") && !strstr(out, "shown"));

	CHECK_OK(log_level_parse("debug", &lvl));
	CHECK(lvl == LOG_LVL_DEBUG);
	CHECK(log_level_parse("loud", &lvl) == -1 && errno == EINVAL);
	return T_PASS;
}
