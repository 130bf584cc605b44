package dev.faultline.restore;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.AgentStatus;
import dev.faultline.workload.OffHeapRegion;
import dev.faultline.workload.Workload;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Lazy restore end to end: a real image, a real agent started by the service, real workloads
 * (the C demo through libfaultline, and this JVM through JNA), every byte checked.
 */
class LazyRestoreTest extends ServiceTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration SYNC = Duration.ofSeconds(15);

    @Test
    void aProcessRestoredFromAnImageSeesEveryByteAndItsRegionShowsHowThePagesArrived() throws Exception {
        Path image = image("demo", "64M", 7);
        JsonNode session = createSession(image, "demo-" + shortId());
        assertThat(session.path("state").asString()).isEqualTo("WAITING");
        assertThat(Path.of(session.path("socket").asString())).exists();

        try (NativeTools.Child demo = new NativeTools.Child(NativeTools.demo().toString(), "restore",
                "--socket", session.path("socket").asString(), "--size", "64M", "--seed", "7",
                "--pattern", "random", "--hold", "--name", session.path("name").asString())) {
            JsonNode summary = JSON.readTree(demo.awaitLine("region_id"));
            assertThat(summary.path("mismatches").asLong()).as("bytes restored equal bytes saved").isZero();
            String regionId = summary.path("region_id").asString();

            JsonNode region = Await.until("the region to be fully present", SYNC,
                    () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200 && r.json().at("/pages/present").asLong() == 16384).json();
            assertThat(region.path("state").asString()).isEqualTo("ATTACHED");
            assertThat(region.at("/backing/kind").asString()).isEqualTo("image");
            assertThat(region.at("/backing/path").asString()).isEqualTo(image.toRealPath().toString());
            assertThat(region.at("/backing/restoreId").asString()).isEqualTo(session.path("id").asString());
            assertThat(region.path("labels").path("app").asString()).as("the workload's label").isEqualTo("faultline-demo");
            assertThat(region.path("labels").path("suite").asString()).as("the session's label").isEqualTo("lazy-restore");
            JsonNode stats = region.path("stats");
            long installed = stats.at("/installed/demand").asLong() + stats.at("/installed/faultAround").asLong()
                    + stats.at("/installed/prefetch").asLong() + stats.at("/installed/background").asLong();
            assertThat(installed).as("every page installed once: %s", stats).isEqualTo(16384);
            assertThat(stats.path("zeroPages").asLong()).as("the image's all-zero pages (every 8th)").isEqualTo(2048);
            assertThat(stats.at("/installed/faultAround").asLong()).as("fault-around installs neighbours").isPositive();
            assertThat(stats.at("/latency/count").asLong()).isEqualTo(stats.at("/faults/missing").asLong());
            assertThat(stats.at("/latency/p99Ns").asLong()).isGreaterThanOrEqualTo(stats.at("/latency/p50Ns").asLong());

            JsonNode restored = Await.until("the session to be COMPLETE", SYNC,
                    () -> admin().get("/api/v1/restores/" + session.path("id").asString()).json(),
                    s -> s.path("state").asString().equals("COMPLETE"));
            assertThat(restored.path("progress").asDouble()).isEqualTo(1.0);
            // restore-to-run: request, first workload, first fault served, COMPLETE, in that order
            JsonNode timing = restored.path("timing");
            assertThat(timing.path("registeredMs").isNumber()).as("timing: %s", timing).isTrue();
            assertThat(timing.path("firstFaultMs").asLong()).as("timing: %s", timing)
                    .isGreaterThanOrEqualTo(timing.path("registeredMs").asLong());
            assertThat(timing.path("completeMs").asLong()).as("timing: %s", timing)
                    .isGreaterThanOrEqualTo(timing.path("firstFaultMs").asLong());
            assertThat(restored.path("regions").get(0).asString()).isEqualTo(regionId);

            String metrics = admin().get("/actuator/prometheus", "text/plain").body();
            assertThat(metrics).contains("faultline_fault_duration_seconds_bucket{").contains(regionId)
                    .contains("faultline_pages_installed_total{");
            assertThat(admin().get("/api/v1/events?subjectType=region&subjectId=" + regionId).body())
                    .contains("region.attached");

            // detach: the workload keeps correct memory without the agent
            TestApi.Response detach = admin().delete("/api/v1/regions/" + regionId);
            assertThat(detach.status()).isEqualTo(202);
            Await.until("the region to be DETACHED", SYNC, () -> admin().get("/api/v1/regions/" + regionId).json(),
                    r -> r.path("state").asString().equals("DETACHED"));
            demo.process().toHandle(); // still running
            ProcessHandle.of(demo.process().pid()).ifPresent(p -> signal(p.pid(), "USR1"));
            JsonNode verify = JSON.readTree(demo.awaitLine("verify"));
            assertThat(verify.path("verify").asString()).isEqualTo("ok");
            assertThat(verify.path("uffds").asInt()).as("libfaultline closed its uffd").isZero();
            assertThat(demo.terminate()).isZero();
        }
        assertThat(admin().delete("/api/v1/restores/" + session.path("id").asString()).status()).isEqualTo(204);
        assertThat(admin().get("/api/v1/restores/" + session.path("id").asString()).json().path("state").asString())
                .isEqualTo("CLOSED");
    }

    @Test
    void twoClonesOfOneImageReadEveryByteFromOneSharedCopyAndTheSessionShowsWhatEachHolds() throws Exception {
        Path image = image("clone", "16M", 9);
        TestApi.Response created = admin().post("/api/v1/restores", map("image", image.toString(), "name",
                "clone-" + shortId(), "workingSet", "off", "populateDelayMs", -1, "mode", "clone"));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        JsonNode session = created.json();
        assertThat(session.at("/options/mode").asString()).isEqualTo("clone");
        String socket = session.path("socket").asString();

        try (NativeTools.Child first = new NativeTools.Child(NativeTools.demo().toString(), "restore", "--socket",
                socket, "--size", "16M", "--seed", "9", "--pattern", "random", "--hold", "--clone");
                NativeTools.Child second = new NativeTools.Child(NativeTools.demo().toString(), "restore", "--socket",
                        socket, "--size", "16M", "--seed", "9", "--pattern", "seq", "--hold", "--clone")) {
            for (NativeTools.Child clone : new NativeTools.Child[] {first, second}) {
                JsonNode summary = JSON.readTree(clone.awaitLine("region_id"));
                assertThat(summary.path("mismatches").asLong()).as("every byte of the image").isZero();
                assertThat(summary.path("touched").asLong()).isEqualTo(4096);
            }
            // a clone is listed from its registration on; what it maps is read from its smaps at each GET
            JsonNode clones = Await.until("both clones accounted with what they map", SYNC,
                    () -> admin().get("/api/v1/restores/" + session.path("id").asString()),
                    r -> r.json().at("/clones/clones").size() == 2 && r.json().at("/clones/clones")
                            .valueStream().allMatch(c -> c.path("sharedBytes").asLong() > 0))
                    .json().path("clones");
            assertThat(clones.path("sharedBytes").asLong()).as("one copy of the image").isEqualTo(16L << 20);
            for (JsonNode clone : clones.path("clones")) {
                // they only read: everything they map is the shared copy's
                assertThat(clone.path("sharedBytes").asLong()).isPositive();
                assertThat(clone.path("privateBytes").asLong()).isLessThan(1L << 20);
                assertThat(clone.path("regionId").asString()).isNotEmpty();
            }
            assertThat(first.terminate()).isZero();
            assertThat(second.terminate()).isZero();
        }
        TestApi.Response badMode = admin().post("/api/v1/restores", map("image", image.toString(), "name", "x",
                "mode", "fork"));
        assertThat(badMode.status()).isEqualTo(400);
        assertThat(badMode.json().path("errors").findValuesAsString("field")).contains("mode");
    }

    @Test
    void aJvmRegistersOffHeapMemoryThroughJnaAndReadsTheImageBack() throws Exception {
        Path image = image("jvm", "16M", 11);
        byte[] expected = Files.readAllBytes(image);
        JsonNode session = createSession(image, "jvm-" + shortId());

        try (Workload workload = Workload.connect(Path.of(session.path("socket").asString()));
                OffHeapRegion memory = workload.allocate("jvm-cache", expected.length, Map.of("app", "jvm"))) {
            byte[] page = new byte[4096];
            for (int offset = expected.length - 4096; offset >= 0; offset -= 4096) { // backwards: no help from readahead
                memory.buffer(offset, 4096).get(page);
                assertThat(ByteBuffer.wrap(page)).as("page at %d", offset)
                        .isEqualTo(ByteBuffer.wrap(expected, offset, 4096));
            }
            JsonNode region = Await.until("the JVM's region to be listed", SYNC,
                    () -> admin().get("/api/v1/regions/" + memory.id()), r -> r.status() == 200).json();
            assertThat(region.path("source").asString()).isEqualTo("libfaultline");
            assertThat(region.at("/owner/pid").asLong()).isEqualTo(ProcessHandle.current().pid());
            assertThat(region.path("labels").path("app").asString()).isEqualTo("jvm");
        }
    }

    @Test
    void anAgentKilledMidRestoreIsReplacedAndTheWorkloadFinishesWithEveryByteCorrect() throws Exception {
        Path image = image("crash", "32M", 3);
        JsonNode session = createSession(image, "crash-" + shortId());

        try (NativeTools.Child demo = new NativeTools.Child(NativeTools.demo().toString(), "restore",
                "--socket", session.path("socket").asString(), "--size", "32M", "--seed", "3",
                "--pattern", "random", "--pause-after", "2000", "--hold", "--name", session.path("name").asString())) {
            demo.awaitLine("paused");
            AgentStatus before = agent.status();
            assertThat(ProcessHandle.of(before.pid()).orElseThrow().destroyForcibly()).isTrue();
            AgentStatus after = agent.awaitStatus(s -> s.state() == AgentState.READY && s.pid() != null
                    && !s.pid().equals(before.pid()), Duration.ofSeconds(5));
            assertThat(after.state()).as("replaced agent: %s", after).isEqualTo(AgentState.READY);

            demo.process().getOutputStream().write("go\n".getBytes(StandardCharsets.US_ASCII));
            demo.process().getOutputStream().flush();
            JsonNode summary = JSON.readTree(demo.awaitLine("region_id"));

            assertThat(summary.path("mismatches").asLong()).as("no page was zero-filled or wrong").isZero();
            assertThat(summary.path("touched").asLong()).isEqualTo(8192);
            JsonNode region = Await.until("the re-registered region", SYNC,
                    () -> admin().get("/api/v1/regions/" + summary.path("region_id").asString()),
                    r -> r.status() == 200 && r.json().path("state").asString().equals("ATTACHED")).json();
            assertThat(region.at("/backing/restoreId").asString()).isEqualTo(session.path("id").asString());
            assertThat(demo.terminate()).isZero();
        }
    }

    @Test
    void imagesOutsideTheAllowedDirectoriesOrMissingOrRelativeAreRefusedClearly() throws IOException {
        TestApi.Response outside = admin().post("/api/v1/restores", map("image", "/etc/hostname", "name", "x"));
        assertThat(outside.status()).isEqualTo(422);
        assertThat(outside.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/image-not-allowed");

        Path link = Files.createDirectories(DATA_DIR.resolve("images")).resolve("escape-" + shortId());
        Files.createSymbolicLink(link, Path.of("/etc/hostname"));
        assertThat(admin().post("/api/v1/restores", map("image", link.toString(), "name", "x")).status())
                .as("a symlink out of the allowed directory").isEqualTo(422);

        TestApi.Response missing = admin().post("/api/v1/restores",
                map("image", DATA_DIR.resolve("images/nope.img").toString(), "name", "x"));
        assertThat(missing.status()).isEqualTo(422);
        assertThat(missing.json().path("detail").asString()).contains("does not exist");

        TestApi.Response relative = admin().post("/api/v1/restores", map("image", "images/x.img", "name", "x"));
        assertThat(relative.status()).isEqualTo(400);

        TestApi.Response badOptions = admin().post("/api/v1/restores",
                map("image", "/x", "name", "x", "faultAroundPages", 9999, "workingSet", "sometimes"));
        assertThat(badOptions.status()).isEqualTo(400);
        assertThat(badOptions.json().path("errors").findValuesAsString("field"))
                .contains("faultAroundPages", "workingSet");
    }

    @Test
    void aViewerCanWatchRestoresButNotStartThem() {
        String viewer = admin().post("/api/v1/tokens", map("name", "restore-viewer-" + shortId(), "role", "VIEWER"))
                .json().path("token").asString();

        assertThat(api(viewer).get("/api/v1/restores").status()).isEqualTo(200);
        assertThat(api(viewer).post("/api/v1/restores", map("image", "/x", "name", "x")).status()).isEqualTo(403);
    }

    @Test
    void patchingLabelsNeedsTheCurrentETag() throws Exception {
        Path image = image("labels", "4M", 5);
        JsonNode session = createSession(image, "labels-" + shortId());
        try (Workload workload = Workload.connect(Path.of(session.path("socket").asString()));
                OffHeapRegion memory = workload.allocate("labelled", 4 << 20, Map.of("app", "a", "old", "x"))) {
            TestApi.Response got = Await.until("the region", SYNC, () -> admin().get("/api/v1/regions/" + memory.id()),
                    r -> r.status() == 200);
            String etag = got.headers().firstValue("ETag").orElseThrow();
            String path = "/api/v1/regions/" + memory.id();

            assertThat(admin().patch(path, map("labels", map("tier", "gold"))).status()).isEqualTo(428);
            assertThat(admin().patch(path, map("labels", map("tier", "gold")), "If-Match", "\"999\"").status()).isEqualTo(412);
            TestApi.Response patched = admin().patch(path, map("labels", map("tier", "gold", "old", null)), "If-Match", etag);
            assertThat(patched.status()).isEqualTo(200);
            assertThat(patched.json().path("labels").path("tier").asString()).isEqualTo("gold");
            assertThat(patched.json().path("labels").has("old")).isFalse();
            assertThat(patched.headers().firstValue("ETag")).isNotEqualTo(java.util.Optional.of(etag));
            assertThat(admin().patch(path, map("labels", map("tier", "x")), "If-Match", etag).status()).as("the old ETag is stale")
                    .isEqualTo(412);
            assertThat(admin().get("/api/v1/regions?selector=tier%3Dgold").body()).contains(memory.id());
            assertThat(admin().get("/api/v1/regions?selector=tier%20in%20(").status()).isEqualTo(400);
        }
    }

    private JsonNode createSession(Path image, String name) throws IOException {
        TestApi.Response created = admin().post("/api/v1/restores", map("image", image.toString(), "name", name,
                "labels", map("suite", "lazy-restore"), "workingSet", "off"));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json();
    }

    private static Path image(String name, String size, int seed) throws IOException {
        Path dir = Files.createDirectories(DATA_DIR.resolve("images"));
        Path image = dir.resolve(name + "-" + shortId() + ".img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", size,
                "--seed", Integer.toString(seed));
        return image;
    }

    private static void signal(long pid, String signal) {
        NativeTools.run("kill", "-" + signal, Long.toString(pid));
    }

    private static String shortId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
