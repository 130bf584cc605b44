package dev.faultline.snapshot;

/**
 * The snapshot engine of each node: a snapshot's jobs run on the engine of the node its region
 * is on (its images are on that host). {@code SnapshotConfig} wires the agents' engines.
 */
@FunctionalInterface
public interface SnapshotEngines {

    /** The engine of {@code node}; throws {@link SnapshotEngineException} for a node this instance does not manage. */
    SnapshotEngine on(String node);
}
