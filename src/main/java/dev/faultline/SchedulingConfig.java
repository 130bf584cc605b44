package dev.faultline;

import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;

/** Periodic work: converging on the agent's state, evaluating policies. */
@Configuration
@EnableScheduling
class SchedulingConfig {
}
