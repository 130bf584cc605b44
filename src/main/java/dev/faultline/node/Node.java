package dev.faultline.node;

import dev.faultline.agent.AgentStatus;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/** A node as the cluster sees it: kept fresh by the instance that manages its agent. */
@Entity
@Table(name = "node")
class Node {

    @Id
    private String name;

    @Column(name = "instance_id", nullable = false)
    private String instanceId;

    @Column(name = "page_channel")
    private String pageChannel;

    @Column(name = "agent_state", nullable = false)
    private String agentState;

    @Column(name = "agent_version")
    private String agentVersion;

    @Column(name = "agent_pid")
    private Long agentPid;

    @Column(nullable = false)
    private String capabilities;

    @Column(name = "last_heartbeat", nullable = false)
    private Instant lastHeartbeat;

    @Column(name = "registered_at", nullable = false)
    private Instant registeredAt;

    /** When the dead-node duty noticed the node stopped reporting; null while it reports. */
    @Column(name = "down_since")
    private Instant downSince;

    protected Node() {
    }

    Node(String name, Instant now) {
        this.name = name;
        this.registeredAt = now;
    }

    /**
     * The managing instance reports its agent; a node taken over from another instance changes
     * hands here. Answers whether the node was DOWN until now.
     */
    boolean heartbeat(String instance, AgentStatus agent, List<String> capabilities, Instant now) {
        this.instanceId = instance;
        this.pageChannel = agent.pageChannel();
        this.agentState = agent.state().name();
        this.agentVersion = agent.version();
        this.agentPid = agent.pid();
        this.capabilities = String.join(",", capabilities);
        this.lastHeartbeat = now;
        boolean wasDown = downSince != null;
        this.downSince = null;
        return wasDown;
    }

    void markDown(Instant now) {
        if (downSince != null) {
            throw new IllegalStateException("node " + name + " is already DOWN since " + downSince);
        }
        downSince = now;
    }

    String name() {
        return name;
    }

    Instant lastHeartbeat() {
        return lastHeartbeat;
    }

    Instant downSince() {
        return downSince;
    }

    NodeView view(String thisInstance, Instant now, Duration downAfter) {
        boolean up = downSince == null && Duration.between(lastHeartbeat, now).compareTo(downAfter) <= 0;
        return new NodeView(name, thisInstance.equals(instanceId), up ? NodeView.State.UP : NodeView.State.DOWN,
                lastHeartbeat, new NodeView.Agent(agentState, agentVersion, agentPid),
                new NodeView.PageChannel(pageChannel),
                capabilities.isEmpty() ? List.of() : Arrays.asList(capabilities.split(",")));
    }
}
