package dev.faultline.agent;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.stereotype.Component;

/**
 * Each node's agent, as Prometheus sees it ({@code node} tag, one series per node):
 * <ul>
 * <li>{@code faultline_agent_up}: 1 while the agent is READY;
 * <li>{@code faultline_agent_restarts_total}: times this service started the embedded agent again
 *     after it died or hung, or connected again to an external one (the agent's {@code restarts} in
 *     GET /api/v1/host);
 * <li>{@code faultline_agent_ready_total}: times the agent became READY: its first start, every
 *     restart, and every reconnect to an external agent, so a flapping connection shows too.
 * </ul>
 * Counted since this service started; Prometheus' {@code increase()} handles its restarts.
 */
@Component
class AgentMetrics implements MeterBinder {

    private final NodeAgents agents;

    AgentMetrics(NodeAgents agents) {
        this.agents = agents;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (AgentSupervisor supervisor : agents.supervisors()) {
            Gauge.builder("faultline.agent.up", supervisor, s -> s.status().state() == AgentState.READY ? 1 : 0)
                    .description("1 while the node's agent is READY").tag("node", supervisor.node())
                    .register(registry);
            FunctionCounter.builder("faultline.agent.restarts", supervisor, s -> s.status().restarts())
                    .description("Times the node's agent was restarted (embedded) or reconnected to (external)")
                    .tag("node", supervisor.node()).register(registry);
            FunctionCounter.builder("faultline.agent.ready", supervisor, AgentSupervisor::readies)
                    .description("Times the node's agent became READY: first start, restarts and reconnects")
                    .tag("node", supervisor.node()).register(registry);
        }
    }
}
