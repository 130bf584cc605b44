package dev.faultline.region;

import dev.faultline.agent.AgentRegion;
import dev.faultline.label.LabelLimits;
import dev.faultline.label.LabelsJson;
import jakarta.persistence.CollectionTable;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.MapKeyColumn;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The control plane's record of a region. The agent is the source of truth for what it holds
 * (state, owner, geometry); labels are the control plane's: they start as the workload
 * declared them and change only through the API.
 */
@Entity
@Table(name = "region")
class Region {

    @Id
    private UUID id;

    @Column(nullable = false)
    private String node;

    @Column(nullable = false)
    private String name;

    @Convert(converter = LabelsJson.class)
    @Column(nullable = false, length = LabelLimits.COLUMN_LENGTH)
    private Map<String, String> labels = new TreeMap<>();

    /**
     * The same labels one row each (region_label), for label selectors evaluated by the
     * database ({@link RegionQuery}); written with {@link #labels}, never read for a view.
     */
    @ElementCollection
    @CollectionTable(name = "region_label", joinColumns = @JoinColumn(name = "region_id"))
    @MapKeyColumn(name = "label_key", length = LabelLimits.MAX_KEY_LENGTH)
    @Column(name = "label_value", nullable = false, length = LabelLimits.MAX_VALUE_LENGTH)
    private Map<String, String> labelRows = new HashMap<>();

    @Column(name = "owner_pid")
    private Long ownerPid;

    @Column(name = "owner_uid")
    private Long ownerUid;

    @Column(name = "owner_command")
    private String ownerCommand;

    @Column(name = "start_address", nullable = false)
    private long startAddress;

    @Column(nullable = false)
    private long length;

    @Column(name = "page_size", nullable = false)
    private int pageSize;

    @Column(nullable = false)
    private String modes;

    private String source;

    @Column(name = "backing_kind", nullable = false)
    private String backingKind;

    @Column(name = "backing_path")
    private String backingPath;

    @Column(name = "backing_offset")
    private Long backingOffset;

    @Column(name = "restore_id")
    private UUID restoreId;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false)
    private RegionState state;

    @Column(name = "attached_at", nullable = false)
    private Instant attachedAt;

    @Column(name = "detached_at")
    private Instant detachedAt;

    /** 'POPULATE' or 'RELEASE' while a detach asked through another instance waits for this node's. */
    @Column(name = "detach_request", length = 16)
    private String detachRequest;

    @Version
    private long version;

    protected Region() {
    }

    static Region attached(String node, AgentRegion reported, Instant now) {
        return attached(node, reported, dev.faultline.label.Labels.keep(reported.labels()).labels(), now);
    }

    /** @param labels the reported labels that keep to the service's limits ({@link dev.faultline.label.Labels#keep}) */
    static Region attached(String node, AgentRegion reported, Map<String, String> labels, Instant now) {
        Region region = new Region();
        region.id = reported.id();
        region.node = node;
        region.name = reported.name();
        region.labels = new TreeMap<>(labels);
        region.labelRows = new HashMap<>(labels);
        region.attachedAt = reported.attachedAt() == null ? now : reported.attachedAt();
        region.state = RegionState.ATTACHED;
        region.observe(reported, now);
        return region;
    }

    /**
     * Takes what the agent reports. Returns true when something the database keeps changed.
     * A DETACHED region that the agent serves again was re-registered after an agent restart.
     */
    boolean observe(AgentRegion reported, Instant now) {
        String before = snapshotOfStoredFields();
        AgentRegion.Owner owner = reported.owner();
        ownerPid = owner == null ? null : owner.pid();
        ownerUid = owner == null ? null : owner.uid();
        ownerCommand = owner == null ? null : owner.command();
        startAddress = reported.start();
        length = reported.length();
        pageSize = reported.pageSize();
        modes = String.join(",", reported.modes() == null ? List.of() : reported.modes());
        source = reported.source();
        AgentRegion.Backing backing = reported.backing();
        backingKind = backing == null || backing.kind() == null ? "anonymous" : backing.kind();
        backingPath = backing == null ? null : backing.path();
        backingOffset = backing == null ? null : backing.offset();
        restoreId = backing == null ? null : backing.restoreId();
        RegionState reportedState = RegionState.valueOf(reported.state());
        if (reportedState == RegionState.DETACHED) {
            markDetached(now);
        } else if (reportedState == RegionState.DETACHING && state == RegionState.ATTACHED) {
            state = RegionState.DETACHING;
        } else if (reportedState == RegionState.ATTACHED && state != RegionState.DETACHING) {
            state = RegionState.ATTACHED;
            detachedAt = null;
        }
        return !before.equals(snapshotOfStoredFields());
    }

    /** The agent was asked to release the region. */
    void detaching() {
        if (state == RegionState.ATTACHED) {
            state = RegionState.DETACHING;
        }
    }

    /** A detach for the instance managing the node to carry out (asked through another instance). */
    void requestDetach(boolean populate) {
        detaching();
        detachRequest = populate ? "POPULATE" : "RELEASE";
    }

    /** The managing instance takes the request over: whether to populate first. */
    boolean takeDetachRequest() {
        if (detachRequest == null) {
            throw new IllegalStateException("region " + id + " has no detach request");
        }
        boolean populate = "POPULATE".equals(detachRequest);
        detachRequest = null;
        return populate;
    }

    /** The agent released the region, or no longer knows it. */
    void markDetached(Instant now) {
        if (state != RegionState.DETACHED) {
            state = RegionState.DETACHED;
            detachedAt = now;
        }
    }

    void relabel(Map<String, String> merged) {
        labels = new TreeMap<>(merged);
        labelRows.keySet().retainAll(merged.keySet()); // changed in place: only the rows that differ are written
        labelRows.putAll(merged);
    }

    RegionView view(AgentRegion live) {
        return new RegionView(id, node, name, Map.copyOf(labels),
                new RegionView.Owner(ownerPid, ownerUid, ownerCommand), startAddress, length, pageSize,
                modes.isEmpty() ? List.of() : List.of(modes.split(",")), source,
                new RegionView.Backing(backingKind, backingPath, backingOffset, restoreId), state, attachedAt, detachedAt,
                live == null || live.pages() == null ? null : new RegionView.Pages(live.pages().total(), live.pages().present()),
                live == null ? null : FaultStats.of(live.stats()), version);
    }

    private String snapshotOfStoredFields() {
        return ownerPid + "|" + ownerUid + "|" + ownerCommand + "|" + startAddress + "|" + length + "|" + pageSize + "|"
                + modes + "|" + source + "|" + backingKind + "|" + backingPath + "|" + backingOffset + "|" + restoreId
                + "|" + state + "|" + detachedAt;
    }

    UUID id() {
        return id;
    }

    String node() {
        return node;
    }

    String name() {
        return name;
    }

    Map<String, String> labels() {
        return labels;
    }

    RegionState state() {
        return state;
    }

    long version() {
        return version;
    }
}
