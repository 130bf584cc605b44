package dev.faultline.policy;

import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.hibernate.validator.constraints.time.DurationMin;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The snapshot policy scheduler.
 *
 * @param enabled whether this instance runs policies at all (several instances may; each fire
 *     time still runs once)
 * @param interval the pause between two passes over the policies: the most a run starts late
 */
@ConfigurationProperties("faultline.snapshots.scheduler")
@Validated
public record SchedulerProperties(
        @DefaultValue("true") boolean enabled,
        @NotNull @DurationMin(millis = 100) @DefaultValue("5s") Duration interval) {
}
