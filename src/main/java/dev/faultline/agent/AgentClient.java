package dev.faultline.agent;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;

/**
 * What the rest of the service uses to talk to one node's agent: typed methods that take and
 * return the service's own types. Only this package knows the wire format (message types,
 * snake_case JSON, the agent's records); ArchitectureTest keeps it so. Calls fail fast with
 * {@link AgentException} (code UNAVAILABLE) while the agent is not READY, rather than queueing
 * behind a restart. {@link NodeAgents} has one per node this instance manages
 * ({@link NodeAgents#forNode}); the bean of this type is the primary node's.
 */
public class AgentClient {

    /** The most items asked for in one page of a list; the agent also bounds a page by its size. */
    static final int LIST_PAGE_LIMIT = 1000;

    private final AgentSupervisor supervisor;
    private final AgentSnapshots snapshots;
    private final AgentMigrations migrations;

    AgentClient(AgentSupervisor supervisor) {
        this.supervisor = supervisor;
        supervisor.changes().bind(this);
        this.snapshots = new AgentSnapshots(this);
        this.migrations = new AgentMigrations(this);
    }

    /** This node's snapshot engine (PROTOCOL.md §1.10). */
    public AgentSnapshots snapshots() {
        return snapshots;
    }

    /** This node's side of migrations (PROTOCOL.md §1.9). */
    public AgentMigrations migrations() {
        return migrations;
    }

    /**
     * Tells {@code listener} of this node's changes from now on (PROTOCOL.md §1.11); if events
     * flow already, it is first asked to read the full state.
     */
    public void addChangeListener(AgentChangeListener listener) {
        supervisor.changes().add(listener, supervisor.changes().active());
    }

    /** Whether the agent pushes its changes; when not (an older agent), its state must be polled. */
    public boolean pushesChanges() {
        return supervisor.changes().active();
    }

    /** Full reads asked of the listeners since the service started (each (re)connect and each gap). */
    public long resyncs() {
        return supervisor.changes().resyncs();
    }

    /** How many times events were found missing. */
    public long eventGaps() {
        return supervisor.changes().gaps();
    }

    /** Tests: stop reading the control connection, so the agent drops events for it. */
    AutoCloseable holdReading() {
        return supervisor.connection().holdReading();
    }

    /** The node this agent serves. */
    public String node() {
        return supervisor.node();
    }

    public AgentStatus status() {
        return supervisor.status();
    }

    JsonNode call(MessageType type, Object payload) {
        return call(type, payload, supervisor.requestTimeout());
    }

    /** For requests that legitimately take long, such as detaching a large lazily restored region. */
    JsonNode call(MessageType type, Object payload, Duration timeout) {
        return supervisor.connection().call(type, payload, timeout);
    }

    /** A request whose reply is read into {@code replyType} (snake_case names, unknown fields ignored). */
    <T> T call(MessageType type, Object payload, Class<T> replyType) {
        return AgentJson.MAPPER.treeToValue(call(type, payload), replyType);
    }

    /**
     * Asks the agent to release a region (region_detach); with {@code populate} it first installs
     * every missing page. Blocks until the agent answered or {@code timeout} passed.
     */
    public void detachRegion(UUID regionId, boolean populate, Duration timeout) {
        call(MessageType.REGION_DETACH, Map.of("id", regionId.toString(), "populate", populate), timeout);
    }

    /** Opens a restore session serving an image file (restore_create); returns it as the agent holds it. */
    public AgentRestore createRestore(AgentRestore.CreateRequest request) {
        return call(MessageType.RESTORE_CREATE, request, AgentRestore.class);
    }

    /** One restore session (restore_get). */
    public AgentRestore restore(UUID restoreId) {
        return call(MessageType.RESTORE_GET, Map.of("id", restoreId.toString()), AgentRestore.class);
    }

    /** Closes a restore session's socket (restore_delete). */
    public void deleteRestore(UUID restoreId) {
        call(MessageType.RESTORE_DELETE, Map.of("id", restoreId.toString()));
    }

    /** Every region the agent has, detached ones too, read in pages. */
    public List<AgentRegion> regions() {
        return pages(MessageType.REGION_LIST, Map.of("include_detached", true), "regions", AgentRegion[].class);
    }

    /** Every restore session the agent has, read in pages. */
    public List<AgentRestore> restores() {
        return pages(MessageType.RESTORE_LIST, Map.of(), "restores", AgentRestore[].class);
    }

    /**
     * A list read page by page (PROTOCOL.md §1.3, "Lists in pages"), so that thousands of items
     * never make one reply beyond the frame limit. The agent decides how much fits a page; an
     * agent from before pages answers everything at once, without {@code next}.
     */
    private <T> List<T> pages(MessageType type, Map<String, Object> request, String key, Class<T[]> items) {
        List<T> all = new ArrayList<>();
        String after = "";
        while (true) {
            Map<String, Object> page = new HashMap<>(request);
            page.put("after", after);
            page.put("limit", LIST_PAGE_LIMIT);
            JsonNode reply = call(type, page);
            all.addAll(List.of(AgentJson.MAPPER.treeToValue(reply.path(key), items)));
            JsonNode next = reply.path("next");
            if (!next.isString()) {
                return all;
            }
            if (next.asString().compareTo(after) <= 0) {
                throw new AgentException("PROTOCOL", type + ": page after '" + after + "' named '" + next.asString()
                        + "' as the next, which does not come after it");
            }
            after = next.asString();
        }
    }

    /** Waits until the agent is in {@code state}; returns the status reached (which may be another on timeout). */
    public AgentStatus awaitState(AgentState state, Duration timeout) throws InterruptedException {
        return supervisor.awaitStatus(s -> s.state() == state, timeout);
    }

    public AgentStatus awaitStatus(Predicate<AgentStatus> condition, Duration timeout) throws InterruptedException {
        return supervisor.awaitStatus(condition, timeout);
    }
}
