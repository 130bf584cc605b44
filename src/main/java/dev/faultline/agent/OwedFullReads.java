package dev.faultline.agent;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The nodes whose state a listener of change events failed to read in full, and so still owes
 * itself. A full read follows a (re)connect or lost events, and the events before it are dropped
 * (PROTOCOL.md §1.11): when that read fails (a timeout while the agent is busy), nothing else would
 * bring back what those events said. The pollers that run every second for older agents retry
 * an owed read too, until it succeeds.
 */
public final class OwedFullReads {

    private final Set<String> nodes = ConcurrentHashMap.newKeySet();

    /**
     * The full read of {@code node} failed: the next poll does it again. True when it was not
     * owed already (the first failure of a run of them, the one worth a log line).
     */
    public boolean failed(String node) {
        return nodes.add(node);
    }

    /** The full read of {@code node} succeeded. */
    public void done(String node) {
        nodes.remove(node);
    }

    /** Whether {@code node}'s full read is owed. */
    public boolean owed(String node) {
        return nodes.contains(node);
    }
}
