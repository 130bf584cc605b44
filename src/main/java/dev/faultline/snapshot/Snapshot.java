package dev.faultline.snapshot;

import dev.faultline.LatencySummary;
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
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * One snapshot of one region: the catalog's record of an image the agent writes. It guards its
 * own lifecycle ({@link SnapshotState}); the region's name and labels are kept as they were when
 * it was taken, because the region may since have been renamed, relabelled or gone.
 */
@Entity
@Table(name = "snapshot")
class Snapshot {

    static final int MAX_ERROR_LENGTH = 2000;

    @Id
    private UUID id;

    /** Optimistic lock: two service instances never both start the same job. */
    @Version
    private long version;

    // a VARCHAR(36) column (V20): the region feature's table was not there to reference
    @Column(name = "region_id", nullable = false, length = 36)
    @JdbcTypeCode(SqlTypes.VARCHAR)
    private UUID regionId;

    /** The node of the region: only the instance managing it runs this snapshot's jobs. */
    @Column(length = 64)
    private String node;

    @Column(name = "region_name", nullable = false)
    private String regionName;

    @Convert(converter = LabelsJson.class)
    @Column(name = "region_labels", nullable = false, length = LabelLimits.COLUMN_LENGTH)
    private Map<String, String> regionLabels;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private SnapshotKind kind;

    @Column(name = "parent_id")
    private UUID parentId;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private SnapshotState state;

    /**
     * The region id while this snapshot is PENDING or RUNNING, else null. A unique constraint on
     * it makes "one snapshot job per region at a time" hold even between service instances.
     */
    @Column(name = "active_region_id", unique = true, length = 36)
    @JdbcTypeCode(SqlTypes.VARCHAR)
    private UUID activeRegionId;

    @Column(name = "policy_id")
    private UUID policyId;

    @Column(name = "require_quiesce", nullable = false)
    private boolean requireQuiesce;

    @Column(name = "requested_by", nullable = false, length = 128)
    private String requestedBy;

