package dev.faultline.region;

import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.AgentStatus;
import dev.faultline.agent.MessageType;
import dev.faultline.snapshot.SnapshotView;

/**
 * Breaks three module rules on purpose (ArchitectureTest's negative cases): a region class that
 * speaks the agent's wire format, a REST view embedding an agent record, and a use of the
 * snapshot feature, which region/ may not depend on. Lives in test sources only.
 */
public record WireLeakingRegionView(AgentRegion agentRecord, AgentStatus agentStatus, SnapshotView lastSnapshot) {

    int detachMessage() {
        return MessageType.REGION_DETACH.code();
    }
}
