package dev.faultline.web;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.label.LabelLimits;
import dev.faultline.workload.FaultlineException;
import dev.faultline.workload.OffHeapRegion;
import dev.faultline.workload.Workload;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Every input the service cannot take ends in a 4xx problem+json, and nothing is left behind. */
class RequestBoundsTest extends ServiceTest {

    private static final String PROBLEMS = "https://faultline.dev/problems/";

    @Test
    void aQueryStringLongerThanTheHeaderLimitGetsProblemJsonNotTomcatsPage() {
        TestApi.Response r = admin().get("/api/v1/regions?selector=" + "a".repeat(10_000));

        assertThat(r.status()).isBetween(400, 499);
        assertThat(r.isProblem()).as(r.contentType() + ": " + r.body()).isTrue();
        assertThat(r.json().path("status").asInt()).isEqualTo(r.status());
        assertThat(r.body()).doesNotContain("Tomcat").doesNotContain("<html");
    }

    @Test
    void aMalformedRequestTargetGetsProblemJson() throws IOException {
        String raw = rawExchange("GET /api/v1/regions/%zz%u HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

        assertThat(raw).startsWith("HTTP/1.1 400");
        assertThat(raw.toLowerCase()).contains("content-type: application/problem+json");
        assertThat(raw).doesNotContain("<html");
    }

    @Test
    void aBodyOverTheLimitIs413WithoutBeingRead() {
        TestApi.Response r = admin().post("/api/v1/tokens", "{\"name\":\"" + "x".repeat(2 << 20) + "\"}");

        assertThat(r.status()).isEqualTo(413);
        assertThat(r.isProblem()).isTrue();
        assertThat(r.json().path("type").asString()).isEqualTo(PROBLEMS + "payload-too-large");
    }

    @Test
    void aLabelWithANullValueIsAFieldErrorAndCreatesNothing() throws IOException {
        Path image = image();
        Map<String, String> labels = new HashMap<>();
        labels.put("app", null);
        int before = agent.restores().size();

        TestApi.Response r = admin().post("/api/v1/restores", map("image", image.toString(), "name", "nulls",
                "labels", labels));

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.isProblem()).isTrue();
        assertThat(r.json().path("detail").asString()).contains("label 'app' has no value");
        assertThat(agent.restores()).hasSize(before);
    }

    @Test
    void theMostAndLongestLabelsAllowedFitTheDatabaseAndTheAgent() throws IOException {
        assertThat(LabelLimits.MAX_STORED_LENGTH).isLessThanOrEqualTo(LabelLimits.COLUMN_LENGTH);
        Map<String, String> labels = new LinkedHashMap<>();
        for (int i = 0; i < LabelLimits.MAX_LABELS; i++) {
            String prefix = String.format("%03d", i) + "p".repeat(LabelLimits.MAX_PREFIX_LENGTH - 3);
            labels.put(prefix + "/" + "n".repeat(LabelLimits.MAX_NAME_LENGTH), "v".repeat(LabelLimits.MAX_VALUE_LENGTH));
        }

        TestApi.Response created = admin().post("/api/v1/restores", map("image", image().toString(), "name", "longest",
                "labels", labels));

        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().path("labels").size()).isEqualTo(LabelLimits.MAX_LABELS);
        assertThat(admin().delete("/api/v1/restores/" + created.json().path("id").asString()).status()).isEqualTo(204);

        labels.put("one-more", "x");
        int before = agent.restores().size();
        TestApi.Response tooMany = admin().post("/api/v1/restores", map("image", image().toString(), "name", "more",
                "labels", labels));
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.json().path("detail").asString()).contains("at most 64 labels");
        assertThat(agent.restores()).as("no agent session was opened").hasSize(before);
    }

    @Test
    void aWorkloadWhoseLabelsBreakTheLimitsIsRefusedByTheAgentAndItsNodeSyncsOn() {
        Map<String, String> labels = new LinkedHashMap<>();
        for (int i = 0; i < 40; i++) { // the longest keys and values the limits allow
            labels.put(String.format("%02d", i) + "p".repeat(251) + "/" + "n".repeat(63), "v".repeat(63));
        }
        Map<String, String> tooLong = new LinkedHashMap<>(labels);
        tooLong.put("long", "v".repeat(LabelLimits.MAX_VALUE_LENGTH + 1));
        String name = "labels-" + UUID.randomUUID().toString().substring(0, 8);
        try (Workload workload = Workload.connect(Path.of(agent.status().handoffSocket()))) {
            // the agent applies the same limits as the API: the workload is told why
            assertThatThrownBy(() -> workload.allocate(name + "-refused", 1 << 20, tooLong))
                    .isInstanceOf(FaultlineException.class).hasMessageContaining("label");
            try (OffHeapRegion many = workload.allocate(name, 1 << 20, labels);
                    OffHeapRegion plain = workload.allocate(name + "-plain", 1 << 20, Map.of("app", "plain"))) {
                JsonNode region = Await.until("the region with many labels to be listed", Duration.ofSeconds(15),
                        () -> admin().get("/api/v1/regions/" + many.id()), r -> r.status() == 200).json();
                assertThat(region.path("labels").size()).isEqualTo(40);
                Await.until("the other region of the node to be listed too", Duration.ofSeconds(15),
                        () -> admin().get("/api/v1/regions/" + plain.id()), r -> r.status() == 200);
            }
        }
    }

    private String rawExchange(String request) throws IOException {
        try (Socket socket = new Socket("localhost", port)) {
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Path image() throws IOException {
        Path image = Files.createDirectories(DATA_DIR.resolve("images"))
                .resolve("bounds-" + UUID.randomUUID().toString().substring(0, 8) + ".img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "1M");
        return image;
    }
}
