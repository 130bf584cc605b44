package dev.faultline.node;

import java.time.Instant;

/**
 * A feature whose work runs on one node's agent, told when the cluster notices that node has
 * stopped reporting: it marks that node's unfinished jobs so none is silently lost. Called once
 * per outage, inside the transaction that marks the node DOWN (a handler that throws makes the
 * whole check run again at the next pass), on whichever instance runs the dead-node duty.
 *
 * <p>Snapshot jobs fail. The migration feature implements this to pause (or fail) the jobs
 * whose source or destination is the dead node.
 */
public interface NodeDownHandler {

    /**
     * @param node the node that stopped reporting
     * @param lastHeartbeat when its instance last reported it
     * @param reason for job errors, e.g. "node b stopped reporting at 2026-…Z"
     */
    void nodeDown(String node, Instant lastHeartbeat, String reason);
}
