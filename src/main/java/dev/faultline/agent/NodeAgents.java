package dev.faultline.agent;

import dev.faultline.FaultlineProperties;
import dev.faultline.event.EventService;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.info.BuildProperties;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * The agents this service instance manages, one per node: the primary node (named
 * {@code faultline.node-name}, its agent configured by {@code faultline.agent.*}) and any
 * {@code faultline.agent.extra-nodes}. Starts their supervisors before the web server accepts
 * requests and stops them after it has drained them.
 */
@Component
public class NodeAgents implements SmartLifecycle {

    private final Map<String, AgentSupervisor> supervisors = new LinkedHashMap<>();
    private final Map<String, AgentClient> clients = new LinkedHashMap<>();
    private final String primary;
    private volatile boolean running;

    NodeAgents(AgentProperties properties, FaultlineProperties faultline, ObjectProvider<BuildProperties> build,
            ObjectProvider<EventService> events, Environment environment) {
        BuildProperties buildProperties = build.getIfAvailable();
        // the snapshot feature's directory (faultline.snapshots.dir), read here so agent/ needs nothing of snapshot/
        String snapshots = environment.getProperty("faultline.snapshots.dir");
        Path snapshotsDir = snapshots == null || snapshots.isBlank() ? null
                : Path.of(snapshots).toAbsolutePath().normalize();
        String clientName = "faultline-service " + (buildProperties == null ? "dev" : buildProperties.getVersion());
        this.primary = faultline.nodeName();
        add(new AgentSupervisor(primary, properties.socket(), properties.pageChannel(), faultline.dataDir(),
                faultline.dataDir(), snapshotsDir, properties, clientName, events));
        for (AgentProperties.ExtraNode extra : properties.extraNodes()) {
            if (supervisors.containsKey(extra.name())) {
                throw new IllegalStateException("node '" + extra.name() + "' is configured twice (faultline.node-name"
                        + " and faultline.agent.extra-nodes must all differ)");
            }
            add(new AgentSupervisor(extra.name(), extra.socket(), extra.pageChannel(), faultline.dataDir(),
                    faultline.dataDir().resolve("nodes").resolve(extra.name()), snapshotsDir, properties, clientName, events));
        }
    }

    private void add(AgentSupervisor supervisor) {
        supervisors.put(supervisor.node(), supervisor);
        clients.put(supervisor.node(), new AgentClient(supervisor));
    }

    /** The primary node's agent. */
    public AgentClient local() {
        return clients.get(primary);
    }

    /** The agent of a node this instance manages. */
    public Optional<AgentClient> node(String name) {
        return Optional.ofNullable(clients.get(name));
    }

    /**
     * The agent of a node this instance manages, for a feature about to act on that node (its
     * region, its snapshot, its side of a migration). Throws {@link AgentException} with code
     * {@link #NOT_MANAGED} for a node another service instance manages.
     */
    public AgentClient forNode(String name) {
        AgentClient client = name == null ? null : clients.get(name);
        if (client == null) {
            throw new AgentException(NOT_MANAGED, "node " + name + " is managed by another service instance");
        }
        return client;
    }

    /** The code of {@link #forNode}'s exception. */
    public static final String NOT_MANAGED = "NOT_MANAGED";

    /** Every node this instance manages, the primary first. */
    /** Every node's supervisor, for {@code AgentMetrics}. */
    java.util.Collection<AgentSupervisor> supervisors() {
        return java.util.Collections.unmodifiableCollection(supervisors.values());
    }

    public List<AgentClient> all() {
        return List.copyOf(clients.values());
    }

    @Override
    public void start() {
        supervisors.values().forEach(AgentSupervisor::start);
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        supervisors.values().parallelStream().forEach(AgentSupervisor::stop);
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Start before the web server accepts requests, stop after it has drained them. */
    @Override
    public int getPhase() {
        return 0;
    }
}
