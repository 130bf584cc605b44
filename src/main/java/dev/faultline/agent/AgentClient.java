package dev.faultline.agent;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;

/**
 * What the rest of the service uses to talk to one node's agent. Calls fail fast with
 * {@link AgentException} (code UNAVAILABLE) while the agent is not READY, rather than queueing
 * behind a restart. {@link NodeAgents} has one per node this instance manages; the bean of
 * this type is the primary node's.
 */
public class AgentClient {

    private final AgentSupervisor supervisor;

    AgentClient(AgentSupervisor supervisor) {
        this.supervisor = supervisor;
    }

    /** The node this agent serves. */
    public String node() {
        return supervisor.node();
    }

    public AgentStatus status() {
        return supervisor.status();
    }

    public JsonNode call(MessageType type, Object payload) {
        return call(type, payload, supervisor.requestTimeout());
    }

    /** For requests that legitimately take long, such as detaching a large lazily restored region. */
    public JsonNode call(MessageType type, Object payload, Duration timeout) {
        return supervisor.connection().call(type, payload, timeout);
    }

    /** A request whose reply is read into {@code replyType} (snake_case names, unknown fields ignored). */
    public <T> T call(MessageType type, Object payload, Class<T> replyType) {
        return AgentJson.MAPPER.treeToValue(call(type, payload), replyType);
    }

    public List<AgentRegion> regions() {
        return List.of(AgentJson.MAPPER.treeToValue(
                call(MessageType.REGION_LIST, Map.of("include_detached", true)).path("regions"), AgentRegion[].class));
    }

    public List<AgentRestore> restores() {
        return List.of(AgentJson.MAPPER.treeToValue(
                call(MessageType.RESTORE_LIST, Map.of()).path("restores"), AgentRestore[].class));
    }

    /** Waits until the agent is in {@code state}; returns the status reached (which may be another on timeout). */
    public AgentStatus awaitState(AgentState state, Duration timeout) throws InterruptedException {
        return supervisor.awaitStatus(s -> s.state() == state, timeout);
    }

    public AgentStatus awaitStatus(Predicate<AgentStatus> condition, Duration timeout) throws InterruptedException {
        return supervisor.awaitStatus(condition, timeout);
    }
}
