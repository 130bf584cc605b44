package dev.faultline.migration;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A migration job as the API shows it (docs/api-migrations.md). The secret is not part of it.
 *
 * @param destinationSocket where the destination workload attaches (libfaultline, by region
 *     name); null until the destination agent accepted the job
 * @param destinationRegionId the region on the destination node, once its workload attached
 * @param pausedIn while PAUSED: the phase it paused in
 */
record MigrationView(UUID id, UUID regionId, String regionName, String sourceNode, String destinationNode,
        UUID destinationRegionId, String destinationSocket, MigrationPhase phase, MigrationPhase pausedIn,
        MigrationOptions options, Instant createdAt, Instant startedAt, Instant switchoverAt, Instant completedAt,
        String error, List<MigrationJson.Step> timeline, MigrationStats stats) {
}
