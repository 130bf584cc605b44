package dev.faultline.snapshot;

import java.util.EnumSet;
import java.util.Set;

/**
 * PENDING → RUNNING → COMPLETED | FAILED; COMPLETED or FAILED → DELETING → DELETED. A snapshot
 * that is DELETING is never usable again: a failed deletion is retried, never undone.
 */
public enum SnapshotState {
    PENDING, RUNNING, COMPLETED, FAILED, DELETING, DELETED;

    /** States whose image an incremental child still needs: its parent must stay. */
    static final Set<SnapshotState> LIVE = EnumSet.of(PENDING, RUNNING, COMPLETED);

    boolean isActive() {
        return this == PENDING || this == RUNNING;
    }
}
