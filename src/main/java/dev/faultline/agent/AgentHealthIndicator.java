package dev.faultline.agent;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/** The service is only useful with its agent, so agent DOWN makes the service DOWN. */
@Component("agent")
class AgentHealthIndicator implements HealthIndicator {

    private final AgentSupervisor supervisor;

    AgentHealthIndicator(AgentSupervisor supervisor) {
        this.supervisor = supervisor;
    }

    @Override
    public Health health() {
        AgentStatus s = supervisor.status();
        Health.Builder builder = switch (s.state()) {
            case READY -> Health.up();
            case STARTING -> Health.outOfService();
            case DOWN -> Health.down();
        };
        builder.withDetail("state", s.state()).withDetail("mode", s.mode()).withDetail("since", s.since().toString());
        if (s.pid() != null) {
            builder.withDetail("pid", s.pid());
        }
        if (s.lastError() != null) {
            builder.withDetail("lastError", s.lastError());
        }
        return builder.withDetail("restarts", s.restarts()).build();
    }
}
