package dev.faultline.policy;

import java.util.UUID;
import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.data.jpa.repository.JpaRepository;

interface PolicyRunRepository extends JpaRepository<PolicyRun, UUID> {

    Page<PolicyRun> findByPolicyIdOrderByFireTimeDescRegionNameAsc(UUID policyId, Pageable page);
}
