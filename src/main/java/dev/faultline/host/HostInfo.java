package dev.faultline.host;

import dev.faultline.agent.AgentStatus;
import dev.faultline.agent.KernelInfo;
import dev.faultline.agent.UffdCapabilities;

/**
 * This host as the service sees it.
 *
 * @param userfaultfd what the kernel grants the service's own JVM (probed in-process)
 * @param agent the agent's state and what the kernel grants the agent
 */
public record HostInfo(String hostname, KernelInfo kernel, UffdCapabilities userfaultfd, AgentStatus agent) {
}
