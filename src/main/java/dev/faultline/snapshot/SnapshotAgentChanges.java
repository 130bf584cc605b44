package dev.faultline.snapshot;

import dev.faultline.agent.AgentChangeListener;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.NodeAgents;
import java.util.List;
import org.springframework.stereotype.Component;

/**
 * Snapshot work that waits for an agent: when a node's agent (re)connects, the deletions that
 * could not reach it go on ({@link SnapshotJobs#agentConnected}); a restart's recovery runs
 * before its agent is READY.
 */
@Component
class SnapshotAgentChanges implements AgentChangeListener {

    private final SnapshotJobs jobs;

    SnapshotAgentChanges(SnapshotJobs jobs, NodeAgents agents) {
        this.jobs = jobs;
        agents.all().forEach(agent -> agent.addChangeListener(this));
    }

    @Override
    public void resync(AgentClient agent) {
        jobs.agentConnected(agent.node());
    }

    @Override
    public void regionsChanged(AgentClient agent, List<RegionChange> changes) {
        // regions are the region feature's; nothing here
    }
}
