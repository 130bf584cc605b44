package dev.faultline.agent;

import dev.faultline.event.EventService;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import tools.jackson.databind.JsonNode;

/**
 * Keeps the service connected to a READY agent.
 *
 * <p>Embedded mode (no {@code faultline.agent.socket}): starts the bundled agent as a child
 * process, restarts it when it dies (at once the first time, then with exponential backoff
 * while it keeps dying), kills and restarts it when it stops answering pings, and shuts it
 * down with the service. An agent that is already live on the socket (the service restarted
 * while the agent kept serving faults) is adopted instead of replaced.
 *
 * <p>External mode: connects to the configured socket and reconnects with backoff.
 *
 * <p>Every state change runs on one supervisor thread, so the process, the connection and the
 * published status never race; other threads only read the volatile fields.
 */
class AgentSupervisor {

    private static final Logger log = LoggerFactory.getLogger(AgentSupervisor.class);
    /** An agent that stayed up this long is healthy again: its next crash restarts at once. */
    private static final Duration STABLE_RUN = Duration.ofSeconds(30);
    private static final long CONNECT_POLL_MILLIS = 10;
    /** Unix socket paths are limited to 108 bytes including the terminating NUL. */
    private static final int MAX_SOCKET_PATH = 107;

    private final AgentProperties properties;
    private final String node;
    private final boolean embedded;
    private final String pageChannel;
    /** Shared by every node of this instance: the unpacked agent binary, the allowed image dirs. */
    private final Path dataDir;
    /** Where the agent may write and read snapshot images (faultline.snapshots.dir), or null. */
    private final Path snapshotsDir;
    /** This node's own directory: its agent's state and (embedded) its sockets. */
    private final Path nodeDir;
    private final Clock clock;
    private final String clientName;
    private final Path socket;
    private final Object stateChanged = new Object();
    private final ObjectProvider<EventService> events;
    /** The agent's change events, delivered in order on a thread of their own (PROTOCOL.md §1.11). */
    private final AgentEventStream changes;
    private final java.util.concurrent.ExecutorService changeDelivery;

    // Touched only on the supervisor thread.
    private ProcessHandle agentProcess;
    private Process childProcess;
    private long generation;
    private int launches;
    private int consecutiveFailures;
    private Instant readyAt;
    private String version;
    private Integer protocol;
    private KernelInfo kernel;
    private UffdCapabilities userfaultfd;
    private String handoff;
    private AgentLimits limits;

