package dev.faultline.restore;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.NodeAgents;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Polls, at the regions' sync interval, the sessions of agents that push no changes (older
 * agents), and those whose full read failed; the others are kept in step by {@link RestoreChanges}.
 */
@Component
class RestoreSync {

    private final RestoreService restores;
    private final NodeAgents agents;

    RestoreSync(RestoreService restores, NodeAgents agents) {
        this.restores = restores;
        this.agents = agents;
    }

    @Scheduled(fixedDelayString = "${faultline.regions.sync-interval:1s}", initialDelayString = "${faultline.regions.sync-interval:1s}")
    void sync() {
        for (AgentClient agent : agents.all()) {
            if ((!agent.pushesChanges() || restores.owesFullRead(agent.node()))
                    && agent.status().state() == AgentState.READY) {
                restores.sync(agent);
            }
        }
    }
}
