package dev.faultline.restore;

/** Where a restore session stands (native-agent/PROTOCOL.md §1.8). */
public enum RestoreState {
    /**
     * Recorded through a service instance that does not manage the session's node; the instance
     * that does has not opened the socket yet.
     */
    REQUESTED,
    /** The handoff socket is open; no workload has connected yet. */
    WAITING,
    /** A workload's region is attached and its faults are served from the image. */
    ACTIVE,
    /** Every page of every region is present. */
    COMPLETE,
    /** The session cannot go on; {@code error} says why. */
    FAILED,
    /** Deleted: the socket is closed. */
    CLOSED;

    boolean isFinal() {
        return this == FAILED || this == CLOSED;
    }
}
