package dev.faultline.host;

import io.swagger.v3.oas.annotations.media.Schema;
import java.time.Instant;
import java.util.List;

/**
 * This host as the service sees it. All of it is the service's own types, filled from what the
 * agent reports by {@link HostService}, so a change of the agent's records cannot change the API.
 * The schema names are those of the API before these types existed.
 *
 * @param userfaultfd what the kernel grants the service's own JVM (probed in-process)
 * @param agent the agent's state and what the kernel grants the agent
 */
public record HostInfo(String hostname, Kernel kernel, Userfaultfd userfaultfd, Agent agent) {

    /** The running kernel, as uname(2) reports it. */
    @Schema(name = "KernelInfo")
    public record Kernel(String sysname, String release, String machine) {
    }

    /**
     * What userfaultfd offers one process (docs/architecture.md, glossary "capabilities").
     *
     * @param source how the uffd was obtained: {@code dev_userfaultfd} or {@code syscall}
     * @param error why userfaultfd is unavailable, or null
     */
    @Schema(name = "UffdCapabilities")
    public record Userfaultfd(boolean available, String source, long api, List<String> features,
            List<String> ioctls, boolean pagemapScan, String error) {
    }

    /**
     * The service's link to its agent.
     *
     * @param since when the agent entered {@code state}
     * @param restarts restarts (embedded) or reconnects (external) since the service started
     * @param lastError why the agent last failed, or null
     * @param kernel the kernel the agent reported at hello (null until READY once)
     * @param userfaultfd what the agent probed at start (null until READY once)
     * @param handoffSocket where workloads hand their memory to the agent (null when unknown)
     * @param pageChannel the address its page channel listens on (null: the agent's default)
     * @param limits how many workloads the agent serves at once (null until READY once)
     */
    @Schema(name = "AgentStatus")
    public record Agent(State state, Mode mode, String socket, Long pid, String version, Integer protocol,
            int restarts, Instant since, String lastError, Kernel kernel, Userfaultfd userfaultfd,
            String handoffSocket, String node, String pageChannel, Limits limits) {
    }

    /**
     * The agent's connection limits (native-agent/PROTOCOL.md §1.4).
     *
     * @param maxClients workloads (connections) served at once per handoff socket; one more is
     *     refused and told why
     * @param openFiles the agent's file descriptor limit (RLIMIT_NOFILE) it was derived from
     */
    @Schema(name = "AgentLimits")
    public record Limits(long maxClients, long openFiles) {
    }

    /** Where the link to the agent stands: requests are served only while {@code READY}. */
    public enum State {
        STARTING, READY, DOWN
    }

    /** Whether the service starts the agent itself or connects to one that runs on its own. */
    public enum Mode {
        EMBEDDED, EXTERNAL
    }
}
