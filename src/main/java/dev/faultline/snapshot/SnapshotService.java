package dev.faultline.snapshot;

import dev.faultline.node.NodeStatus;
import dev.faultline.PageResponse;
import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * The snapshot catalog: creates snapshot jobs and operations, and answers what exists. The work
 * itself runs in {@link SnapshotJobs} once the creating transaction has committed.
 */
@Service
public class SnapshotService {

    private static final String ONE_JOB_PER_REGION = "one snapshot job per region runs at a time";
    private static final Set<SnapshotState> RETENTION_STATES = Set.of(SnapshotState.PENDING, SnapshotState.RUNNING,
            SnapshotState.COMPLETED, SnapshotState.FAILED);

    private final SnapshotRepository snapshots;
    private final SnapshotOperationRepository operations;
    private final RegionDirectory regions;
    private final SnapshotProperties properties;
    private final ApplicationEventPublisher events;
    private final Clock clock;
    private final NodeStatus nodes;

    SnapshotService(SnapshotRepository snapshots, SnapshotOperationRepository operations, RegionDirectory regions,
            SnapshotProperties properties, ApplicationEventPublisher events, Clock clock, NodeStatus nodes) {
        this.nodes = nodes;
        this.snapshots = snapshots;
        this.operations = operations;
        this.regions = regions;
        this.properties = properties;
        this.events = events;
        this.clock = clock;
    }

    /**
     * Starts a snapshot of a region now. An incremental one is based on {@code parentId}, or when
     * that is null on the region's latest completed snapshot.
     */
    @Transactional
    public SnapshotView take(UUID regionId, SnapshotKind kind, UUID parentId, String requestedBy) {
        RegionInfo region = regions.find(regionId).orElseThrow(() -> DomainException.notFound("region", regionId));
        if (!region.attached()) {
            throw DomainException.conflict("region " + regionId + " is " + region.state()
                    + "; only an ATTACHED region can be snapshotted");
        }
        Optional<String> down = nodes.down(region.node());
        if (down.isPresent()) {
            throw new DomainException(Problem.AGENT_UNAVAILABLE, down.get() + "; its regions cannot be snapshotted"
                    + " until it reports again");
        }
        if (kind == SnapshotKind.FULL && parentId != null) {
            throw new DomainException(Problem.UNPROCESSABLE,
                    "parentId names the base of an INCREMENTAL snapshot; a FULL snapshot has none");
        }
        Optional<Snapshot> active = snapshots.findByActiveRegionId(regionId);
        if (active.isPresent()) {
            throw inProgress(active.get(), ONE_JOB_PER_REGION);
        }
        Snapshot parent = kind == SnapshotKind.INCREMENTAL ? parentFor(regionId, parentId) : null;
        return create(region, parent, null, false, requestedBy).view();
    }

    /** What a policy asks for one matching region at one of its fire times. */
    public record PolicyTake(RegionInfo region, UUID policyId, String policyName, int fullEvery,
            boolean requireQuiesce) {
    }

    /** Either the snapshot created, or why none was. */
    public record PolicyTakeOutcome(UUID snapshotId, SnapshotKind kind, String skippedReason) {
    }

    /**
     * Starts a policy's snapshot of one region. Part of the transaction in which the policy claims
     * its fire time, so a claim and its snapshots commit together or not at all. The snapshot is
     * FULL when the policy has no completed snapshot of the region yet, or when the chain ending
     * at the latest one already holds {@code fullEvery} snapshots; else INCREMENTAL on it.
     */
    @Transactional(propagation = Propagation.MANDATORY)
    public PolicyTakeOutcome takeForPolicy(PolicyTake take) {
        Optional<String> down = nodes.down(take.region().node());
        if (down.isPresent()) {
            return new PolicyTakeOutcome(null, null, down.get());
        }
        Optional<Snapshot> active = snapshots.findByActiveRegionId(take.region().id());
        if (active.isPresent()) {
            return new PolicyTakeOutcome(null, null, stillActive(active.get()) + "; " + ONE_JOB_PER_REGION);
        }
        Snapshot parent = snapshots.findFirstByRegionIdAndPolicyIdAndStateOrderByCreatedAtDesc(take.region().id(),
                        take.policyId(), SnapshotState.COMPLETED)
                .filter(p -> !beingDeleted(p))
                .filter(p -> {
                    List<Snapshot> chain = snapshots.chainEndingAt(p);
                    return chain.get(0).kind() == SnapshotKind.FULL && chain.size() < take.fullEvery();
                })
                .orElse(null);
        Snapshot created = create(take.region(), parent, take.policyId(), take.requireQuiesce(),
                "policy:" + take.policyName());
        return new PolicyTakeOutcome(created.id(), created.kind(), null);
    }

