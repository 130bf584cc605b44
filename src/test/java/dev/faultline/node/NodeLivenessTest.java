package dev.faultline.node;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.FaultlineProperties;
import dev.faultline.JpaSliceTest;
import dev.faultline.MutableClock;
import dev.faultline.agent.AgentMode;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.AgentStatus;
import dev.faultline.event.EventProperties;
import dev.faultline.event.EventService;
import dev.faultline.event.EventView;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

@JpaSliceTest
@Import(NodeLivenessTest.Config.class)
class NodeLivenessTest {

    static final Instant START = Instant.parse("2026-03-02T10:00:00Z");

    @TestConfiguration(proxyBeanMethods = false)
    @Import({NodeLiveness.class, EventService.class})
    @EnableConfigurationProperties({NodeProperties.class, EventProperties.class, FaultlineProperties.class})
    static class Config {

        @Bean
        MutableClock clock() {
            return new MutableClock(START);
        }

        @Bean
        RecordingHandler recordingHandler() {
            return new RecordingHandler();
        }
    }

    static class RecordingHandler implements NodeDownHandler {
        final List<String> calls = new CopyOnWriteArrayList<>();

        @Override
        public void nodeDown(String node, Instant lastHeartbeat, String reason) {
            calls.add(node + "|" + lastHeartbeat + "|" + reason);
        }
    }

    @Autowired
    NodeLiveness liveness;

    @Autowired
    NodeRepository nodes;

    @Autowired
    MutableClock clock;

    @Autowired
    RecordingHandler handler;

    @Autowired
    EventService events;

    @Test
    void aNodeThatStopsReportingIsMarkedDownOnceItsJobsAreHandedToTheHandlersAndItsNextHeartbeatBringsItBack() {
        nodes.save(reported(new Node("a", START), "instance-1", START));
        nodes.save(reported(new Node("b", START), "instance-2", START));

        clock.advance(Duration.ofSeconds(9));
        nodes.save(reported(nodes.findById("a").orElseThrow(), "instance-1", clock.instant()));
        assertThat(liveness.markDeadNodes()).as("within down-after (10s) nothing is down").isZero();

        clock.advance(Duration.ofSeconds(2));
        assertThat(liveness.markDeadNodes()).isEqualTo(1);
        assertThat(handler.calls).containsExactly("b|" + START + "|node b stopped reporting at " + START);
        assertThat(nodes.findById("b").orElseThrow().view("instance-1", clock.instant(), Duration.ofSeconds(10))
                .state()).isEqualTo(NodeView.State.DOWN);
        assertThat(events.recent(10, "node", "b")).extracting(EventView::kind).containsExactly("node.down");

        clock.advance(Duration.ofSeconds(5));
        assertThat(liveness.markDeadNodes()).as("an outage is handled once").isZero();
        assertThat(handler.calls).hasSize(1);

        Node b = nodes.findById("b").orElseThrow();
        assertThat(b.heartbeat("instance-3", status(), List.of(), clock.instant())).as("it was down").isTrue();
        nodes.save(b);
        assertThat(b.view("instance-3", clock.instant(), Duration.ofSeconds(10)).state()).isEqualTo(NodeView.State.UP);
        assertThat(liveness.markDeadNodes()).isZero();
    }

    private static Node reported(Node node, String instance, Instant at) {
        node.heartbeat(instance, status(), List.of("wp_async"), at);
        return node;
    }

    private static AgentStatus status() {
        return new AgentStatus(AgentState.READY, AgentMode.EMBEDDED, "/run/agent.sock", 42L, "0.1.0", 1, 0, START,
                null, null, null, null, null, null);
    }
}
