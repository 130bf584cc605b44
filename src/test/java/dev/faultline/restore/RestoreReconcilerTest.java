package dev.faultline.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.FaultlineProperties;
import dev.faultline.JpaSliceTest;
import dev.faultline.MutableClock;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.AgentRestore;
import dev.faultline.event.EventProperties;
import dev.faultline.event.EventService;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * How recorded restore sessions converge on what an agent reports, on the slice's real database:
 * adoption of what the service never recorded (a snapshot's session opened while it was down),
 * failure of what the agent lost, and closing on the agent of what ended here.
 */
@JpaSliceTest
@Import(RestoreReconcilerTest.Config.class)
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class RestoreReconcilerTest {

    static final String NODE = "node-a";
    static final Instant NOW = Instant.parse("2026-01-05T08:00:00Z");

    @TestConfiguration(proxyBeanMethods = false)
    @Import({RestoreReconciler.class, EventService.class})
    @EnableConfigurationProperties({FaultlineProperties.class, EventProperties.class})
    static class Config {
        @Bean
        MutableClock clock() {
            return new MutableClock(NOW);
        }
    }

    @Autowired
    RestoreReconciler reconciler;

    @Autowired
    RestoreRepository sessions;

    @Autowired
    EventService events;

    private final List<UUID> closedOnAgent = new ArrayList<>();

    @Test
    void aSnapshotsSessionTheServiceNeverRecordedIsAdoptedWithItsSnapshotAndListed() {
        UUID snapshot = UUID.randomUUID();
        AgentRestore onAgent = agentSession(UUID.randomUUID(), "db-yesterday", snapshot, "WAITING", null);

        reconciler.reconcile(NODE, List.of(onAgent), Set.of(), closedOnAgent::add);

        RestoreSession adopted = sessions.findById(onAgent.id()).orElseThrow();
        assertThat(adopted.snapshotId()).isEqualTo(snapshot);
        assertThat(adopted.state()).isEqualTo(RestoreState.WAITING);
        assertThat(adopted.node()).isEqualTo(NODE);
        assertThat(adopted.name()).isEqualTo("db-yesterday");
        assertThat(adopted.labels()).isEqualTo(Map.of("app", "db"));
        assertThat(adopted.imagePath()).isEqualTo("/state/snaprestore/" + onAgent.id() + ".mem");
        assertThat(adopted.socket()).isEqualTo("/state/restore/" + onAgent.id() + ".sock");
        assertThat(adopted.faultAroundPages()).isEqualTo(16);
        assertThat(events.recent(10, "restore", onAgent.id().toString()))
                .anySatisfy(e -> assertThat(e.kind()).isEqualTo("restore.adopted"));
        assertThat(closedOnAgent).isEmpty();

        // the next round leaves it as it is
        reconciler.reconcile(NODE, List.of(onAgent), Set.of(), closedOnAgent::add);
        assertThat(sessions.findById(onAgent.id()).orElseThrow().state()).isEqualTo(RestoreState.WAITING);
    }

    @Test
    void aSessionBeingOpenedThroughThisServiceIsNotAdoptedUnderIt() {
        AgentRestore onAgent = agentSession(UUID.randomUUID(), "opening", null, "WAITING", null);

        reconciler.reconcile(NODE, List.of(onAgent), Set.of(onAgent.id()), closedOnAgent::add);

        assertThat(sessions.findById(onAgent.id())).isEmpty();
    }

    @Test
    void aSessionBeingClosedThroughThisServiceIsNotFailedWhenTheAgentHasJustLetItGo() {
        AgentRestore was = agentSession(UUID.randomUUID(), "closing", null, "WAITING", null);
        reconciler.adopt(NODE, was, false);

        reconciler.reconcile(NODE, List.of(), Set.of(was.id()), closedOnAgent::add);

        assertThat(sessions.findById(was.id()).orElseThrow().state()).isEqualTo(RestoreState.WAITING);
    }

    @Test
    void aRecordedSessionTheAgentNoLongerHasFailsWithTheReason() {
        AgentRestore was = agentSession(UUID.randomUUID(), "lost", UUID.randomUUID(), "ACTIVE", null);
        reconciler.adopt(NODE, was, false);

        reconciler.reconcile(NODE, List.of(), Set.of(), closedOnAgent::add);

        RestoreSession failed = sessions.findById(was.id()).orElseThrow();
        assertThat(failed.state()).isEqualTo(RestoreState.FAILED);
        assertThat(failed.error()).isEqualTo(RestoreReconciler.MISSING);
    }

    @Test
    void aSessionThatFailedOnTheAgentIsRecordedFailedAndThenClosedThereSoItsFilesGo() {
        AgentRestore open = agentSession(UUID.randomUUID(), "breaks", UUID.randomUUID(), "WAITING", null);
        reconciler.adopt(NODE, open, false);
        AgentRestore broken = agentSession(open.id(), "breaks", open.snapshotId(), "FAILED", "the image changed");

        reconciler.reconcile(NODE, List.of(broken), Set.of(), closedOnAgent::add);

        RestoreSession failed = sessions.findById(open.id()).orElseThrow();
        assertThat(failed.state()).isEqualTo(RestoreState.FAILED);
        assertThat(failed.error()).isEqualTo("the image changed");
        assertThat(closedOnAgent).containsExactly(open.id());
    }

    @Test
    void aClosedSessionTheAgentStillHoldsIsClosedThereAndARefusalIsTriedAgainLater() {
        AgentRestore open = agentSession(UUID.randomUUID(), "closed", null, "ACTIVE", null);
        reconciler.adopt(NODE, open, false);
        RestoreSession s = sessions.findById(open.id()).orElseThrow();
        s.close(NOW);
        sessions.save(s);
        List<UUID> refused = new ArrayList<>();

        reconciler.reconcile(NODE, List.of(open), Set.of(), id -> {
            refused.add(id);
            throw new AgentException("CONFLICT", "region is still being restored; detach it first");
        });
        reconciler.reconcile(NODE, List.of(open), Set.of(), closedOnAgent::add);

        assertThat(refused).containsExactly(open.id());
        assertThat(closedOnAgent).containsExactly(open.id());
        assertThat(sessions.findById(open.id()).orElseThrow().state()).isEqualTo(RestoreState.CLOSED);
    }

    @Test
    void aChangeEventFollowsARecordedSessionAndAdoptsAnUnknownOne() {
        AgentRestore open = agentSession(UUID.randomUUID(), "followed", null, "WAITING", null);
        reconciler.adopt(NODE, open, false);

        reconciler.observe(NODE, agentSession(open.id(), "followed", null, "ACTIVE", null), Set.of());
        AgentRestore unknown = agentSession(UUID.randomUUID(), "found", UUID.randomUUID(), "WAITING", null);
        reconciler.observe(NODE, unknown, Set.of());

        assertThat(sessions.findById(open.id()).orElseThrow().state()).isEqualTo(RestoreState.ACTIVE);
        assertThat(sessions.findById(unknown.id()).orElseThrow().snapshotId()).isEqualTo(unknown.snapshotId());
    }

    @Test
    void aSessionTheAgentDeletedFailsUnlessThisServiceIsClosingIt() {
        AgentRestore lost = agentSession(UUID.randomUUID(), "lost", null, "ACTIVE", null);
        AgentRestore closing = agentSession(UUID.randomUUID(), "closing", null, "ACTIVE", null);
        reconciler.adopt(NODE, lost, false);
        reconciler.adopt(NODE, closing, false);

        reconciler.lost(NODE, lost.id(), Set.of());
        reconciler.lost(NODE, closing.id(), Set.of(closing.id()));
        reconciler.lost("node-b", lost.id(), Set.of());

        RestoreSession failed = sessions.findById(lost.id()).orElseThrow();
        assertThat(failed.state()).isEqualTo(RestoreState.FAILED);
        assertThat(failed.error()).isEqualTo(RestoreReconciler.MISSING);
        assertThat(sessions.findById(closing.id()).orElseThrow().state()).isEqualTo(RestoreState.ACTIVE);
    }

    @Test
    void recordingASessionTwiceKeepsTheFirstRecord() {
        AgentRestore open = agentSession(UUID.randomUUID(), "twice", UUID.randomUUID(), "WAITING", null);

        reconciler.adopt(NODE, open, true);
        reconciler.adopt(NODE, agentSession(open.id(), "renamed", null, "ACTIVE", null), false);

        RestoreSession s = sessions.findById(open.id()).orElseThrow();
        assertThat(s.name()).isEqualTo("twice");
        assertThat(s.snapshotId()).isEqualTo(open.snapshotId());
    }

    private static AgentRestore agentSession(UUID id, String name, UUID snapshotId, String state, String error) {
        return new AgentRestore(id, name, new AgentRestore.Image("/state/snaprestore/" + id + ".mem", 8L << 20),
                "/state/restore/" + id + ".sock", state, NOW.minusSeconds(60),
                new AgentRestore.Options(16, 1000, "auto"), List.of(), null, new AgentRegion.Pages(0, 0), null, error,
                snapshotId, Map.of("app", "db"), "copy", null, null);
    }
}