    @Transactional(readOnly = true)
    public PageResponse<SnapshotView> list(SnapshotFilter filter, int page, int size) {
        Sort newestFirst = Sort.by(Sort.Order.desc("createdAt"), Sort.Order.asc("id"));
        return PageResponse.of(snapshots.findAll(filter.specification(), PageRequest.of(page, size, newestFirst)),
                Snapshot::view);
    }

    @Transactional(readOnly = true)
    public SnapshotView get(UUID id) {
        return load(id).view();
    }

    @Transactional
    public SnapshotOperationView verify(UUID id, String requestedBy) {
        Snapshot snapshot = load(id);
        requireCompleted(snapshot, "verified");
        return submit(SnapshotOperation.verify(snapshot, requestedBy, clock.instant()));
    }

    /** Restores into a new region named and labelled like the snapshot's region unless given. */
    @Transactional
    public SnapshotOperationView restore(UUID id, String name, Map<String, String> labels, String requestedBy) {
        return restore(id, name, labels, "copy", requestedBy);
    }

    /** @param mode the session's mode: {@code copy} or {@code clone} (one shared copy for every clone) */
    @Transactional
    public SnapshotOperationView restore(UUID id, String name, Map<String, String> labels, String mode,
            String requestedBy) {
        Snapshot snapshot = load(id);
        requireCompleted(snapshot, "restored");
        return submit(SnapshotOperation.restore(snapshot, name != null ? name : snapshot.regionName(),
                labels != null ? labels : snapshot.regionLabels(), mode, requestedBy, clock.instant()));
    }

    /**
     * Deletes a snapshot, or answers empty when it is already deleted. While an incremental
     * snapshot depends on it, deletion is refused unless {@code consolidate}: then the engine first
     * folds it into each dependent, and it stays COMPLETED (usable) until that is done.
     */
    @Transactional
    public Optional<SnapshotOperationView> delete(UUID id, boolean consolidate, String requestedBy) {
        Snapshot snapshot = load(id);
        switch (snapshot.state()) {
            case DELETED:
                return Optional.empty();
            case DELETING: // a retry after a failed deletion, or the same request again
                return Optional.of(operations.findByActiveSnapshotId(id).map(SnapshotOperation::view)
                        .orElseGet(() -> submit(SnapshotOperation.delete(snapshot, false, requestedBy, clock.instant()))));
            case PENDING, RUNNING:
                throw inProgress(snapshot, "delete it once it has COMPLETED or FAILED");
            default:
                break;
        }
        List<Snapshot> dependents = liveDependents(snapshot);
        if (dependents.isEmpty()) {
            SnapshotOperationView op = submit(SnapshotOperation.delete(snapshot, consolidate, requestedBy, clock.instant()));
            snapshot.markDeleting();
            return Optional.of(op);
        }
        if (!consolidate) {
            throw new DomainException(Problem.SNAPSHOT_HAS_DEPENDENTS, "incremental snapshot(s) " + ids(dependents)
                    + " depend on snapshot " + id + "; delete them first, or delete with ?consolidate=true to fold"
                    + " this snapshot into them");
        }
        Optional<Snapshot> unfinished = dependents.stream().filter(d -> d.state() != SnapshotState.COMPLETED).findFirst();
        if (unfinished.isPresent()) {
            throw inProgress(unfinished.get(), "it is based on snapshot " + id + "; consolidate once it has completed");
        }
        return Optional.of(submit(SnapshotOperation.delete(snapshot, true, requestedBy, clock.instant())));
    }

