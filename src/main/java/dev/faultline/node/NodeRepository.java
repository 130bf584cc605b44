package dev.faultline.node;

import java.time.Instant;
import java.util.List;
import org.springframework.data.jpa.repository.JpaRepository;

interface NodeRepository extends JpaRepository<Node, String> {

    List<Node> findAllByOrderByNameAsc();

    List<Node> findByLastHeartbeatBeforeAndDownSinceIsNull(Instant cutoff);
}
