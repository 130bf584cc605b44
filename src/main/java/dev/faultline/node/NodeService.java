package dev.faultline.node;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentStatus;
import dev.faultline.agent.NodeAgents;
import dev.faultline.agent.UffdCapabilities;
import dev.faultline.event.EventService;
import dev.faultline.DomainException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.UUID;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** The cluster's nodes: this instance's heartbeats for its own, and the list of all. */
@Service
public class NodeService implements LocalNodes, NodeStatus {

    private final NodeRepository nodes;
    private final NodeAgents agents;
    private final NodeProperties properties;
    private final Clock clock;
    private final EventService events;
    /** Identifies this service instance in the node table; new at every start. */
    private final String instanceId = UUID.randomUUID().toString();

    NodeService(NodeRepository nodes, NodeAgents agents, NodeProperties properties, Clock clock,
            EventService events) {
        this.nodes = nodes;
        this.events = events;
        this.agents = agents;
        this.properties = properties;
        this.clock = clock;
    }

    @Scheduled(fixedDelayString = "${faultline.nodes.heartbeat-interval:2s}")
    @Transactional
    public void heartbeat() {
        var now = clock.instant();
        for (AgentClient agent : agents.all()) {
            AgentStatus status = agent.status();
            Node node = nodes.findById(agent.node()).orElseGet(() -> new Node(agent.node(), now));
            if (node.heartbeat(instanceId, status, capabilities(status.userfaultfd()), now)) {
                events.publish("node.up", "node", node.name(), "node " + node.name() + " reports again (instance "
                        + instanceId + ")", Map.of("instance", instanceId));
            }
            nodes.save(node);
        }
    }

    @Override
    public Set<String> names() {
        return agents.all().stream().map(AgentClient::node).collect(Collectors.toUnmodifiableSet());
    }

    @Transactional(readOnly = true)
    public List<NodeView> list() {
        var now = clock.instant();
        return nodes.findAllByOrderByNameAsc().stream()
                .map(n -> n.view(instanceId, now, properties.downAfter())).toList();
    }

    @Override
    @Transactional(readOnly = true)
    public java.util.Optional<String> down(String node) {
        return node == null ? java.util.Optional.empty() : find(node)
                .filter(n -> n.state() == NodeView.State.DOWN)
                .map(n -> "node " + n.name() + " is DOWN (its instance last reported at " + n.lastHeartbeat() + ")");
    }

    @Transactional(readOnly = true)
    public java.util.Optional<NodeView> find(String name) {
        var now = clock.instant();
        return nodes.findById(name).map(n -> n.view(instanceId, now, properties.downAfter()));
    }

    @Transactional(readOnly = true)
    public NodeView get(String name) {
        var now = clock.instant();
        return nodes.findById(name).map(n -> n.view(instanceId, now, properties.downAfter()))
                .orElseThrow(() -> DomainException.notFound("node", name));
    }

    private static List<String> capabilities(UffdCapabilities uffd) {
        List<String> out = new ArrayList<>();
        if (uffd != null && uffd.available()) {
            out.addAll(uffd.features());
            if (uffd.pagemapScan()) {
                out.add("pagemap_scan");
            }
        }
        return out;
    }
}
