package dev.faultline.agent;

import java.util.List;
import java.util.UUID;

/**
 * What a feature that keeps a copy of an agent's state is told (PROTOCOL.md §1.11): the
 * changes the agent pushes, and when the copy must be rebuilt from a full read because the
 * connection is new or changes were lost. Called on one thread per node, in the agent's order;
 * changes that arrived together come in one list, so a listener can apply them in one
 * transaction. A listener must not block for long (it delays the node's later changes).
 */
public interface AgentChangeListener {

    /** Read everything of this node again: its agent (re)connected or events were lost. */
    void resync(AgentClient agent);

    /** Regions that attached or changed state, or whose statistics moved, oldest first. */
    void regionsChanged(AgentClient agent, List<RegionChange> changes);

    /** A restore session changed state, or was deleted. */
    default void restoreChanged(AgentClient agent, UUID restoreId, boolean deleted) {
    }

    /**
     * How many of this node's regions that are not DETACHED the listener's copy holds, or -1
     * when it keeps no such count. Asked on the event thread's behalf once every change up to
     * a ping's sequence number is applied: a count other than the agent's means the copy
     * diverged, and it is read in full again.
     */
    default long attachedRegions(AgentClient agent) {
        return -1;
    }

    /**
     * One region as the agent pushed it.
     *
     * @param statisticsOnly only its statistics moved (sampled at {@code faultline.agent.stats-interval})
     */
    record RegionChange(AgentRegion region, boolean statisticsOnly) {
    }
}
