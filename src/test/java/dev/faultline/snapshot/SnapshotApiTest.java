package dev.faultline.snapshot;

import dev.faultline.LatencySummary;
import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;

/**
 * The snapshot API end to end with the real agent. Catalog rows are written straight to the
 * database here, with image paths where the agent looks but no image files, so engine calls
 * reach the agent and fail (or find nothing) with a clear reason. Snapshots of a live workload:
 * {@link LiveSnapshotTest}.
 */
class SnapshotApiTest extends ServiceTest {

    @Autowired
    SnapshotRepository snapshots;

    /** Creation times a minute apart, so "newest first" is unambiguous. */
    private Instant nextCreatedAt = Instant.now();

    @Test
    void takingASnapshotOfARegionTheServiceDoesNotKnowIsANotFoundProblem() {
        UUID region = UUID.randomUUID();

        TestApi.Response r = admin().post("/api/v1/snapshots", map("regionId", region));

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.isProblem()).isTrue();
        assertThat(r.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/not-found");
        assertThat(r.json().path("detail").asString()).isEqualTo("region '" + region + "' does not exist");
    }

    @Test
    void anInvalidTakeRequestNamesItsFields() {
        TestApi.Response r = admin().post("/api/v1/snapshots", map("regionId", "db", "kind", "FULL"));

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("errors").findValuesAsString("field")).containsExactly("regionId");
        assertThat(admin().post("/api/v1/snapshots", map("regionId", UUID.randomUUID().toString(), "kind", "HALF"))
                .status()).as("an unknown kind").isEqualTo(400);
    }

    @Test
    void aViewerListsAndReadsSnapshotsButCannotTakeOne() {
        String viewer = token("VIEWER");
        Snapshot full = save(UUID.randomUUID(), null, SnapshotState.COMPLETED);

        assertThat(api(viewer).get("/api/v1/snapshots").status()).isEqualTo(200);
        assertThat(api(viewer).get("/api/v1/snapshots/" + full.id()).json().path("state").asString()).isEqualTo("COMPLETED");
        TestApi.Response take = api(viewer).post("/api/v1/snapshots", map("regionId", full.regionId()));
        assertThat(take.status()).isEqualTo(403);
        assertThat(take.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/forbidden");
        assertThat(api(viewer).post("/api/v1/snapshots/" + full.id() + "/verify", map()).status()).isEqualTo(403);
    }

    @Test
    void theCatalogIsListedNewestFirstWithFiltersAndPages() {
        UUID region = UUID.randomUUID();
        Snapshot full = save(region, null, SnapshotState.COMPLETED);
        Snapshot incremental = save(region, full, SnapshotState.COMPLETED);
        Snapshot failed = save(region, null, SnapshotState.FAILED);

        JsonNode all = admin().get("/api/v1/snapshots?regionId=" + region).json();
        assertThat(all.path("totalItems").asLong()).isEqualTo(3);
        assertThat(all.path("items").findValuesAsString("id"))
                .containsExactly(failed.id().toString(), incremental.id().toString(), full.id().toString());
        JsonNode first = all.path("items").get(2);
        assertThat(first.path("pages").path("present").asLong()).isEqualTo(1500);
        assertThat(first.path("writerStall").path("p999Ns").asLong()).isEqualTo(95_000);
        assertThat(first.path("durationMs").asLong()).isEqualTo(30_000);

        assertThat(admin().get("/api/v1/snapshots?regionId=" + region + "&kind=INCREMENTAL").json()
                .path("items").findValuesAsString("id")).containsExactly(incremental.id().toString());
        assertThat(admin().get("/api/v1/snapshots?regionId=" + region + "&state=FAILED").json()
                .path("items").findValuesAsString("id")).containsExactly(failed.id().toString());
        JsonNode page = admin().get("/api/v1/snapshots?regionId=" + region + "&page=1&size=2").json();
        assertThat(page.path("items").findValuesAsString("id")).containsExactly(full.id().toString());
        assertThat(page.path("totalPages").asInt()).isEqualTo(2);
    }

    @Test
    void aSnapshotAnIncrementalDependsOnIsKeptUnlessConsolidationIsAskedFor() {
        UUID region = UUID.randomUUID();
        Snapshot full = save(region, null, SnapshotState.COMPLETED);
        Snapshot incremental = save(region, full, SnapshotState.COMPLETED);

        TestApi.Response refused = admin().delete("/api/v1/snapshots/" + full.id());
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/snapshot-has-dependents");
        assertThat(refused.json().path("detail").asString()).contains(incremental.id().toString());

        TestApi.Response accepted = admin().delete("/api/v1/snapshots/" + full.id() + "?consolidate=true");
        assertThat(accepted.status()).isEqualTo(202);
        String location = accepted.headers().firstValue("Location").orElseThrow();
        JsonNode op = awaitFinished(location);
        assertThat(op.path("state").asString()).isEqualTo("FAILED");
        assertThat(op.path("error").asString()).as("the agent finds no image to consolidate")
                .startsWith("consolidating snapshot " + full.id() + " into " + incremental.id() + " failed: ")
                .contains("No such file or directory");
        assertThat(admin().get("/api/v1/snapshots/" + full.id()).json().path("state").asString()).isEqualTo("COMPLETED");
    }

    @Test
    void verifyingAndRestoringRunThroughTheEngine() {
        Snapshot full = save(UUID.randomUUID(), null, SnapshotState.COMPLETED);

        TestApi.Response verify = admin().post("/api/v1/snapshots/" + full.id() + "/verify", map());
        assertThat(verify.status()).isEqualTo(202);
        assertThat(verify.json().path("kind").asString()).isEqualTo("VERIFY");
        JsonNode verified = awaitFinished(verify.headers().firstValue("Location").orElseThrow());
        assertThat(verified.path("state").asString()).isEqualTo("SUCCEEDED");
        assertThat(verified.path("result").asString()).as("a missing image is not intact")
                .startsWith("CORRUPT: the image is missing");
        assertThat(admin().get("/api/v1/snapshots/" + full.id()).json().at("/verification/state").asString())
                .isEqualTo("CORRUPT");

        TestApi.Response restore = admin().post("/api/v1/snapshots/" + full.id() + "/restore",
                map("name", "restored", "labels", Map.of("app", "db")));
        assertThat(restore.status()).isEqualTo(202);
        JsonNode restored = awaitFinished(restore.headers().firstValue("Location").orElseThrow());
        assertThat(restored.path("restoreName").asString()).isEqualTo("restored");
        assertThat(restored.path("state").asString()).isEqualTo("FAILED");
        assertThat(restored.path("error").asString()).startsWith("restoring snapshot " + full.id() + " failed: ");

        JsonNode history = admin().get("/api/v1/snapshots/" + full.id() + "/operations").json();
        assertThat(history.findValuesAsString("kind")).containsExactlyInAnyOrder("VERIFY", "RESTORE");
    }

    @Test
    void aFailedSnapshotIsDeletedAndThenLeftOutOfLists() {
        UUID region = UUID.randomUUID();
        Snapshot failed = save(region, null, SnapshotState.FAILED);

        assertThat(admin().post("/api/v1/snapshots/" + failed.id() + "/restore", map()).status())
                .as("a failed snapshot has no image to restore").isEqualTo(409);
        TestApi.Response deleted = admin().delete("/api/v1/snapshots/" + failed.id());
        assertThat(deleted.status()).isEqualTo(202);
        JsonNode op = awaitFinished(deleted.headers().firstValue("Location").orElseThrow());

        assertThat(op.path("state").asString()).isEqualTo("SUCCEEDED");
        assertThat(admin().get("/api/v1/snapshots/" + failed.id()).json().path("state").asString()).isEqualTo("DELETED");
        assertThat(admin().get("/api/v1/snapshots?regionId=" + region).json().path("totalItems").asLong()).isZero();
        assertThat(admin().delete("/api/v1/snapshots/" + failed.id()).status()).as("nothing left to do").isEqualTo(204);
    }

    @Test
    void anUnknownSnapshotIsANotFoundProblem() {
        TestApi.Response r = admin().get("/api/v1/snapshots/" + UUID.randomUUID());

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/not-found");
        assertThat(admin().get("/api/v1/snapshots/not-a-uuid").status()).isEqualTo(400);
    }

    /** Polls an operation until it has finished; a bounded wait on the condition, never a fixed sleep. */
    private JsonNode awaitFinished(String operationPath) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            last[0] = admin().get(operationPath).json();
            String state = last[0].path("state").asString();
            return state.equals("SUCCEEDED") || state.equals("FAILED");
        });
        return last[0];
    }

    private String token(String role) {
        TestApi.Response r = admin().post("/api/v1/tokens", map("name", "snap-" + UUID.randomUUID().toString()
                .substring(0, 8), "role", role));
        return r.json().path("token").asString();
    }

    /** A catalog row as a working engine would have left it. */
    private Snapshot save(UUID regionId, Snapshot parent, SnapshotState state) {
        UUID id = UUID.randomUUID();
        Instant now = nextCreatedAt;
        nextCreatedAt = nextCreatedAt.plusSeconds(60);
        Snapshot s = new Snapshot(id, new RegionInfo(regionId, "db", Map.of("app", "db"), RegionInfo.State.ATTACHED),
                parent == null ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL, parent == null ? null : parent.id(),
                null, false, "test", DATA_DIR.resolve("snapshots").resolve(regionId.toString()).resolve(id + ".img"), now);
        s.start(now);
        if (state == SnapshotState.FAILED) {
            s.fail("engine said no", now.plusSeconds(30));
        } else {
            s.complete(new SnapshotEngine.TakeResult(8 << 20, 2048, 1500, 300, "sha256:x", Quiesce.YES,
                    new LatencySummary(12, null, null, 95_000L, 180_000)), now.plusSeconds(30));
        }
        return snapshots.saveAndFlush(s);
    }
}
