package dev.faultline.restore;

import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;

interface RestoreRepository extends JpaRepository<RestoreSession, UUID> {

    List<RestoreSession> findAllByOrderByCreatedAtDesc();

    List<RestoreSession> findByNodeAndStateIn(String node, Collection<RestoreState> states);
}
