package dev.faultline.node;

import dev.faultline.event.EventService;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import net.javacrumbs.shedlock.spring.annotation.SchedulerLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The dead-node duty: a node whose heartbeat is older than {@code faultline.nodes.down-after} is
 * marked DOWN once (node.down event), and every {@link NodeDownHandler} marks that node's
 * unfinished jobs. Runs on one instance at a time (ShedLock); the {@code down_since} column makes
 * a second run, or a run on another instance right after, a no-op.
 */
@Component
public class NodeLiveness {

    private static final Logger log = LoggerFactory.getLogger(NodeLiveness.class);

    private final NodeRepository nodes;
    private final NodeProperties properties;
    private final List<NodeDownHandler> handlers;
    private final EventService events;
    private final Clock clock;
    private final TransactionTemplate tx;

    NodeLiveness(NodeRepository nodes, NodeProperties properties, List<NodeDownHandler> handlers,
            EventService events, Clock clock, PlatformTransactionManager transactions) {
        this.tx = new TransactionTemplate(transactions);
        this.nodes = nodes;
        this.properties = properties;
        this.handlers = handlers;
        this.events = events;
        this.clock = clock;
    }

    // Not at the heartbeat's pace: each run takes the cluster lock (two row updates) and reads
    // the node table, and DOWN is a matter of down-after (10 s), so every 5 s is plenty.
    @Scheduled(fixedDelayString = "${faultline.nodes.liveness-interval:5s}",
            initialDelayString = "${faultline.nodes.liveness-interval:5s}")
    @SchedulerLock(name = "node-liveness", lockAtMostFor = "PT1M", lockAtLeastFor = "PT1S")
    public Integer markDeadNodes() { // boxed: ShedLock returns null when another instance holds the duty
        // The transaction starts inside the lock: ShedLock's row must commit on its own, visible to the others.
        return tx.execute(status -> markDeadNodes(clock.instant()));
    }

    private int markDeadNodes(Instant now) {
        List<Node> stale = nodes.findByLastHeartbeatBeforeAndDownSinceIsNull(now.minus(properties.downAfter()));
        for (Node node : stale) {
            node.markDown(now);
            String reason = "node " + node.name() + " stopped reporting at " + node.lastHeartbeat();
            log.warn("{}; marking its unfinished jobs", reason);
            events.publish("node.down", "node", node.name(), reason,
                    Map.of("lastHeartbeat", node.lastHeartbeat().toString()));
            handlers.forEach(h -> h.nodeDown(node.name(), node.lastHeartbeat(), reason));
        }
        return stale.size();
    }
}
