package dev.faultline.snapshot;

import dev.faultline.label.LabelSelector;
import java.util.List;
import java.util.Optional;

/**
 * The port through which snapshots and policies look up regions (owned by the region feature,
 * reported by the agent). {@code SnapshotConfig} wires {@link RegionServiceDirectory}.
 */
public interface RegionDirectory {

    /** The region with this id (the agent's UUID, as text), in any state. */
    Optional<RegionInfo> find(String regionId);

    /** Every region, in any state, whose labels the selector matches. */
    List<RegionInfo> select(LabelSelector selector);
}