    @Column(name = "image_path", nullable = false, length = 1024)
    private String imagePath;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "started_at")
    private Instant startedAt;

    @Column(name = "completed_at")
    private Instant completedAt;

    @Column(name = "deleted_at")
    private Instant deletedAt;

    @Column(name = "size_bytes")
    private Long sizeBytes;

    @Column(name = "pages_total")
    private Long pagesTotal;

    @Column(name = "pages_present")
    private Long pagesPresent;

    @Column(name = "pages_zero")
    private Long pagesZero;

    @Column(name = "stall_max_us")
    private Long stallMaxUs;

    @Column(name = "stall_p999_us")
    private Long stallP999Us;

    @Column(name = "stall_count")
    private Long stallCount;

    @Enumerated(EnumType.STRING)
    @Column(length = 16)
    private Quiesce quiesced;

    @Enumerated(EnumType.STRING)
    @Column(name = "verified_state", nullable = false, length = 16)
    private VerifiedState verifiedState;

    @Column(name = "last_verified_at")
    private Instant lastVerifiedAt;

    @Column(length = 128)
    private String checksum;

    @Column(length = MAX_ERROR_LENGTH)
    private String error;

    protected Snapshot() {
    }

    Snapshot(UUID id, RegionInfo region, SnapshotKind kind, UUID parentId, UUID policyId, boolean requireQuiesce,
            String requestedBy, Path imagePath, Instant now) {
        if ((kind == SnapshotKind.INCREMENTAL) != (parentId != null)) {
            throw new IllegalArgumentException("an incremental snapshot needs a parent and a full one has none");
        }
        this.id = id;
        this.regionId = region.id();
        this.node = region.node();
        this.regionName = region.name();
        this.regionLabels = region.labels();
        this.kind = kind;
        this.parentId = parentId;
        this.policyId = policyId;
        this.requireQuiesce = requireQuiesce;
        this.requestedBy = requestedBy;
        this.imagePath = imagePath.toString();
        this.createdAt = now;
        this.state = SnapshotState.PENDING;
        this.activeRegionId = regionId;
        this.verifiedState = VerifiedState.UNVERIFIED;
    }

    void start(Instant now) {
        require(state == SnapshotState.PENDING, "start");
        state = SnapshotState.RUNNING;
        startedAt = now;
    }

    void complete(SnapshotEngine.TakeResult result, Instant now) {
        require(state == SnapshotState.RUNNING, "complete");
        state = SnapshotState.COMPLETED;
        activeRegionId = null;
        completedAt = now;
        sizeBytes = result.sizeBytes();
        pagesTotal = result.pagesTotal();
        pagesPresent = result.pagesPresent();
        pagesZero = result.pagesZero();
        checksum = result.checksum();
        quiesced = result.quiesced();
        if (result.writerStall() != null) {
            // the columns keep the agent's microseconds (all it measures to); the API shows ns
            stallMaxUs = result.writerStall().maxNs() / 1000;
            stallP999Us = result.writerStall().p999Ns() == null ? null : result.writerStall().p999Ns() / 1000;
            stallCount = result.writerStall().count();
        }
    }

    void fail(String reason, Instant now) {
        require(state.isActive(), "fail");
        state = SnapshotState.FAILED;
        activeRegionId = null;
        completedAt = now;
        error = truncate(reason);
    }

    void recordVerification(boolean intact, Instant now) {
        require(state == SnapshotState.COMPLETED, "record a verification of");
        verifiedState = intact ? VerifiedState.VERIFIED : VerifiedState.CORRUPT;
        lastVerifiedAt = now;
    }

    /**
     * After its parent was folded into its image: it now stands on the parent's parent (or
     * alone), and its new image has not been verified yet.
     */
    void rebase(UUID newParentId, SnapshotKind newKind, SnapshotEngine.Consolidation consolidation) {
        require(state == SnapshotState.COMPLETED, "consolidate into");
        parentId = newParentId;
        kind = newKind;
        sizeBytes = consolidation.sizeBytes();
        checksum = consolidation.checksum();
        verifiedState = VerifiedState.UNVERIFIED;
        lastVerifiedAt = null;
    }

    void markDeleting() {
        require(state == SnapshotState.COMPLETED || state == SnapshotState.FAILED, "delete");
        state = SnapshotState.DELETING;
    }

    void markDeleted(Instant now) {
        require(state == SnapshotState.DELETING, "finish deleting");
        state = SnapshotState.DELETED;
        deletedAt = now;
    }

    private void require(boolean allowed, String action) {
        if (!allowed) {
            throw DomainException.conflict("cannot " + action + " snapshot " + id + " while it is " + state);
        }
    }

    static String truncate(String text) {
        if (text == null || text.length() <= MAX_ERROR_LENGTH) {
            return text;
        }
        return text.substring(0, MAX_ERROR_LENGTH - 1) + "…";
    }

    SnapshotEngine.Image image() {
        return new SnapshotEngine.Image(id, Path.of(imagePath));
    }

    SnapshotView view() {
        return new SnapshotView(id, regionId, regionName, regionLabels, kind, parentId, state, policyId,
                requireQuiesce, requestedBy, createdAt, startedAt, completedAt, deletedAt,
                startedAt != null && completedAt != null ? Duration.between(startedAt, completedAt).toMillis() : null,
                sizeBytes,
                pagesTotal == null ? null : new SnapshotView.Pages(pagesTotal, pagesPresent, pagesZero),
                stallCount == null ? null : new LatencySummary(stallCount, null, null,
                        stallP999Us == null ? null : stallP999Us * 1000, stallMaxUs * 1000),
                quiesced, new SnapshotView.Verification(verifiedState, lastVerifiedAt), checksum, imagePath, error);
    }

    UUID id() {
        return id;
    }

    UUID regionId() {
        return regionId;
    }

    String node() {
        return node;
    }

    String regionName() {
        return regionName;
    }

    Map<String, String> regionLabels() {
        return regionLabels;
    }

    SnapshotKind kind() {
        return kind;
    }

    UUID parentId() {
        return parentId;
    }

    SnapshotState state() {
        return state;
    }

    UUID policyId() {
        return policyId;
    }

    boolean requireQuiesce() {
        return requireQuiesce;
    }

    VerifiedState verifiedState() {
        return verifiedState;
    }
}
