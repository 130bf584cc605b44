package dev.faultline.agent;

import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * The service is only useful with its agents: the primary agent's state decides (READY → UP,
 * STARTING → OUT_OF_SERVICE, DOWN → DOWN); every node's agent is listed in the details.
 */
@Component("agent")
class AgentHealthIndicator implements HealthIndicator {

    private final NodeAgents nodes;

    AgentHealthIndicator(NodeAgents nodes) {
        this.nodes = nodes;
    }

    @Override
    public Health health() {
        AgentStatus primary = nodes.local().status();
        Health.Builder builder = switch (primary.state()) {
            case READY -> Health.up();
            case STARTING -> Health.outOfService();
            case DOWN -> Health.down();
        };
        for (AgentClient agent : nodes.all()) {
            AgentStatus s = agent.status();
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("state", s.state());
            details.put("mode", s.mode());
            details.put("since", s.since().toString());
            details.put("restarts", s.restarts());
            if (s.pid() != null) {
                details.put("pid", s.pid());
            }
            if (s.lastError() != null) {
                details.put("lastError", s.lastError());
            }
            builder.withDetail(s.node(), details);
        }
        return builder.build();
    }
}