    /** Created by each start(): a Lifecycle may be stopped and started again (Spring pauses idle test contexts). */
    private volatile ScheduledExecutorService executor;
    private volatile AgentConnection connection;
    private volatile AgentStatus status;
    private volatile boolean running;
    /** How often the agent became READY (its first start, every restart, every reconnect), for Prometheus. */
    private final java.util.concurrent.atomic.AtomicLong readies = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param externalSocket the control socket of an agent run by someone else, or null to start
     *     the bundled agent in {@code nodeDir}
     */
    AgentSupervisor(String node, Path externalSocket, String pageChannel, Path dataDir, Path nodeDir,
            Path snapshotsDir, AgentProperties properties, String clientName, ObjectProvider<EventService> events) {
        this.node = node;
        this.embedded = externalSocket == null;
        this.pageChannel = pageChannel;
        this.events = events;
        this.properties = properties;
        this.dataDir = dataDir;
        this.snapshotsDir = snapshotsDir;
        this.nodeDir = nodeDir;
        this.clock = Clock.systemUTC();
        this.clientName = clientName;
        this.socket = embedded ? embeddedSocketPath(nodeDir) : externalSocket.toAbsolutePath();
        this.changeDelivery = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "agent-changes-" + node);
            t.setDaemon(true);
            return t;
        });
        this.changes = new AgentEventStream(changeDelivery);
        this.status = new AgentStatus(AgentState.DOWN, mode(), socket.toString(), null, null, null, 0,
                clock.instant(), null, null, null, null, node, pageChannel);
    }

    String node() {
        return node;
    }

    AgentStatus status() {
        return status;
    }

    long readies() {
        return readies.get();
    }

    AgentEventStream changes() {
        return changes;
    }

    /** The live connection, or an UNAVAILABLE error saying why there is none. */
    AgentConnection connection() {
        AgentConnection current = connection;
        if (current == null || !current.isOpen() || status.state() != AgentState.READY) {
            AgentStatus s = status;
            throw new AgentException(AgentException.UNAVAILABLE, "agent is " + s.state()
                    + (s.lastError() == null ? "" : " (" + s.lastError() + ")"));
        }
        return current;
    }

    Duration requestTimeout() {
        return properties.requestTimeout();
    }

    /** Blocks until the status satisfies {@code condition} or the timeout passes; returns the status then. */
    AgentStatus awaitStatus(Predicate<AgentStatus> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (stateChanged) {
            while (!condition.test(status)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                TimeUnit.NANOSECONDS.timedWait(stateChanged, left);
            }
            return status;
        }
    }

    // --- lifecycle (driven by NodeAgents) ----------------------------------------------------

    void start() {
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "agent-supervisor");
            t.setDaemon(true);
            return t;
        });
        consecutiveFailures = 0;
        running = true;
        log.info("node {}: agent mode {}, control socket {}", node, mode(), socket);
        executor.execute(this::launch);
        long ping = properties.pingInterval().toMillis();
        executor.scheduleWithFixedDelay(this::pingIfReady, ping, ping, TimeUnit.MILLISECONDS);
    }

    void stop() {
        running = false;
        try {
            executor.submit(this::shutdownAgent).get(15, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("agent shutdown did not finish cleanly: {}", e.toString());
        } finally {
            executor.shutdownNow();
        }
    }

    boolean isRunning() {
        return running;
    }

    // --- state machine (supervisor thread only) -------------------------------------------

    private void launch() {
        if (!running) {
            return;
        }
        long gen = ++generation;
        launches++;
        publish(AgentState.STARTING, null);
        try {
            AgentConnection conn;
            if (embedded) {
                conn = adoptRunningAgent();
                if (conn == null) {
                    conn = startAgent(gen);
                }
            } else {
                conn = AgentConnection.open(socket);
            }
            becomeReady(conn, gen);
        } catch (Exception e) {
            failed(gen, e);
        }
    }

    private AgentConnection adoptRunningAgent() {
        if (!Files.exists(socket)) {
            return null;
        }
        try {
            AgentConnection conn = AgentConnection.open(socket);
            log.info("an agent is already serving {}; adopting it", socket);
            childProcess = null;
            agentProcess = null;
            return conn;
        } catch (IOException e) {
            return null; // stale socket file: the agent removes it when it starts
        }
    }

    private AgentConnection startAgent(long gen) throws IOException, InterruptedException {
        Path binary = AgentBinary.resolve(properties, dataDir);
        Path stateDir = Files.createDirectories(nodeDir.resolve("agent"));
        List<String> command = new ArrayList<>(List.of(binary.toString(), "--socket", socket.toString(),
                "--handoff-socket", handoffSocket().toString(),
                "--state-dir", stateDir.toString(), "--log-level", properties.logLevel()));
        if (pageChannel != null) {
            command.addAll(List.of("--page-channel-listen", pageChannel));
        }
        command.addAll(properties.pageChannelTls().agentOptions());
        properties.allowUids().forEach(uid -> command.addAll(List.of("--allow-uid", uid.toString())));
        if (properties.maxClients() != null) { // unset: the agent derives it from RLIMIT_NOFILE
            command.addAll(List.of("--max-clients", properties.maxClients().toString()));
        }
        for (Path dir : properties.imageDirs(dataDir)) {
            Files.createDirectories(dir);
            command.addAll(List.of("--allow-image-dir", dir.toString()));
        }
        if (snapshotsDir != null) {
            Files.createDirectories(snapshotsDir);
            command.addAll(List.of("--allow-snapshot-dir", snapshotsDir.toString()));
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        childProcess = process;
        agentProcess = process.toHandle();
        log.info("started agent pid {}: {}", process.pid(), String.join(" ", command));
        AgentLogRelay.start(process.getInputStream(), process.pid());
        watchExit(agentProcess, gen);

        long deadline = System.nanoTime() + properties.startTimeout().toNanos();
        while (true) {
            try {
                return AgentConnection.open(socket);
            } catch (IOException e) {
                if (!process.isAlive()) {
                    throw new IOException("agent exited with status " + process.exitValue() + " before it listened");
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("agent did not listen on " + socket + " within " + properties.startTimeout());
                }
                Thread.sleep(CONNECT_POLL_MILLIS); // polling a socket that does not exist yet
            }
        }
    }

    private void becomeReady(AgentConnection conn, long gen) {
        JsonNode hello = conn.call(MessageType.HELLO, Map.of("client", clientName, "protocol", Frame.VERSION),
                properties.requestTimeout());
        int agentProtocol = hello.path("protocol").asInt(0);
        if (agentProtocol != Frame.VERSION) {
            conn.close();
            throw new AgentException("BAD_VERSION", "agent speaks protocol " + agentProtocol + ", service speaks " + Frame.VERSION);
        }
        if (agentProcess == null) { // adopted: watch the pid it reported
            agentProcess = ProcessHandle.of(hello.path("pid").asLong()).orElse(null);
            if (agentProcess != null) {
                watchExit(agentProcess, gen);
            }
        }
        version = hello.path("version").asString(null);
        protocol = agentProtocol;
        kernel = KernelInfo.fromAgent(hello.path("kernel"));
        userfaultfd = UffdCapabilities.fromAgent(hello.path("uffd"));
        limits = AgentLimits.fromAgent(hello.path("limits"));
        handoff = hello.path("handoff_socket").isString() ? hello.path("handoff_socket").asString()
                : embedded ? handoffSocket().toString() : null;
        connection = conn;
        conn.onClose(cause -> onSupervisorThread(() -> connectionLost(conn, gen, cause)));
        readyAt = clock.instant();
        readies.incrementAndGet();
        publish(AgentState.READY, null);
        subscribe(conn);
        log.info("agent READY: version {} pid {}, uffd {}", version, agentPid(), userfaultfd.available()
                ? userfaultfd.features().size() + " features" : "unavailable (" + userfaultfd.error() + ")");
    }

    /**
     * Asks for change events; from then on listeners re-read the full state only now and after
     * a gap. An agent without events (UNKNOWN_TYPE) is read in full by the services' polling.
     */
    private void subscribe(AgentConnection conn) {
        conn.onEvent(event -> changes.onEvent(conn, event));
        try {
            JsonNode reply = conn.call(MessageType.SUBSCRIBE,
                    Map.of("stats_interval_ms", properties.statsInterval().toMillis()), properties.requestTimeout());
            changes.connected(conn, reply.path("seq").asLong(0));
        } catch (AgentException e) {
            changes.disconnected();
            log.info("node {}: the agent sends no change events ({}); its state is polled", node, e.getMessage());
        }
    }

    private void failed(long gen, Exception e) {
        String reason = e.getMessage();
        log.warn("agent not ready: {}", reason);
        closeConnection();
        if (embedded && agentProcess != null && agentProcess.isAlive()) {
            // Its exit watcher schedules the restart, so there is exactly one path to a relaunch.
            publish(AgentState.DOWN, reason);
            agentProcess.destroyForcibly();
        } else {
            publish(AgentState.DOWN, reason);
            scheduleRelaunch();
        }
    }

    private void watchExit(ProcessHandle handle, long gen) {
        handle.onExit().thenRun(() -> onSupervisorThread(() -> agentExited(handle, gen)));
    }

    private void agentExited(ProcessHandle handle, long gen) {
        if (gen != generation || !running) {
            return;
        }
        String how = childProcess != null && childProcess.toHandle().equals(handle)
                ? "exited with status " + childProcess.exitValue() : "exited";
        log.warn("agent pid {} {}", handle.pid(), how);
        closeConnection();
        agentProcess = null;
        childProcess = null;
        publish(AgentState.DOWN, "agent pid " + handle.pid() + " " + how);
        scheduleRelaunch();
    }

    private void connectionLost(AgentConnection conn, long gen, Throwable cause) {
        if (conn != connection || gen != generation || !running) {
            return;
        }
        connection = null;
        changes.disconnected();
        publish(AgentState.DOWN, "control connection lost: " + cause.getMessage());
        if (!embedded) {
            scheduleRelaunch();
            return;
        }
        // The process usually died too and its exit watcher relaunches. If it is still alive a
        // moment later it merely dropped us: reconnect, and replace it if that fails.
        executor.schedule(() -> {
            if (gen == generation && running && agentProcess != null && agentProcess.isAlive()) {
                try {
                    becomeReady(AgentConnection.open(socket), gen);
                } catch (Exception e) {
                    failed(gen, e);
                }
            }
        }, 200, TimeUnit.MILLISECONDS);
    }

    private void pingIfReady() {
        AgentConnection conn = connection;
        long gen = generation;
        if (conn == null || status.state() != AgentState.READY) {
            return;
        }
        conn.send(MessageType.PING, null, properties.requestTimeout()).whenComplete((reply, error) -> {
            if (reply != null) {
                changes.audit(conn, reply); // on the reader thread, after the events before it
            }
            if (error instanceof AgentException ae && AgentException.TIMEOUT.equals(ae.code())) {
                onSupervisorThread(() -> {
                    if (conn == connection && gen == generation) {
                        failed(gen, ae); // a hung agent: replace it
                    }
                });
            }
        });
    }

    private void scheduleRelaunch() {
        if (!running) {
            return;
        }
        if (readyAt != null && Duration.between(readyAt, clock.instant()).compareTo(STABLE_RUN) > 0) {
            consecutiveFailures = 0;
        }
        readyAt = null;
        consecutiveFailures++;
        long delay = consecutiveFailures == 1 ? 0
                : Math.min(properties.restartBackoffInitial().toMillis() << Math.min(consecutiveFailures - 2, 20),
                        properties.restartBackoffMax().toMillis());
        log.info("{} agent in {} ms (attempt {})", embedded ? "restarting" : "reconnecting to",
                delay, consecutiveFailures);
        executor.schedule(this::launch, delay, TimeUnit.MILLISECONDS);
    }

    private void shutdownAgent() {
        generation++; // silences exit watchers and pending reconnects
        AgentConnection conn = connection;
        ProcessHandle process = agentProcess;
        if (embedded && process != null && process.isAlive()) {
            try {
                if (conn != null) {
                    conn.call(MessageType.SHUTDOWN, null, Duration.ofSeconds(2));
                }
                process.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.warn("agent pid {} did not shut down on request ({}); killing it", process.pid(), e.toString());
                process.destroyForcibly();
            }
        }
        closeConnection();
        publish(AgentState.DOWN, "service stopped");
    }

    /** Runs a callback from another thread on the supervisor thread; after stop() there is nothing left to do. */
    private void onSupervisorThread(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException stopped) {
            // the supervisor was stopped; its generation check would discard the task anyway
        }
    }

    private void closeConnection() {
        AgentConnection conn = connection;
        connection = null;
        changes.disconnected();
        if (conn != null) {
            conn.close();
        }
    }

    private void publish(AgentState state, String error) {
        AgentStatus previous = status;
        Instant since = previous.state() == state ? previous.since() : clock.instant();
        String lastError = error != null ? error : (state == AgentState.READY ? null : previous.lastError());
        synchronized (stateChanged) {
            status = new AgentStatus(state, mode(), socket.toString(),
                    state == AgentState.READY ? agentPid() : null, version, protocol, Math.max(0, launches - 1),
                    since, lastError, kernel, userfaultfd, handoff, node, pageChannel, limits);
            stateChanged.notifyAll();
        }
        if (previous.state() != state && state != AgentState.STARTING) {
            record(state == AgentState.READY ? "agent.ready" : "agent.down",
                    state == AgentState.READY ? "agent pid " + agentPid() + " is READY (version " + version + ")"
                            : "agent is DOWN: " + lastError);
        }
    }

    /** The event log is a convenience here: the agent's state must change even if it cannot be written. */
    private void record(String kind, String message) {
        try {
            EventService log = events.getIfAvailable();
            if (log != null && running) {
                log.publish(kind, "agent", node, "node " + node + ": " + message, null);
            }
        } catch (RuntimeException e) {
            AgentSupervisor.log.debug("could not record event {}: {}", kind, e.getMessage());
        }
    }

    /** Where workloads hand over their memory (embedded mode: next to the control socket). */
    Path handoffSocket() {
        return socket.resolveSibling("handoff.sock");
    }

    private Long agentPid() {
        return agentProcess == null ? null : agentProcess.pid();
    }

    private AgentMode mode() {
        return embedded ? AgentMode.EMBEDDED : AgentMode.EXTERNAL;
    }

    /**
     * {@code <data-dir>/run/agent.sock}, or a short private directory under /tmp when the data
     * directory's path is too long for a Unix socket address. Either directory must be ours and
     * private: whoever can write it can put a socket of their own under the agent's name.
     */
    static Path embeddedSocketPath(Path dataDir) {
        Path preferred = dataDir.resolve("run").resolve("agent.sock");
        boolean fallback = preferred.toString().length() > MAX_SOCKET_PATH;
        Path dir = !fallback ? preferred.getParent()
                : Path.of(System.getProperty("java.io.tmpdir"),
                        "faultline-" + shortHash(System.getProperty("user.name") + dataDir));
        try {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                if (fallback) {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } else {
                    Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                }
            }
            checkSocketDir(dir, fallback);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the agent socket directory " + dir + ": " + e.getMessage(), e);
        }
        return dir.resolve("agent.sock");
    }

    /**
     * The socket directory is a real directory owned by this process's user, writable by nobody
     * else; a shared one (the /tmp fallback) must moreover be private entirely (0700).
     */
    static void checkSocketDir(Path dir, boolean shared) throws IOException {
        PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isDirectory()) {
            throw new IllegalStateException("the agent socket directory " + dir + " is not a directory (or is a symlink)");
        }
        // uids, not names: a uid without a passwd entry has no name to compare (containers)
        int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (owner != me) {
            throw new IllegalStateException("the agent socket directory " + dir + " belongs to uid " + owner
                    + ", not to this service's uid " + me + ": refusing to use it");
        }
        Set<PosixFilePermission> perms = attrs.permissions();
        Set<PosixFilePermission> others = shared
                ? EnumSet.complementOf(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                        PosixFilePermission.OWNER_EXECUTE))
                : EnumSet.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);
        if (perms.stream().anyMatch(others::contains)) {
            throw new IllegalStateException("the agent socket directory " + dir + " has mode "
                    + PosixFilePermissions.toString(perms) + ", open to other users: refusing to use it");
        }
    }

    private static String shortHash(String s) {
        return HexFormat.of().toHexDigits(s.hashCode());
    }
}
