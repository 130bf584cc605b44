package dev.faultline.policy;

import dev.faultline.snapshot.SnapshotKind;
import dev.faultline.snapshot.SnapshotState;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * What a policy would do: its next fire times, and a dry run of its retention now.
 *
 * @param paused a paused policy runs none of {@code nextRuns} until resumed
 */
record PolicyPreview(UUID policyId, String name, boolean paused, String timeZone, List<NextRun> nextRuns,
        RetentionPreview retention) {

    /** @param at local time with offset in the policy's zone, e.g. 2026-03-29T03:00:00+02:00 */
    record NextRun(String at, Instant utc) {
    }

    record RetentionPreview(Instant evaluatedAt, long keep, long prune, List<RetentionItem> snapshots) {
    }

    /** One snapshot of the policy and what retention decides for it, with every reason. */
    record RetentionItem(UUID snapshotId, UUID regionId, String regionName, Instant createdAt, SnapshotState state,
            SnapshotKind kind, Retention.Decision decision, List<String> reasons) {
    }
}
