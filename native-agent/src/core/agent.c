/*
 * The agent's lifetime, as every module sees it; see agent.h.  Start-up
 * and the wiring of the subsystems are in control/main.c.
 */
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
