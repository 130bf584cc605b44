package dev.faultline.snapshot;

import java.util.Map;

/** What snapshots need to know about a region: who it is and whether faults are served. */
public record RegionInfo(String id, String name, Map<String, String> labels, State state) {

    public RegionInfo {
        labels = Map.copyOf(labels);
    }

    /** The agent's region states (native-agent/PROTOCOL.md §1.8). */
    public enum State {
        ATTACHED, DETACHING, DETACHED
    }

    public boolean attached() {
        return state == State.ATTACHED;
    }
}
