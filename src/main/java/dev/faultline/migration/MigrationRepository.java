package dev.faultline.migration;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.JpaSpecificationExecutor;
import org.springframework.data.jpa.repository.Query;

interface MigrationRepository extends JpaRepository<Migration, UUID>, JpaSpecificationExecutor<Migration> {

    Optional<Migration> findByActiveRegionId(UUID regionId);

    List<Migration> findByPhaseInOrderByCreatedAtAsc(Collection<MigrationPhase> phases);

    /** Ended jobs whose agents have not both been told to forget them yet. */
    @Query("select m from Migration m where m.phase in :ended and (m.sourceForgotten = false"
            + " or m.destinationForgotten = false)")
    List<Migration> findEndedNotForgotten(Collection<MigrationPhase> ended);
}
