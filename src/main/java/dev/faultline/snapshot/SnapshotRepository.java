package dev.faultline.snapshot;

import java.util.Collection;
import java.util.LinkedList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.JpaSpecificationExecutor;
import org.springframework.data.jpa.repository.Query;

interface SnapshotRepository extends JpaRepository<Snapshot, UUID>, JpaSpecificationExecutor<Snapshot> {

    /** Far beyond any sensible chain; only a corrupt parent cycle reaches it. */
    int MAX_CHAIN = 100_000;

    Optional<Snapshot> findByActiveRegionId(UUID regionId);

    Optional<Snapshot> findFirstByRegionIdAndStateOrderByCreatedAtDesc(UUID regionId, SnapshotState state);

    Optional<Snapshot> findFirstByRegionIdAndPolicyIdAndStateOrderByCreatedAtDesc(UUID regionId, UUID policyId,
            SnapshotState state);

    List<Snapshot> findByParentIdAndStateInOrderByCreatedAtAsc(UUID parentId, Collection<SnapshotState> states);

    List<Snapshot> findByStateIn(Collection<SnapshotState> states);

    /** Jobs of the given nodes, and those recorded without a node. */
    @Query("select s from Snapshot s where s.state in :states and (s.node is null or s.node in :nodes)")
    List<Snapshot> findByStateInForNodes(Collection<SnapshotState> states, Collection<String> nodes);

    List<Snapshot> findByNodeAndStateIn(String node, Collection<SnapshotState> states);

    /**
     * Locks a PENDING snapshot for its runner to start it; empty when it is no longer PENDING or
     * another runner holds it (SKIP LOCKED: the loser moves on instead of waiting).
     */
    @Query(value = "select * from snapshot where id = :id and state = 'PENDING' for update skip locked",
            nativeQuery = true)
    Optional<Snapshot> claimPending(UUID id);

    List<Snapshot> findByPolicyIdAndStateInOrderByCreatedAtAsc(UUID policyId, Collection<SnapshotState> states);

    /**
     * The snapshot and its ancestors, the oldest first: for an intact chain, a FULL snapshot and
     * then each INCREMENTAL one on it. A chain whose parent row is missing ends early (it then
     * does not start with a FULL snapshot), so callers decide what a broken chain means.
     */
    default List<Snapshot> chainEndingAt(Snapshot snapshot) {
        LinkedList<Snapshot> chain = new LinkedList<>();
        Snapshot current = snapshot;
        while (current != null) {
            chain.addFirst(current);
            if (chain.size() > MAX_CHAIN) {
                throw new IllegalStateException("the chain of snapshot " + snapshot.id() + " is longer than "
                        + MAX_CHAIN + " (a parent cycle?)");
            }
            current = current.parentId() == null ? null : findById(current.parentId()).orElse(null);
        }
        return chain;
    }

    /** Of the given snapshots, those an incremental snapshot outside the policy still needs. */
    @Query("select distinct s.parentId from Snapshot s where s.parentId in :ids and s.state in :live"
            + " and (s.policyId is null or s.policyId <> :policyId)")
    Set<UUID> findParentsNeededOutsidePolicy(UUID policyId, Collection<UUID> ids, Collection<SnapshotState> live);
}
