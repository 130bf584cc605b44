package dev.faultline.policy;

import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;
import dev.faultline.snapshot.SnapshotKind;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;

/**
 * What one fire time of a policy did for one region: the snapshot it started, or why it
 * started none. Written in the same transaction as the claim of the fire time.
 */
@Entity
@Table(name = "snapshot_policy_run")
class PolicyRun {

    @Id
    private UUID id;

    @Column(name = "policy_id", nullable = false)
    private UUID policyId;

    @Column(name = "fire_time", nullable = false)
    private Instant fireTime;

    @Column(name = "region_id", length = 36)
    @JdbcTypeCode(SqlTypes.VARCHAR)
    private UUID regionId;

    @Column(name = "region_name")
    private String regionName;

    @Column(name = "snapshot_id")
    private UUID snapshotId;

    @Enumerated(EnumType.STRING)
    @Column(length = 16)
    private SnapshotKind kind;

    @Column(name = "skipped_reason", length = 500)
    private String skippedReason;

    @Column(name = "recorded_at", nullable = false)
    private Instant recordedAt;

    protected PolicyRun() {
    }

    PolicyRun(UUID policyId, Instant fireTime, UUID regionId, String regionName, UUID snapshotId, SnapshotKind kind,
            String skippedReason, Instant recordedAt) {
        this.id = UUID.randomUUID();
        this.policyId = policyId;
        this.fireTime = fireTime;
        this.regionId = regionId;
        this.regionName = regionName;
        this.snapshotId = snapshotId;
        this.kind = kind;
        this.skippedReason = skippedReason;
        this.recordedAt = recordedAt;
    }

    PolicyRunView view() {
        return new PolicyRunView(fireTime, regionId, regionName, snapshotId, kind, skippedReason, recordedAt);
    }
}
