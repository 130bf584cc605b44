package dev.faultline.region;

/** Whether the agent serves a region's faults. */
public enum RegionState {
    /** Faults are served. */
    ATTACHED,
    /** Being populated before it is released, so no page turns into zeros. */
    DETACHING,
    /** Released: the workload owns its memory alone (or is gone). */
    DETACHED
}
