package dev.faultline.snapshot;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.nio.file.Path;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Where snapshot images go and how snapshot jobs run.
 *
 * @param dir directory of the images, one subdirectory per region; application.yml defaults it
 *     to {@code <faultline.data-dir>/snapshots}. Relative paths are resolved against the
 *     working directory at start.
 * @param minFreeSpace a snapshot job fails at once, before the agent writes anything, when the
 *     file system of {@code dir} has less usable space than this
 * @param jobThreads how many snapshot jobs (takes, verifications, restores, deletions) run at once
 */
@ConfigurationProperties("faultline.snapshots")
@Validated
public record SnapshotProperties(
        @NotNull Path dir,
        @NotNull @DefaultValue("1GB") DataSize minFreeSpace,
        @Min(1) @Max(64) @DefaultValue("2") int jobThreads) {

    public SnapshotProperties {
        dir = dir == null ? null : dir.toAbsolutePath().normalize();
    }
}
