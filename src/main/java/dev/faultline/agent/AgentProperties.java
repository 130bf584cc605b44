package dev.faultline.agent;

import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How the service reaches its agent.
 *
 * @param socket control socket of an external agent; when unset (the default) the service
 *     starts the bundled agent itself and supervises it
 * @param binary agent executable to start instead of the bundled one (embedded mode only)
 * @param logLevel the embedded agent's log level
 * @param allowUids extra uids the embedded agent accepts on its control socket
 * @param imageDirs directories from which memory images may be restored (symlinks resolved);
 *     empty means {@code <data-dir>/images}. The embedded agent enforces the same list.
 * @param requestTimeout how long one control request may take
 * @param startTimeout how long a starting agent may take to answer hello
 * @param restartBackoffInitial delay before the second restart in a row (the first is at once)
 * @param restartBackoffMax longest delay between restarts
 * @param pingInterval how often a READY agent is pinged to detect a hung process
 * @param pageChannel the address the primary agent's page channel listens on (host:port;
 *     unset: the agent's default); peers reach it there during migrations
 * @param pageChannelTls how the embedded agents protect their page channels (TLS 1.3 with the
 *     job's secret as pre-shared key unless certificates are given; plaintext only on request)
 * @param extraNodes further agents this service instance manages as nodes of their own (two
 *     nodes on one machine for tests, or several agents on one host)
 * @param maxClients how many workloads (connections) the embedded agents serve at once per
 *     socket; unset: what their file descriptor limit allows (the agent raises its soft
 *     RLIMIT_NOFILE to the hard limit and keeps a reserve), reported by {@code /api/v1/host}
 * @param statsInterval how often an agent pushes the statistics of regions whose counters
 *     moved (for the UI and metrics); changes of state are pushed at once whatever this is
 */
@ConfigurationProperties("faultline.agent")
@Validated
public record AgentProperties(
        Path socket,
        Path binary,
        @NotNull @DefaultValue("info") @Pattern(regexp = "debug|info|warn|error") String logLevel,
        @NotNull @DefaultValue List<Integer> allowUids,
        @NotNull @DefaultValue List<Path> imageDirs,
        @NotNull @DefaultValue("5s") Duration requestTimeout,
        @NotNull @DefaultValue("10s") Duration startTimeout,
        @NotNull @DefaultValue("200ms") Duration restartBackoffInitial,
        @NotNull @DefaultValue("15s") Duration restartBackoffMax,
        @NotNull @DefaultValue("2s") Duration pingInterval,
        String pageChannel,
        @NotNull @DefaultValue @Valid PageChannelTls pageChannelTls,
        @NotNull @DefaultValue List<@Valid ExtraNode> extraNodes,
        @jakarta.validation.constraints.Min(1) @jakarta.validation.constraints.Max(65536) Integer maxClients,
        @NotNull @DefaultValue("2s") Duration statsInterval) {

    @jakarta.validation.constraints.AssertTrue(message = "stats-interval must be 100ms to 1h")
    boolean isStatsIntervalInRange() {
        return statsInterval == null || (statsInterval.toMillis() >= 100 && statsInterval.toMillis() <= 3_600_000);
    }

    /**
     * Page channel protection of the agents this service starts (the agent's
     * {@code --page-channel-cert/-key/-ca} and {@code --page-channel-plaintext}).
     *
     * @param cert PEM certificate chain this agent presents (with key and ca, or none of them)
     * @param key PEM private key of that certificate
     * @param ca PEM certificates a peer agent's certificate must chain to
     * @param plaintext no TLS at all: pages cross the network in clear (measurements only)
     */
    public record PageChannelTls(Path cert, Path key, Path ca, @DefaultValue("false") boolean plaintext) {

        @jakarta.validation.constraints.AssertTrue(
                message = "cert, key and ca go together, and certificates exclude plaintext")
        boolean isConsistent() {
            boolean any = cert != null || key != null || ca != null;
            boolean all = cert != null && key != null && ca != null;
            return (!any || all) && !(all && plaintext);
        }

        /** The agent's command-line options for this setting. */
        List<String> agentOptions() {
            if (plaintext) {
                return List.of("--page-channel-plaintext");
            }
            if (cert == null) {
                return List.of();
            }
            return List.of("--page-channel-cert", cert.toAbsolutePath().toString(),
                    "--page-channel-key", key.toAbsolutePath().toString(),
                    "--page-channel-ca", ca.toAbsolutePath().toString());
        }
    }

    /**
     * Another agent managed by this instance.
     *
     * @param name the node's name (unique across the cluster)
     * @param socket its control socket when it is run by someone else; unset: the service starts
     *     it like the primary agent, with its own directory {@code <data-dir>/nodes/<name>}
     * @param pageChannel its page channel address (host:port)
     */
    public record ExtraNode(
            @NotNull @jakarta.validation.constraints.Pattern(regexp = "[a-z0-9]([-a-z0-9.]{0,62})",
                    message = "must be a lower-case host-like name") String name,
            Path socket,
            String pageChannel) {
    }

    boolean embedded() {
        return socket == null;
    }

    /** The allowed image directories, absolute. */
    public List<Path> imageDirs(Path dataDir) {
        return imageDirs.isEmpty() ? List.of(dataDir.resolve("images"))
                : imageDirs.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    }
}
