package dev.faultline.agent;

import java.time.Duration;
import java.util.function.Predicate;
import org.springframework.stereotype.Component;
import tools.jackson.databind.JsonNode;

/**
 * What the rest of the service uses to talk to the agent. Calls fail fast with
 * {@link AgentException} (code UNAVAILABLE) while the agent is not READY, rather than queueing
 * behind a restart.
 */
@Component
public class AgentClient {

    private final AgentSupervisor supervisor;

    AgentClient(AgentSupervisor supervisor) {
        this.supervisor = supervisor;
    }

    public AgentStatus status() {
        return supervisor.status();
    }

    public JsonNode call(MessageType type, Object payload) {
        return supervisor.connection().call(type, payload, supervisor.requestTimeout());
    }

    /** Waits until the agent is in {@code state}; returns the status reached (which may be another on timeout). */
    public AgentStatus awaitState(AgentState state, Duration timeout) throws InterruptedException {
        return supervisor.awaitStatus(s -> s.state() == state, timeout);
    }

    public AgentStatus awaitStatus(Predicate<AgentStatus> condition, Duration timeout) throws InterruptedException {
        return supervisor.awaitStatus(condition, timeout);
    }
}
