package dev.faultline.restore;

import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.JpaSpecificationExecutor;
import org.springframework.data.jpa.repository.Query;

interface RestoreRepository extends JpaRepository<RestoreSession, UUID>, JpaSpecificationExecutor<RestoreSession> {

    List<RestoreSession> findAllByOrderByCreatedAtDesc();

    List<RestoreSession> findByNodeAndStateIn(String node, Collection<RestoreState> states);

    /** REQUESTED sessions of these nodes, locked for this instance; rows another instance holds are skipped. */
    @Query(value = "select * from restore_session where state = 'REQUESTED' and node in (:nodes)"
            + " order by created_at limit 16 for update skip locked", nativeQuery = true)
    List<RestoreSession> claimRequested(Collection<String> nodes);
}
