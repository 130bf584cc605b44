package dev.faultline.policy;

import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;

/** Registers the scheduler's fixed-delay pass; tests leave it off and call {@link PolicyScheduler#tick()}. */
@Configuration
@EnableScheduling
class PolicySchedulingConfig implements SchedulingConfigurer {

    private final PolicyScheduler scheduler;
    private final SchedulerProperties properties;

    PolicySchedulingConfig(PolicyScheduler scheduler, SchedulerProperties properties) {
        this.scheduler = scheduler;
        this.properties = properties;
    }

    @Override
    public void configureTasks(ScheduledTaskRegistrar registrar) {
        if (properties.enabled()) {
            registrar.addFixedDelayTask(scheduler::tick, properties.interval());
        }
    }
}
