package dev.faultline.snapshot;

import java.util.UUID;

/**
 * The port through which a snapshot's restore hands the session the engine opened to the restore
 * feature, which records it like every other restore session (listed, deletable, reconciled with
 * the agent). {@code SnapshotConfig} wires {@link RestoreServiceSessions}.
 */
public interface RestoreSessions {

    /**
     * Records the session {@code sessionId} that the engine of {@code node} opened for a snapshot.
     * Throws when it cannot; the session is then closed again, or, when even that failed, adopted
     * by the restore feature's next reconciliation with the agent.
     */
    void recordOpened(String node, UUID sessionId);
}
