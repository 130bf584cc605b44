package dev.faultline.agent;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

/**
 * The change events of one node's agent, in order, with the gap check of PROTOCOL.md §1.11:
 * each event's number must follow the last one; when it does not, events were lost and the
 * listeners rebuild their copy with a full read. Changes queue up and are handed over in
 * batches on one delivery thread; a full read makes the changes queued before it moot, so
 * they are dropped. One stream lives as long as the supervisor; {@link #connected} starts the
 * numbering of each new connection.
 */
final class AgentEventStream {

    private static final Logger log = LoggerFactory.getLogger(AgentEventStream.class);
    private static final int BATCH = 512;
    private static final Object RESYNC = new Object();

    private record RestoreChange(UUID id, boolean deleted) {
    }

    private final List<AgentChangeListener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService deliver;
    private final Queue<Object> pending = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicLong resyncs = new AtomicLong();
    private final AtomicLong gaps = new AtomicLong();
    private final AtomicLong divergences = new AtomicLong();
    private volatile AgentClient client;
    /** The connection whose events count; events of an older one are dropped. */
    private volatile Object current;
    private volatile long lastSeq;

    AgentEventStream(ExecutorService deliver) {
        this.deliver = deliver;
    }

    void bind(AgentClient client) {
        this.client = client;
    }

    void add(AgentChangeListener listener, boolean live) {
        listeners.add(listener);
        if (live) { // it missed the last full read: give it one
            enqueue((Consumer<AgentChangeListener>) l -> {
                if (l == listener) {
                    l.resync(client);
                }
            });
        }
    }

    /** A new subscription on {@code connection}, at sequence {@code seq}: every listener re-reads. */
    void connected(Object connection, long seq) {
        lastSeq = seq;
        current = connection;
        resyncAll();
    }

    /** Events stop counting (the connection is gone, or the agent has none). */
    void disconnected() {
        current = null;
    }

    boolean active() {
        return current != null;
    }

    long resyncs() {
        return resyncs.get();
    }

    long gaps() {
        return gaps.get();
    }

    long divergences() {
        return divergences.get();
    }

    /**
     * A ping's reply (PROTOCOL.md §1.3, ping), on the connection's reader thread: the events up
     * to its {@code seq} came before it. Once they are all applied (nothing queued or being
     * delivered), each listener's count of regions must be the agent's; when one is not, its copy
     * lost or gained something no gap showed, and every listener reads the full state again.
     */
    void audit(Object connection, JsonNode ping) {
        if (connection != current || !ping.path("seq").isIntegralNumber() || !ping.path("regions").isIntegralNumber()
                || draining.get() || !pending.isEmpty() || ping.path("seq").asLong() != lastSeq) {
            return;
        }
        long agentRegions = ping.path("regions").asLong();
        for (AgentChangeListener l : listeners) {
            long mine = l.attachedRegions(client);
            if (mine >= 0 && mine != agentRegions) {
                divergences.incrementAndGet();
                log.warn("node {}: the agent serves {} regions, this service's copy has {} after every event up to"
                        + " seq {}; reading its full state", node(), agentRegions, mine, lastSeq);
                resyncAll();
                return;
            }
        }
    }

    /** On the connection's reader thread, in the agent's order. */
    void onEvent(Object connection, JsonNode event) {
        if (connection != current) {
            return;
        }
        long seq = event.path("seq").asLong(-1);
        String kind = event.path("kind").asString("");
        boolean sequence = "sequence".equals(kind);
        boolean lost = sequence ? seq != lastSeq : seq != lastSeq + 1;
        if (seq >= 0) {
            lastSeq = sequence ? seq : Math.max(lastSeq, seq);
        }
        if (lost) {
            gaps.incrementAndGet();
            log.info("node {}: agent events lost before seq {}; reading its full state", node(), seq);
            resyncAll();
            if (sequence) {
                return;
            }
        }
        switch (kind) {
            case "region_attached", "region_state" -> region(event.path("region"), false);
            case "region_stats" -> event.path("regions").forEach(r -> region(r, true));
            case "restore_changed", "restore_deleted" -> restore(event.path("id").asString(null),
                    "restore_deleted".equals(kind));
            default -> {
                // "sequence", or a kind newer than this service: the numbers already said what matters
            }
        }
    }

    private void region(JsonNode node, boolean statisticsOnly) {
        try {
            enqueue(new AgentChangeListener.RegionChange(AgentJson.MAPPER.treeToValue(node, AgentRegion.class),
                    statisticsOnly));
        } catch (RuntimeException e) {
            log.warn("node {}: unreadable region in an agent event: {}", node(), e.getMessage());
        }
    }

    private void restore(String id, boolean deleted) {
        try {
            enqueue(new RestoreChange(UUID.fromString(id), deleted));
        } catch (RuntimeException notOurs) {
            // a session not named by this service
        }
    }

    /** Everything queued so far is older than the full read about to happen: dropped. */
    private void resyncAll() {
        resyncs.incrementAndGet();
        pending.clear();
        enqueue(RESYNC);
    }

    private void enqueue(Object item) {
        pending.add(item);
        schedule();
    }

    private void schedule() {
        if (!pending.isEmpty() && draining.compareAndSet(false, true)) {
            try {
                deliver.execute(this::drain);
            } catch (RejectedExecutionException stopped) {
                draining.set(false); // the service is stopping
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void drain() {
        try {
            while (true) {
                List<AgentChangeListener.RegionChange> batch = new ArrayList<>();
                while (batch.size() < BATCH && pending.peek() instanceof AgentChangeListener.RegionChange c) {
                    pending.poll();
                    batch.add(c);
                }
                if (!batch.isEmpty()) {
                    each(l -> l.regionsChanged(client, batch));
                    continue;
                }
                Object item = pending.poll();
                if (item == null) {
                    return;
                }
                if (item == RESYNC) {
                    each(l -> l.resync(client));
                } else if (item instanceof RestoreChange r) {
                    each(l -> l.restoreChanged(client, r.id(), r.deleted()));
                } else if (item instanceof Consumer<?> one) {
                    each((Consumer<AgentChangeListener>) one);
                }
            }
        } finally {
            draining.set(false);
            schedule();
        }
    }

    private void each(Consumer<AgentChangeListener> call) {
        for (AgentChangeListener l : listeners) {
            try {
                call.accept(l);
            } catch (RuntimeException e) {
                // one listener's failure must not stop the others or later changes; a full read repairs it
                log.warn("node {}: applying agent changes failed: {}", node(), e.toString());
            }
        }
    }

    private String node() {
        AgentClient c = client;
        return c == null ? "?" : c.node();
    }
}
