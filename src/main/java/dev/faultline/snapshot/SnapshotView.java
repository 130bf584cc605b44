package dev.faultline.snapshot;

import dev.faultline.LatencySummary;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * A snapshot as the API shows it. Measurements the engine has not reported yet (or never will,
 * for a failed snapshot) are null.
 *
 * @param regionName the region's name when the snapshot was taken
 * @param regionLabels the region's labels when the snapshot was taken
 * @param parentId the snapshot an incremental one is based on; null for a full one
 * @param policyId the policy that took it; null when taken on request
 * @param requestedBy the token name, or {@code policy:<name>}
 * @param durationMs from start to completion (or failure)
 * @param writerStall how long writes to pages not yet saved were held while the snapshot ran
 * @param quiesced whether the workload confirmed it was quiescent; null when not asked
 */
public record SnapshotView(
        UUID id,
        UUID regionId,
        String regionName,
        Map<String, String> regionLabels,
        SnapshotKind kind,
        UUID parentId,
        SnapshotState state,
        UUID policyId,
        boolean requireQuiesce,
        String requestedBy,
        Instant createdAt,
        Instant startedAt,
        Instant completedAt,
        Instant deletedAt,
        Long durationMs,
        Long sizeBytes,
        Pages pages,
        LatencySummary writerStall,
        Quiesce quiesced,
        Verification verification,
        String checksum,
        String imagePath,
        String error) {

    /** Page counts of the region: {@code present} pages held data, {@code zero} ones were all-zero. */
    public record Pages(long total, long present, long zero) {
    }

    public record Verification(VerifiedState state, Instant lastVerifiedAt) {
    }
}
