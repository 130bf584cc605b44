/*
 * The agent's userfaultfd probe, checked against the runner's own probe.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "uffd_compat.h"
#include "uffd.h"
#include "test.h"

int t_uffd_probe_matches_host(const struct t_env *env)
{
	struct uffd_probe p;
	struct log lg;
	uint64_t base = 1ull << _UFFDIO_REGISTER | 1ull << _UFFDIO_UNREGISTER | 1ull << _UFFDIO_API;
	uint64_t range = 1ull << _UFFDIO_WAKE | 1ull << _UFFDIO_COPY | 1ull << _UFFDIO_ZEROPAGE;

	CHECK_OK(log_init(&lg, LOG_LVL_ERROR, NULL));
	uffd_probe(&p, &lg);
	log_fini(&lg);
	CHECKF(p.available, "probe says unavailable: %s", p.error);
	CHECK(p.api == UFFD_API);
	CHECKF(p.features == env->uffd_features, "agent 0x%llx, host 0x%llx",
	       (unsigned long long)p.features, (unsigned long long)env->uffd_features);
	CHECK(!strcmp(uffd_source_name(p.source), env->uffd_source));
	CHECK((p.ioctls & base) == base);
	CHECK((p.ioctls & range) == range);
	/* the range ioctls follow the features the kernel grants */
	if (p.features & UFFD_FEATURE_MOVE)
		CHECK(p.ioctls & 1ull << _UFFDIO_MOVE);
	if (p.features & UFFD_FEATURE_POISON)
		CHECK(p.ioctls & 1ull << _UFFDIO_POISON);
	if (p.features & UFFD_FEATURE_MINOR_SHMEM)
		CHECK(p.ioctls & 1ull << _UFFDIO_CONTINUE);
	if (p.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)
		CHECK(p.ioctls & 1ull << _UFFDIO_WRITEPROTECT);
	CHECK(p.pagemap_scan == env->pagemap_scan);
	return T_PASS;
}

int t_uffd_open_flags(const struct t_env *env)
{
	enum uffd_source src;
	bool umo;
	char why[256];
	int fd, fl, fdfl;

	(void)env;
	fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &src, &umo, why, sizeof(why));
	CHECKF(fd >= 0, "%s", why);
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	close(fd);
	CHECK(fl & O_NONBLOCK);
	CHECK(fdfl & FD_CLOEXEC);
	CHECK(src == UFFD_SRC_DEV || src == UFFD_SRC_SYSCALL);
	return T_PASS;
}

int t_uffd_names(const struct t_env *env)
{
	const char *names[64];
	unsigned n;

	(void)env;
	n = uffd_feature_names(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_MOVE | 1ull << 40, names, 64);
	CHECK(n == 2 && !strcmp(names[0], "wp_async") && !strcmp(names[1], "move"));
	n = uffd_feature_names(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED |
			       UFFD_FEATURE_POISON, names, 64);
	CHECK(n == 3 && !strcmp(names[0], "pagefault_flag_wp") &&
	      !strcmp(names[1], "wp_unpopulated") && !strcmp(names[2], "poison"));
	n = uffd_ioctl_names(1ull << _UFFDIO_API | 1ull << _UFFDIO_REGISTER | 1ull << _UFFDIO_MOVE,
			     names, 64);
	CHECK(n == 3 && !strcmp(names[0], "register") && !strcmp(names[1], "api") &&
	      !strcmp(names[2], "move"));
	CHECK(uffd_feature_names(~0ull, names, 2) == 2);
	return T_PASS;
}
