package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.ServiceTest;
import dev.faultline.workload.OffHeapRegion;
import dev.faultline.workload.Workload;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * More workloads than the agent's old fixed limit of 64, each on its own handoff connection,
 * through the embedded agent that the service started with {@code faultline.agent.max-clients}.
 */
class DensityTest extends ServiceTest {

    private static final int WORKLOADS = 80;

    @Test
    void theHostReportsTheConfiguredClientLimitAndTheDescriptorsBehindIt() {
        JsonNode limits = admin().get("/api/v1/host").json().at("/agent/limits");

        assertThat(limits.path("maxClients").asLong()).isEqualTo(300);
        assertThat(limits.path("openFiles").asLong()).isGreaterThan(4 * 300);
    }

    @Test
    void moreWorkloadsThanTheOldLimitOf64RegisterAndAllAppearInTheApi() {
        String app = "density-" + UUID.randomUUID().toString().substring(0, 8);
        List<Workload> workloads = new ArrayList<>();
        List<OffHeapRegion> regions = new ArrayList<>();
        try {
            Path handoff = Path.of(agent.status().handoffSocket());
            for (int i = 0; i < WORKLOADS; i++) {
                Workload workload = Workload.connect(handoff); // one connection each, like one process each
                workloads.add(workload);
                regions.add(workload.allocate(app + "-" + i, 64 << 10, Map.of("app", app)));
            }
            Set<String> registered = new HashSet<>();
            regions.forEach(r -> registered.add(r.id()));

            JsonNode page = Await.until("all " + WORKLOADS + " regions to be listed", Duration.ofSeconds(20),
                    () -> admin().get("/api/v1/regions?selector=app%3D" + app + "&size=100").json(),
                    p -> p.path("totalItems").asInt() == WORKLOADS);
            Set<String> listed = new HashSet<>();
            page.path("items").forEach(r -> listed.add(r.path("id").asString()));
            assertThat(listed).isEqualTo(registered);

            // without a selector the database pages: one page of ten, the total counted there
            JsonNode firstTen = admin().get("/api/v1/regions?state=ATTACHED&size=10").json();
            assertThat(firstTen.path("items").size()).isEqualTo(10);
            assertThat(firstTen.path("totalItems").asInt()).isGreaterThanOrEqualTo(WORKLOADS);
            List<java.time.Instant> attachedAt = new ArrayList<>();
            firstTen.path("items").forEach(r -> {
                assertThat(r.path("state").asString()).isEqualTo("ATTACHED");
                attachedAt.add(java.time.Instant.parse(r.path("attachedAt").asString()));
            });
            assertThat(attachedAt).as("newest first").isSortedAccordingTo(java.util.Comparator.reverseOrder());

            // the overview's totals, counted by the database
            JsonNode totals = admin().get("/api/v1/regions/totals").json();
            assertThat(totals.path("attached").asLong()).isGreaterThanOrEqualTo(WORKLOADS);
            assertThat(totals.path("total").asLong()).isGreaterThanOrEqualTo(totals.path("attached").asLong());
            assertThat(totals.path("bytesAttached").asLong()).isGreaterThanOrEqualTo(WORKLOADS * (64L << 10));
        } finally {
            regions.forEach(OffHeapRegion::close);
            workloads.forEach(Workload::close);
        }
    }
}
