package dev.faultline.snapshot;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;

interface SnapshotOperationRepository extends JpaRepository<SnapshotOperation, UUID> {

    Optional<SnapshotOperation> findByActiveSnapshotId(UUID snapshotId);

    Optional<SnapshotOperation> findByIdAndSnapshotId(UUID id, UUID snapshotId);

    List<SnapshotOperation> findBySnapshotIdOrderByRequestedAtDesc(UUID snapshotId);

    List<SnapshotOperation> findByStateIn(Collection<OperationState> states);
}
