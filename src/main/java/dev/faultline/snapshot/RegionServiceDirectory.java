package dev.faultline.snapshot;

import dev.faultline.label.LabelSelector;
import dev.faultline.region.RegionService;
import dev.faultline.region.RegionView;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Regions as the region feature knows them (converged on the agent's reports). */
class RegionServiceDirectory implements RegionDirectory {

    private final RegionService regions;

    RegionServiceDirectory(RegionService regions) {
        this.regions = regions;
    }

    @Override
    public Optional<RegionInfo> find(UUID regionId) {
        return regions.find(regionId).map(RegionServiceDirectory::info);
    }

    @Override
    public List<RegionInfo> select(LabelSelector selector) {
        return regions.find(selector, null).stream().map(RegionServiceDirectory::info).toList();
    }

    private static RegionInfo info(RegionView region) {
        return new RegionInfo(region.id(), region.name(), region.labels(),
                RegionInfo.State.valueOf(region.state().name()), region.node());
    }
}
