package dev.faultline.snapshot;

import dev.faultline.event.EventService;
import dev.faultline.node.NodeDownHandler;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.springframework.stereotype.Component;

/**
 * A node that stopped reporting cannot finish its snapshot jobs: its PENDING and RUNNING takes
 * and operations fail with the reason, so no job waits forever and the region can be
 * snapshotted again. A deletion's snapshot stays DELETING and is deleted again when the node
 * comes back (restart recovery resumes deletions).
 */
@Component
class SnapshotNodeDown implements NodeDownHandler {

    private final SnapshotRepository snapshots;
    private final SnapshotOperationRepository operations;
    private final EventService events;
    private final Clock clock;

    private final SnapshotMetrics metrics;

    SnapshotNodeDown(SnapshotRepository snapshots, SnapshotOperationRepository operations, EventService events,
            Clock clock, SnapshotMetrics metrics) {
        this.metrics = metrics;
        this.snapshots = snapshots;
        this.operations = operations;
        this.events = events;
        this.clock = clock;
    }

    @Override
    public void nodeDown(String node, Instant lastHeartbeat, String reason) {
        Instant now = clock.instant();
        for (Snapshot s : snapshots.findByNodeAndStateIn(node, Set.of(SnapshotState.PENDING, SnapshotState.RUNNING))) {
            s.fail(reason, now);
            metrics.failed(s.kind(), null, SnapshotMetrics.Reason.INTERRUPTED);
            events.publish("snapshot.failed", "snapshot", s.id(), "snapshot of region '" + s.regionName()
                    + "' failed: " + reason, Map.of("regionId", s.regionId(), "kind", s.kind().name()));
        }
        for (SnapshotOperation op : operations.findByNodeAndStateIn(node,
                Set.of(OperationState.PENDING, OperationState.RUNNING))) {
            op.fail(reason, now);
            events.publish("snapshot." + op.kind().name().toLowerCase(java.util.Locale.ROOT) + ".failed", "snapshot",
                    op.snapshotId(), op.kind().name().toLowerCase(java.util.Locale.ROOT) + " of snapshot "
                            + op.snapshotId() + " failed: " + reason, Map.of("operationId", op.id().toString()));
        }
    }
}
