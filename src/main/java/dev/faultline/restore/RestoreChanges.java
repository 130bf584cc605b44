package dev.faultline.restore;

import dev.faultline.agent.AgentChangeListener;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.NodeAgents;
import dev.faultline.agent.AgentChangeListener.RegionChange;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.springframework.stereotype.Component;

/**
 * Keeps the restore sessions in step with the changes their agents push (PROTOCOL.md §1.11):
 * a session that changed is read again by itself, and so is the session of a region that
 * attached, changed or moved its counters (its progress); all of a node's sessions only when
 * its agent (re)connects or events were lost.
 */
@Component
class RestoreChanges implements AgentChangeListener {

    private final RestoreService restores;

    RestoreChanges(RestoreService restores, NodeAgents agents) {
        this.restores = restores;
        agents.all().forEach(agent -> agent.addChangeListener(this));
    }

    @Override
    public void resync(AgentClient agent) {
        restores.sync(agent);
    }

    @Override
    public void regionsChanged(AgentClient agent, List<RegionChange> changes) {
        Set<UUID> sessions = new LinkedHashSet<>();
        for (RegionChange c : changes) {
            AgentRegion region = c.region();
            if (region.backing() != null && region.backing().restoreId() != null) {
                sessions.add(region.backing().restoreId());
            }
        }
        sessions.forEach(id -> restores.refresh(agent, id));
    }

    @Override
    public void restoreChanged(AgentClient agent, UUID restoreId, boolean deleted) {
        if (deleted) {
            restores.forget(agent, restoreId);
        } else {
            restores.refresh(agent, restoreId);
        }
    }
}
