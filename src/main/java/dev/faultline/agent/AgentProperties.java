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
 * @param extraNodes further agents this service instance manages as nodes of their own (two
 *     nodes on one machine for tests, or several agents on one host)
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
        @NotNull @DefaultValue List<@Valid ExtraNode> extraNodes) {

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
