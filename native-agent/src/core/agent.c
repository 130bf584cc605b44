/*
 * The agent's lifetime, as every module sees it; see agent.h.  Start-up
 * and the wiring of the subsystems are in control/main.c.
 */
#include <string.h>

#include "agent.h"

#define LOG_COMP "agent"
#include "log.h"

void agent_stop(struct agent *ag, const char *reason)
{
	if (!ag->stopping)
		pr_info(&ag->log, "stopping", LF_STR("reason", reason));
	ag->stopping = true;
	loop_stop(&ag->loop);
}

uint64_t agent_uptime_ms(const struct agent *ag)
{
	return loop_now_ms() - ag->start_ms;
}

const char *agent_hold_driver(struct agent *ag, const char *region_id, const char *self,
			      char *job_id, size_t len)
{
	for (unsigned i = 0; i < AGENT_HOLD_USERS; i++) {
		const struct agent_hold_user *h = &ag->hold_users[i];

		if (h->drives && strcmp(h->what, self) && h->drives(ag, region_id, job_id, len))
			return h->what;
	}
	return NULL;
}
