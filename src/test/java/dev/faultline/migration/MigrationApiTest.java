package dev.faultline.migration;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.workload.OffHeapRegion;
import dev.faultline.workload.Workload;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The migrations API end to end on the real service with its two nodes: the requests that are
 * refused before any agent is asked, with their statuses and problem types.
 */
class MigrationApiTest extends ServiceTest {

    private static final String PROBLEMS = "https://faultline.dev/problems/";

    @Test
    void aRegionTheServiceDoesNotKnowIsANotFoundProblem() {
        String region = UUID.randomUUID().toString();

        TestApi.Response r = admin().post("/api/v1/migrations", map("regionId", region, "destinationNode", SECOND_NODE));

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.isProblem()).isTrue();
        assertThat(r.json().path("type").asString()).isEqualTo(PROBLEMS + "not-found");
        assertThat(r.json().path("detail").asString()).isEqualTo("region '" + region + "' does not exist");
    }

    @Test
    void theDestinationMustBeAnotherNodeThatExists() {
        try (Workload workload = Workload.connect(Path.of(agent.status().handoffSocket()));
                OffHeapRegion memory = workload.allocate("api-" + UUID.randomUUID().toString().substring(0, 8),
                        1 << 20, Map.of("suite", "migration-api"))) {
            Await.until("the region to be listed", Duration.ofSeconds(15),
                    () -> admin().get("/api/v1/regions/" + memory.id()), r -> r.status() == 200);

            TestApi.Response same = admin().post("/api/v1/migrations",
                    map("regionId", memory.id(), "destinationNode", "node-a"));
            assertThat(same.status()).isEqualTo(422);
            assertThat(same.json().path("type").asString()).isEqualTo(PROBLEMS + "unprocessable");
            assertThat(same.json().path("detail").asString()).contains("already on node node-a");

            TestApi.Response nowhere = admin().post("/api/v1/migrations",
                    map("regionId", memory.id(), "destinationNode", "node-z"));
            assertThat(nowhere.status()).isEqualTo(404);
            assertThat(nowhere.json().path("detail").asString()).isEqualTo("node 'node-z' does not exist");

            TestApi.Response tooSlow = admin().post("/api/v1/migrations", map("regionId", memory.id(),
                    "destinationNode", SECOND_NODE, "options", map("bandwidthLimitBytesPerSec", 100)));
            assertThat(tooSlow.status()).isEqualTo(422);
            assertThat(tooSlow.json().path("detail").asString()).contains("at least one page");

            assertThat(admin().get("/api/v1/migrations?regionId=" + memory.id()).json().path("totalItems").asLong())
                    .as("nothing was recorded").isZero();
        }
    }

    @Test
    void badOptionsNameTheirFields() {
        TestApi.Response r = admin().post("/api/v1/migrations", map("regionId", UUID.randomUUID().toString(),
                "destinationNode", SECOND_NODE, "options", map("maxDowntimeMs", -1, "postcopy", "later",
                        "bandwidth", 5, "compress", "lz4", "autoConverge", "on", "skipUnchanged", 0,
                        "pushConnections", 1.5)));

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("type").asString()).isEqualTo(PROBLEMS + "validation");
        assertThat(r.json().path("errors").findValuesAsString("field"))
                .containsExactlyInAnyOrder("options.maxDowntimeMs", "options.postcopy", "options.knownFieldsOnly",
                        "options.compress", "options.autoConverge", "options.skipUnchanged",
                        "options.pushConnections");
    }

    @Test
    void jobsAreListedAndAnUnknownJobIsNotFound() {
        JsonNode page = admin().get("/api/v1/migrations?phase=COMPLETED&page=0&size=5").json();
        assertThat(page.has("items")).isTrue();
        assertThat(page.path("size").asInt()).isEqualTo(5);

        UUID unknown = UUID.randomUUID();
        assertThat(admin().get("/api/v1/migrations/" + unknown).status()).isEqualTo(404);
        TestApi.Response cancel = admin().post("/api/v1/migrations/" + unknown + "/cancel", map());
        assertThat(cancel.status()).isEqualTo(404);
        assertThat(cancel.json().path("type").asString()).isEqualTo(PROBLEMS + "not-found");
    }

    @Test
    void theApiDocumentDescribesTheMigrationEndpoints() {
        JsonNode doc = anonymous().get("/v3/api-docs").json();

        assertThat(doc.at("/paths/~1api~1v1~1migrations/post").isObject()).isTrue();
        assertThat(doc.at("/paths/~1api~1v1~1migrations~1{id}~1start-postcopy/post").isObject()).isTrue();
        assertThat(doc.at("/paths/~1api~1v1~1migrations~1{id}~1cancel/post/tags/0").asString()).isEqualTo("Migrations");
        assertThat(doc.at("/components/schemas/CreateMigrationRequest/properties/options/$ref").asString())
                .as("the migration's own options, not the restore's").isEqualTo("#/components/schemas/MigrationRequestOptions");
        JsonNode connections = doc.at("/components/schemas/MigrationRequestOptions/properties/pushConnections");
        assertThat(connections.path("type").asString()).as("a generated client sends a number").isEqualTo("integer");
        assertThat(connections.path("minimum").asInt()).isEqualTo(1);
        assertThat(connections.path("maximum").asInt()).isEqualTo(8);
        assertThat(connections.path("default").asInt()).isEqualTo(1);
        assertThat(doc.at("/components/schemas/MigrationRequestOptions/properties/skipUnchanged/type").asString())
                .isEqualTo("boolean");
    }
}
