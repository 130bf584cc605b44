package dev.faultline.snapshot;

import dev.faultline.label.LabelLimits;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;
import dev.faultline.label.LabelsJson;
import dev.faultline.DomainException;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * A verification, restore or deletion of one snapshot, run by the engine on a job thread. It is
 * kept after it ends so the caller that got 202 can see how it went.
 */
@Entity
@Table(name = "snapshot_operation")
class SnapshotOperation {

    @Id
    private UUID id;

    @Version
    private long version;

    @Column(name = "snapshot_id", nullable = false)
    private UUID snapshotId;

    /** The snapshot's node: its images are on that host, so the operation runs there. */
    @Column(length = 64)
    private String node;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private OperationKind kind;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private OperationState state;

    /** The snapshot id while PENDING or RUNNING, else null: unique, so one operation per snapshot at a time. */
    @Column(name = "active_snapshot_id", unique = true)
    private UUID activeSnapshotId;

    @Column(nullable = false)
    private boolean consolidate;

    @Column(name = "restore_name")
    private String restoreName;

    @Convert(converter = LabelsJson.class)
    @Column(name = "restore_labels", length = LabelLimits.COLUMN_LENGTH)
    private Map<String, String> restoreLabels;

    /** RESTORE only: the session's mode, {@code copy} or {@code clone}. */
    @Column(name = "restore_mode", length = 8)
    private String restoreMode;

    @Column(name = "requested_by", nullable = false, length = 128)
    private String requestedBy;

    @Column(name = "requested_at", nullable = false)
    private Instant requestedAt;

    @Column(name = "started_at")
    private Instant startedAt;

    @Column(name = "finished_at")
    private Instant finishedAt;

    @Column(name = "restore_id", length = 64)
    @JdbcTypeCode(SqlTypes.VARCHAR)
    private UUID restoreId;

    @Column(length = Snapshot.MAX_ERROR_LENGTH)
    private String result;

    @Column(length = Snapshot.MAX_ERROR_LENGTH)
    private String error;

    protected SnapshotOperation() {
    }

    private SnapshotOperation(Snapshot snapshot, OperationKind kind, String requestedBy, Instant now) {
        this.id = UUID.randomUUID();
        this.snapshotId = snapshot.id();
        this.node = snapshot.node();
        this.kind = kind;
        this.state = OperationState.PENDING;
        this.activeSnapshotId = snapshotId;
        this.requestedBy = requestedBy;
        this.requestedAt = now;
    }

    static SnapshotOperation verify(Snapshot snapshot, String requestedBy, Instant now) {
        return new SnapshotOperation(snapshot, OperationKind.VERIFY, requestedBy, now);
    }

    static SnapshotOperation restore(Snapshot snapshot, String name, Map<String, String> labels, String mode,
            String requestedBy, Instant now) {
        SnapshotOperation op = new SnapshotOperation(snapshot, OperationKind.RESTORE, requestedBy, now);
        op.restoreName = name;
        op.restoreMode = mode;
        op.restoreLabels = Map.copyOf(labels);
        return op;
    }

    static SnapshotOperation delete(Snapshot snapshot, boolean consolidate, String requestedBy, Instant now) {
        SnapshotOperation op = new SnapshotOperation(snapshot, OperationKind.DELETE, requestedBy, now);
        op.consolidate = consolidate;
        return op;
    }

    void start(Instant now) {
        require(state == OperationState.PENDING, "start");
        state = OperationState.RUNNING;
        startedAt = now;
    }

    void succeed(String outcome, Instant now) {
        require(state == OperationState.RUNNING, "complete");
        state = OperationState.SUCCEEDED;
        activeSnapshotId = null;
        finishedAt = now;
        result = Snapshot.truncate(outcome);
    }

    void restored(UUID sessionId, Instant now) {
        require(kind == OperationKind.RESTORE, "record a restore session for");
        restoreId = sessionId;
        succeed("restore session " + sessionId + " opened", now);
    }

    void fail(String reason, Instant now) {
        require(state == OperationState.PENDING || state == OperationState.RUNNING, "fail");
        state = OperationState.FAILED;
        activeSnapshotId = null;
        finishedAt = now;
        error = Snapshot.truncate(reason);
    }

    private void require(boolean allowed, String action) {
        if (!allowed) {
            throw DomainException.conflict("cannot " + action + " " + kind + " operation " + id + " while it is " + state);
        }
    }

    SnapshotOperationView view() {
        return new SnapshotOperationView(id, snapshotId, kind, state, consolidate, restoreName, restoreLabels,
                restoreMode, requestedBy, requestedAt, startedAt, finishedAt, restoreId, result, error);
    }

    UUID id() {
        return id;
    }

    UUID snapshotId() {
        return snapshotId;
    }

    String node() {
        return node;
    }

    OperationKind kind() {
        return kind;
    }

    OperationState state() {
        return state;
    }

    boolean consolidate() {
        return consolidate;
    }

    String restoreName() {
        return restoreName;
    }

    /** Rows from before clone restores have none: they copied. */
    String restoreMode() {
        return restoreMode == null ? "copy" : restoreMode;
    }

    Map<String, String> restoreLabels() {
        return restoreLabels;
    }
}
