package dev.faultline.snapshot;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * An operation on a snapshot as the API shows it.
 *
 * @param consolidate DELETE only: whether dependent incremental snapshots are consolidated first
 * @param restoreName RESTORE only: the name the restored region gets
 * @param restoreLabels RESTORE only: the labels the restored region gets
 * @param restoreMode RESTORE only: the session's mode, {@code copy} or {@code clone}
 * @param restoreId RESTORE only: the restore session the agent opened, once SUCCEEDED
 * @param result what the operation found or did, once SUCCEEDED
 * @param error why it FAILED
 */
public record SnapshotOperationView(
        UUID id,
        UUID snapshotId,
        OperationKind kind,
        OperationState state,
        boolean consolidate,
        String restoreName,
        Map<String, String> restoreLabels,
        String restoreMode,
        String requestedBy,
        Instant requestedAt,
        Instant startedAt,
        Instant finishedAt,
        UUID restoreId,
        String result,
        String error) {
}