    @Transactional(readOnly = true)
    public List<SnapshotOperationView> operations(UUID snapshotId) {
        load(snapshotId);
        return operations.findBySnapshotIdOrderByRequestedAtDesc(snapshotId).stream().map(SnapshotOperation::view)
                .toList();
    }

    @Transactional(readOnly = true)
    public SnapshotOperationView operation(UUID snapshotId, UUID operationId) {
        return operations.findByIdAndSnapshotId(operationId, snapshotId).map(SnapshotOperation::view)
                .orElseThrow(() -> DomainException.notFound("operation", operationId));
    }

    /** A policy's snapshots that its retention rules judge: everything not being or already deleted. */
    @Transactional(readOnly = true)
    public List<SnapshotView> retentionCandidates(UUID policyId) {
        return snapshots.findByPolicyIdAndStateInOrderByCreatedAtAsc(policyId, RETENTION_STATES).stream()
                .map(Snapshot::view).toList();
    }

    /** Of these snapshots, those a live incremental snapshot that is not the policy's own is based on. */
    @Transactional(readOnly = true)
    public Set<UUID> neededOutsidePolicy(UUID policyId, Collection<UUID> snapshotIds) {
        if (snapshotIds.isEmpty()) {
            return Set.of();
        }
        return snapshots.findParentsNeededOutsidePolicy(policyId, snapshotIds, SnapshotState.LIVE);
    }

    /**
     * Deletes a snapshot that retention no longer keeps, unless something still needs it; answers
     * why not. Each call is its own transaction, so pruning newest first lets a parent go in the
     * same pass as the last incremental snapshot that depended on it.
     */
    @Transactional
    public Optional<String> prune(UUID id, String requestedBy) {
        Snapshot snapshot = snapshots.findById(id).orElse(null);
        if (snapshot == null) {
            return Optional.of("it no longer exists");
        }
        if (snapshot.state() != SnapshotState.COMPLETED && snapshot.state() != SnapshotState.FAILED) {
            return Optional.of("it is " + snapshot.state());
        }
        Optional<SnapshotOperation> active = operations.findByActiveSnapshotId(id);
        if (active.isPresent()) {
            return Optional.of("its " + active.get().kind() + " operation " + active.get().id() + " is in progress");
        }
        List<Snapshot> dependents = liveDependents(snapshot);
        if (!dependents.isEmpty()) {
            return Optional.of("incremental snapshot(s) " + ids(dependents) + " depend on it");
        }
        submit(SnapshotOperation.delete(snapshot, false, requestedBy, clock.instant()));
        snapshot.markDeleting();
        return Optional.empty();
    }

    /**
     * Starts a new deletion for each DELETING snapshot (of one policy, or all when null) whose
     * last attempt failed or was interrupted: once DELETING, a snapshot is only ever deleted.
     */
    @Transactional
    public int resumeDeletions(UUID policyId, String requestedBy) {
        List<Snapshot> deleting = policyId == null ? snapshots.findByStateIn(Set.of(SnapshotState.DELETING))
                : snapshots.findByPolicyIdAndStateInOrderByCreatedAtAsc(policyId, Set.of(SnapshotState.DELETING));
        int resumed = 0;
        for (Snapshot snapshot : deleting) {
            if (operations.findByActiveSnapshotId(snapshot.id()).isEmpty()) {
                submit(SnapshotOperation.delete(snapshot, false, requestedBy, clock.instant()));
                resumed++;
            }
        }
        return resumed;
    }

