package dev.faultline.snapshot;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Query;

interface SnapshotOperationRepository extends JpaRepository<SnapshotOperation, UUID> {

    Optional<SnapshotOperation> findByActiveSnapshotId(UUID snapshotId);

    Optional<SnapshotOperation> findByIdAndSnapshotId(UUID id, UUID snapshotId);

    List<SnapshotOperation> findBySnapshotIdOrderByRequestedAtDesc(UUID snapshotId);

    List<SnapshotOperation> findByStateIn(Collection<OperationState> states);

    /** Operations of the given nodes, and those recorded without a node. */
    @Query("select o from SnapshotOperation o where o.state in :states and (o.node is null or o.node in :nodes)")
    List<SnapshotOperation> findByStateInForNodes(Collection<OperationState> states, Collection<String> nodes);

    List<SnapshotOperation> findByNodeAndStateIn(String node, Collection<OperationState> states);

    /** Like {@link SnapshotRepository#claimPending}: locks a PENDING operation, skipping one already locked. */
    @Query(value = "select * from snapshot_operation where id = :id and state = 'PENDING' for update skip locked",
            nativeQuery = true)
    Optional<SnapshotOperation> claimPending(UUID id);
}
