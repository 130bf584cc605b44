package dev.faultline.agent;

import java.time.Instant;

/**
 * A snapshot of the service's view of its agent.
 *
 * @param since when the agent entered {@code state}
 * @param restarts how many times the agent was restarted (embedded) or reconnected to
 *     (external) since the service started
 * @param lastError why the agent last failed, or null
 * @param kernel the kernel the agent reported at hello (null until READY once)
 * @param userfaultfd what the agent probed at start (null until READY once)
 * @param handoffSocket where workloads hand their memory to the agent (null when unknown)
 * @param node the node this agent serves
 * @param pageChannel the address its page channel listens on (null: the agent's default)
 * @param limits the agent's client and descriptor limits (null until READY once)
 */
public record AgentStatus(AgentState state, AgentMode mode, String socket, Long pid, String version,
        Integer protocol, int restarts, Instant since, String lastError, KernelInfo kernel,
        UffdCapabilities userfaultfd, String handoffSocket, String node, String pageChannel, AgentLimits limits) {

    /** A status without known limits (before the first hello). */
    public AgentStatus(AgentState state, AgentMode mode, String socket, Long pid, String version,
            Integer protocol, int restarts, Instant since, String lastError, KernelInfo kernel,
            UffdCapabilities userfaultfd, String handoffSocket, String node, String pageChannel) {
        this(state, mode, socket, pid, version, protocol, restarts, since, lastError, kernel, userfaultfd,
                handoffSocket, node, pageChannel, null);
    }
}