    private Snapshot parentFor(UUID regionId, UUID parentId) {
        Snapshot parent;
        if (parentId == null) {
            parent = snapshots.findFirstByRegionIdAndStateOrderByCreatedAtDesc(regionId, SnapshotState.COMPLETED)
                    .orElseThrow(() -> DomainException.conflict("region " + regionId + " has no completed snapshot to"
                            + " base an incremental one on; take a FULL snapshot first"));
        } else {
            parent = snapshots.findById(parentId).orElseThrow(() -> new DomainException(Problem.UNPROCESSABLE,
                    "parent snapshot " + parentId + " does not exist"));
            if (!parent.regionId().equals(regionId)) {
                throw new DomainException(Problem.UNPROCESSABLE, "parent snapshot " + parentId + " is of region "
                        + parent.regionId() + ", not " + regionId);
            }
            if (parent.state() != SnapshotState.COMPLETED) {
                throw DomainException.conflict("parent snapshot " + parentId + " is " + parent.state()
                        + "; an incremental snapshot needs a COMPLETED parent");
            }
        }
        if (beingDeleted(parent)) {
            throw DomainException.conflict("parent snapshot " + parent.id() + " is being deleted");
        }
        return parent;
    }

    private Snapshot create(RegionInfo region, Snapshot parent, UUID policyId, boolean requireQuiesce,
            String requestedBy) {
        UUID id = UUID.randomUUID();
        // The canonical UUID form, never the raw id, names the directory: no path can escape it.
        Path image = properties.dir().resolve(region.id().toString()).resolve(id + ".img");
        SnapshotKind kind = parent == null ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL;
        Snapshot snapshot = new Snapshot(id, region, kind, parent == null ? null : parent.id(), policyId,
                requireQuiesce, requestedBy, image, clock.instant());
        try {
            snapshots.saveAndFlush(snapshot);
        } catch (DataIntegrityViolationException e) {
            // another request or service instance started a snapshot of this region meanwhile
            throw new DomainException(Problem.SNAPSHOT_IN_PROGRESS, "a snapshot of region " + region.id()
                    + " was started meanwhile; one snapshot job per region runs at a time", e);
        }
        events.publishEvent(new SnapshotEvents.TakeRequested(id, snapshot.node()));
        return snapshot;
    }

    private SnapshotOperationView submit(SnapshotOperation op) {
        Optional<SnapshotOperation> active = operations.findByActiveSnapshotId(op.snapshotId());
        if (active.isPresent()) {
            throw busy(op.snapshotId(), active.get());
        }
        try {
            operations.saveAndFlush(op);
        } catch (DataIntegrityViolationException e) {
            throw DomainException.conflict("another operation on snapshot " + op.snapshotId() + " started meanwhile");
        }
        events.publishEvent(new SnapshotEvents.OperationRequested(op.id(), op.node()));
        return op.view();
    }

    private boolean beingDeleted(Snapshot snapshot) {
        return operations.findByActiveSnapshotId(snapshot.id()).filter(op -> op.kind() == OperationKind.DELETE)
                .isPresent();
    }

    private List<Snapshot> liveDependents(Snapshot snapshot) {
        return snapshots.findByParentIdAndStateInOrderByCreatedAtAsc(snapshot.id(), SnapshotState.LIVE);
    }

    private Snapshot load(UUID id) {
        return snapshots.findById(id).orElseThrow(() -> DomainException.notFound("snapshot", id));
    }

    private static void requireCompleted(Snapshot snapshot, String what) {
        if (snapshot.state() != SnapshotState.COMPLETED) {
            throw DomainException.conflict("snapshot " + snapshot.id() + " is " + snapshot.state()
                    + "; only a COMPLETED snapshot can be " + what);
        }
    }

    private static DomainException inProgress(Snapshot snapshot, String advice) {
        return new DomainException(Problem.SNAPSHOT_IN_PROGRESS, stillActive(snapshot) + "; " + advice);
    }

    private static String stillActive(Snapshot snapshot) {
        return "snapshot " + snapshot.id() + " of region " + snapshot.regionId() + " is still " + snapshot.state();
    }

    private static DomainException busy(UUID snapshotId, SnapshotOperation active) {
        return DomainException.conflict("snapshot " + snapshotId + " has a " + active.kind() + " operation ("
                + active.id() + ") in progress; try again when it has finished");
    }

    private static String ids(List<Snapshot> snapshots) {
        return snapshots.stream().map(s -> s.id().toString()).collect(Collectors.joining(", "));
    }
}
