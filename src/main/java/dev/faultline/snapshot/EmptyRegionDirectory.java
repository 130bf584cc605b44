package dev.faultline.snapshot;

import dev.faultline.label.LabelSelector;
import java.util.List;
import java.util.Optional;

/**
 * The directory of a service without the region feature: no region exists, so taking a
 * snapshot answers 404 and policies find nothing to snapshot.
 */
class EmptyRegionDirectory implements RegionDirectory {

    @Override
    public Optional<RegionInfo> find(String regionId) {
        return Optional.empty();
    }

    @Override
    public List<RegionInfo> select(LabelSelector selector) {
        return List.of();
    }
}
