package dev.faultline.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.ServiceTest;
import dev.faultline.workload.OffHeapRegion;
import dev.faultline.workload.Workload;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A service that stops reading its control connection makes the real agent drop events for it
 * (PROTOCOL.md §1.11); once it reads again it sees the gap in the numbers and reads the full
 * state, which has what the lost events said.
 */
class EventGapTest extends ServiceTest {

    /** Four events each (attached, complete, detaching, detached): beyond what is buffered for a subscriber. */
    private static final int CYCLES = 150;

    @Test
    void eventsLostWhileTheServiceDidNotReadAreNoticedAndTheFullStateIsReadAgain() throws Exception {
        // the agent may have just been replaced by an earlier test of this context: subscribed again soon
        Await.until("the agent's change events", Duration.ofSeconds(15), agent::pushesChanges, Boolean::booleanValue);
        long gaps = agent.eventGaps();
        long resyncs = agent.resyncs();
        String app = "gap-" + UUID.randomUUID().toString().substring(0, 8);
        try (Workload workload = Workload.connect(Path.of(agent.status().handoffSocket()))) {
            OffHeapRegion kept;
            // short: the supervisor's pings wait behind the held reader (ping timeout 5 s)
            try (AutoCloseable held = agent.holdReading()) {
                // all mapped at once: a range is free again only once its release completed
                java.util.List<OffHeapRegion> cycle = new java.util.ArrayList<>();
                for (int i = 0; i < CYCLES; i++) {
                    cycle.add(workload.allocate(app + "-" + i, 4096, Map.of("app", app)));
                }
                cycle.forEach(OffHeapRegion::close);
                kept = workload.allocate(app + "-kept", 4096, Map.of("app", app));
            }
            Await.until("the service to notice lost events", Duration.ofSeconds(10), agent::eventGaps, g -> g > gaps);
            // the full read follows the gap on the delivery thread, after the listeners before it
            Await.until("the full read after the gap", Duration.ofSeconds(10), agent::resyncs, n -> n > resyncs);
            Await.until("the region registered while events were lost, ATTACHED in the API", Duration.ofSeconds(10),
                    () -> admin().get("/api/v1/regions/" + kept.id()),
                    r -> r.status() == 200 && "ATTACHED".equals(r.json().path("state").asString()));
            assertThat(agent.status().state()).isEqualTo(AgentState.READY);
            String id = kept.id();
            kept.close();
            // the backlog of this test's changes is applied by then
            Await.until("the last region DETACHED in the API", Duration.ofSeconds(30),
                    () -> admin().get("/api/v1/regions/" + id).json(), r -> "DETACHED".equals(r.path("state").asString()));
        }
    }
}
