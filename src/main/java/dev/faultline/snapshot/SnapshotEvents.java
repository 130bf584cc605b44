package dev.faultline.snapshot;

import java.util.UUID;

/**
 * Published inside the transaction that creates a job; {@link SnapshotJobs} starts the job only
 * after that transaction commits, so a job never runs for a row that was rolled back.
 */
final class SnapshotEvents {

    private SnapshotEvents() {
    }

    /** @param node the node whose instance runs it (null: any) */
    record TakeRequested(UUID snapshotId, String node) {
    }

    record OperationRequested(UUID operationId, String node) {
    }
}
