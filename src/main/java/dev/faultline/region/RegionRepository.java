package dev.faultline.region;

import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;

interface RegionRepository extends JpaRepository<Region, UUID> {

    List<Region> findByNodeAndStateIn(String node, Collection<RegionState> states);

    List<Region> findAllByOrderByAttachedAtDesc();
}
