package dev.faultline.migration;

import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * @param pollInterval how often the agents of running jobs are asked for their progress; zero
 *     stops the background polling (tests drive it themselves)
 * @param progressInterval how often a running job publishes a migration.progress event and
 *     stores its statistics
 * @param setupTimeout how long a job may wait in PENDING for an unreachable agent before it fails
 * @param idlePollInterval how often the job table is read while no job runs: a job created through
 *     this instance starts at once, one created through another instance within this
 */
@ConfigurationProperties("faultline.migrations")
@Validated
record MigrationProperties(@NotNull @DefaultValue("250ms") Duration pollInterval,
        @NotNull @DefaultValue("1s") Duration progressInterval,
        @NotNull @DefaultValue("30s") Duration setupTimeout,
        @NotNull @DefaultValue("5s") Duration idlePollInterval) {
}
