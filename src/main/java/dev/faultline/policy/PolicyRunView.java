package dev.faultline.policy;

import dev.faultline.snapshot.SnapshotKind;
import java.time.Instant;
import java.util.UUID;

/**
 * One region's outcome at one fire time of a policy: {@code snapshotId} and {@code kind} when a
 * snapshot was started, else {@code skippedReason}. A fire time that matched no region has one
 * entry without a region.
 */
record PolicyRunView(Instant fireTime, UUID regionId, String regionName, UUID snapshotId, SnapshotKind kind,
        String skippedReason, Instant recordedAt) {
}
