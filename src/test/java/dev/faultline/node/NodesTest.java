package dev.faultline.node;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class NodesTest extends ServiceTest {

    @Test
    void bothNodesOfThisInstanceAreListedUpWithTheirAgentsAndCapabilities() {
        JsonNode list = Await.until("two nodes with READY agents", Duration.ofSeconds(10),
                () -> admin().get("/api/v1/nodes").json(),
                n -> n.size() == 2 && n.get(0).at("/agent/state").asString().equals("READY")
                        && n.get(1).at("/agent/state").asString().equals("READY"));

        assertThat(list.findValuesAsString("name")).containsExactly("node-a", SECOND_NODE);
        for (JsonNode node : list) {
            assertThat(node.path("local").asBoolean()).isTrue();
            assertThat(node.path("state").asString()).isEqualTo("UP");
            assertThat(node.at("/agent/version").asString()).isEqualTo("0.1.0");
            assertThat(node.path("capabilities").toString()).contains("\"wp_async\"", "\"pagemap_scan\"");
        }
        assertThat(admin().get("/api/v1/nodes/" + SECOND_NODE).json().path("name").asString()).isEqualTo(SECOND_NODE);
        assertThat(admin().get("/api/v1/nodes/nowhere").status()).isEqualTo(404);
        assertThat(admin().get("/actuator/health").json().at("/components/agent/details/" + SECOND_NODE + "/state")
                .asString()).isEqualTo("READY");
    }

    @Test
    void aRestoreSessionOnTheSecondNodeIsServedByItsAgentAndItsRegionBelongsToThatNode() throws Exception {
        Path image = Files.createDirectories(DATA_DIR.resolve("images")).resolve("node-b-" + UUID.randomUUID() + ".img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "8M");
        TestApi.Response created = admin().post("/api/v1/restores",
                map("image", image.toString(), "name", "on-b", "node", SECOND_NODE));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().path("node").asString()).isEqualTo(SECOND_NODE);
        assertThat(created.json().path("socket").asString()).contains("/nodes/" + SECOND_NODE + "/");

        try (NativeTools.Child demo = new NativeTools.Child(NativeTools.demo().toString(), "restore", "--socket",
                created.json().path("socket").asString(), "--size", "8M", "--hold", "--name", "on-b")) {
            JsonNode summary = JsonMapper.builder().build().readTree(demo.awaitLine("region_id"));
            assertThat(summary.path("mismatches").asLong()).isZero();
            JsonNode region = Await.until("the region on node-b", Duration.ofSeconds(10),
                    () -> admin().get("/api/v1/regions/" + summary.path("region_id").asString()), r -> r.status() == 200)
                    .json();
            assertThat(region.path("node").asString()).isEqualTo(SECOND_NODE);

            assertThat(admin().delete("/api/v1/regions/" + region.path("id").asString()).status()).isEqualTo(202);
            Await.until("the region detached by node-b's agent", Duration.ofSeconds(10),
                    () -> admin().get("/api/v1/regions/" + region.path("id").asString()).json(),
                    r -> r.path("state").asString().equals("DETACHED"));
            assertThat(demo.terminate()).isZero();
        }
        assertThat(admin().post("/api/v1/restores", map("image", image.toString(), "name", "x", "node", "elsewhere"))
                .status()).isEqualTo(422);
    }
}
