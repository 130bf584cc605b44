package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentException;
import dev.faultline.workload.OffHeapRegion;
import dev.faultline.workload.Workload;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * The service learns of attaches and detaches from the events its agent pushes
 * (PROTOCOL.md §1.11), not by reading every region again.
 */
class ChangeEventsTest extends ServiceTest {

    @Autowired
    RegionService regions;

    @Test
    void anAttachAndADetachShowUpInTheApiWithinASecondWithoutAFullRead() {
        // the agent may have just been replaced by an earlier test of this context: subscribed again
        // soon, and the full read of that (re)connect queued ahead of every event that follows
        Await.until("the embedded agent's change events", Duration.ofSeconds(15), agent::pushesChanges,
                Boolean::booleanValue);
        String name = "events-" + UUID.randomUUID().toString().substring(0, 8);
        try (Workload workload = Workload.connect(Path.of(agent.status().handoffSocket()))) {
            // a first region through the same queue: once it is in the API, that full read is done
            OffHeapRegion first = workload.allocate(name + "-first", 64 << 10, Map.of("app", name));
            Await.until("the first region in the API", Duration.ofSeconds(15),
                    () -> admin().get("/api/v1/regions/" + first.id()), r -> r.status() == 200);
            long fullReads = regions.fullSyncs();
            OffHeapRegion region = workload.allocate(name, 64 << 10, Map.of("app", name));
            Await.until("the attached region in the API", Duration.ofSeconds(1),
                    () -> admin().get("/api/v1/regions/" + region.id()), r -> r.status() == 200);
            String id = region.id();
            region.close();
            TestApi.Response detached = Await.until("the region DETACHED in the API", Duration.ofSeconds(1),
                    () -> admin().get("/api/v1/regions/" + id), r -> "DETACHED".equals(r.json().path("state").asString()));
            assertThat(detached.json().path("name").asString()).isEqualTo(name);
            assertThat(regions.fullSyncs()).as("full reads of the agent's regions meanwhile").isEqualTo(fullReads);
            first.close();
        }
    }

    @Test
    void aFullReadThatFailsIsDoneAgainAtTheNextSync() {
        Await.until("the embedded agent's change events", Duration.ofSeconds(15), agent::pushesChanges,
                Boolean::booleanValue);
        // the full read after a (re)connect or a gap, while the agent is too busy to answer in time
        AgentClient busy = Mockito.spy(agent);
        Mockito.doThrow(new AgentException("TIMEOUT", "no answer in time")).when(busy).regions();
        long fullReads = regions.fullSyncs();

        regions.resync(busy);

        assertThat(regions.owesFullRead(agent.node())).isTrue();
        assertThat(regions.fullSyncs()).isEqualTo(fullReads);
        // the events queued before it were dropped: only a full read brings their changes back
        Await.until("the owed full read, done by the sync of every second", Duration.ofSeconds(10),
                () -> regions.owesFullRead(agent.node()), owed -> !owed);
        assertThat(regions.fullSyncs()).isGreaterThan(fullReads);
    }
}
