package dev.faultline.snapshot;

import dev.faultline.label.LabelSelector;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** Regions that tests register by hand. */
public class FakeRegionDirectory implements RegionDirectory {

    private final Map<UUID, RegionInfo> regions = new ConcurrentHashMap<>();

    public RegionInfo add(String name, Map<String, String> labels) {
        return add(name, labels, RegionInfo.State.ATTACHED);
    }

    public RegionInfo add(String name, Map<String, String> labels, RegionInfo.State state) {
        return add(name, labels, state, SnapshotTestConfig.NODE);
    }

    public RegionInfo add(String name, Map<String, String> labels, RegionInfo.State state, String node) {
        RegionInfo region = new RegionInfo(UUID.randomUUID(), name, labels, state, node);
        regions.put(region.id(), region);
        return region;
    }

    public void clear() {
        regions.clear();
    }

    @Override
    public Optional<RegionInfo> find(UUID regionId) {
        return Optional.ofNullable(regions.get(regionId));
    }

    @Override
    public List<RegionInfo> select(LabelSelector selector) {
        return regions.values().stream().filter(r -> selector.matches(r.labels()))
                .sorted(Comparator.comparing(RegionInfo::name)).toList();
    }
}
