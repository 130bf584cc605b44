/* The agent's descriptor budget; see fdlim.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>

#include "fdlim.h"
#include "log.h"

#define LOG_COMP "agent"

uint64_t fdlim_raise(struct log *lg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		pr_pwarn(lg, "cannot read RLIMIT_NOFILE");
		return 0;
	}
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			pr_pwarn(lg, "cannot raise the soft RLIMIT_NOFILE to the hard limit",
				 LF_UINT("soft", was), LF_UINT("hard", rl.rlim_max));
			rl.rlim_cur = was;
		} else {
			pr_info(lg, "raised the soft RLIMIT_NOFILE to the hard limit", LF_UINT("was", was),
				LF_UINT("now", rl.rlim_cur));
		}
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

unsigned fdlim_max_clients(uint64_t nofile)
{
	uint64_t n;

	if (nofile <= FDLIM_RESERVE + (uint64_t)FDLIM_MIN_CLIENTS * FDLIM_PER_CLIENT)
		return FDLIM_MIN_CLIENTS;
	n = (nofile - FDLIM_RESERVE) / FDLIM_PER_CLIENT;
	return n > FDLIM_MAX_CLIENTS ? FDLIM_MAX_CLIENTS : (unsigned)n;
}
