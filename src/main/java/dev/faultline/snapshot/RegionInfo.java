package dev.faultline.snapshot;

import java.util.Map;
import java.util.UUID;

/**
 * What snapshots need to know about a region: who it is, whether faults are served, and the node
 * whose agent holds it (its snapshot jobs run there; null when unknown).
 */
public record RegionInfo(UUID id, String name, Map<String, String> labels, State state, String node) {

    public RegionInfo {
        labels = Map.copyOf(labels);
    }

    public RegionInfo(UUID id, String name, Map<String, String> labels, State state) {
        this(id, name, labels, state, null);
    }

    /** The agent's region states (native-agent/PROTOCOL.md §1.8). */
    public enum State {
        ATTACHED, DETACHING, DETACHED
    }

    public boolean attached() {
        return state == State.ATTACHED;
    }
}
