package dev.faultline.policy;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Modifying;
import org.springframework.data.jpa.repository.Query;

interface SnapshotPolicyRepository extends JpaRepository<SnapshotPolicy, UUID> {

    boolean existsByName(String name);

    List<SnapshotPolicy> findAllByOrderByNameAsc();

    List<SnapshotPolicy> findByPausedFalse();

    /**
     * Claims a policy's first fire time. Like {@link #claimNextFire}, it succeeds (returns 1) for
     * exactly one caller, and only while the policy is unpaused and unchanged since it was read.
     */
    @Modifying
    @Query(value = "UPDATE snapshot_policy SET last_fire_time = :fireTime"
            + " WHERE id = :id AND version = :version AND paused = FALSE AND last_fire_time IS NULL", nativeQuery = true)
    int claimFirstFire(UUID id, long version, Instant fireTime);

    /**
     * Claims the fire time after {@code previous}: an optimistic compare-and-set, so two ticks, a
     * restarted service or another instance on the same database never run one fire time twice.
     */
    @Modifying
    @Query(value = "UPDATE snapshot_policy SET last_fire_time = :fireTime"
            + " WHERE id = :id AND version = :version AND paused = FALSE AND last_fire_time = :previous",
            nativeQuery = true)
    int claimNextFire(UUID id, long version, Instant previous, Instant fireTime);
}
