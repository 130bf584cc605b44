package dev.faultline.snapshot;

import dev.faultline.label.LabelSelector;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The port through which snapshots and policies look up regions (owned by the region feature,
 * reported by the agent). {@code SnapshotConfig} wires {@link RegionServiceDirectory}.
 */
public interface RegionDirectory {

    /** The region with this id, in any state. */
    Optional<RegionInfo> find(UUID regionId);

    /** Every region, in any state, whose labels the selector matches. */
    List<RegionInfo> select(LabelSelector selector);
}
