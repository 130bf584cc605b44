package dev.faultline.region;

import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.JpaSpecificationExecutor;
import org.springframework.data.jpa.repository.Query;

interface RegionRepository extends JpaRepository<Region, UUID>, JpaSpecificationExecutor<Region> {

    List<Region> findByNodeAndStateIn(String node, Collection<RegionState> states);

    /** Detaches asked through other instances for these nodes, locked; rows another instance holds are skipped. */
    @Query(value = "select * from region where detach_request is not null and node in (:nodes)"
            + " for update skip locked", nativeQuery = true)
    List<Region> claimDetachRequests(Collection<String> nodes);

    /** Regions and their bytes, by state: counted by the database, not by loading rows. */
    @Query("select r.state as state, count(r) as regions, coalesce(sum(r.length), 0) as bytes from Region r"
            + " group by r.state")
    List<StateTotal> totalsByState();

    interface StateTotal {
        RegionState getState();

        long getRegions();

        long getBytes();
    }
}
