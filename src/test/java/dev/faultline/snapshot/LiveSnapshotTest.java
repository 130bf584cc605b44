package dev.faultline.snapshot;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.AgentRestore;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Live snapshots end to end: the service's real agent, a ledger workload (faultline-demo ledger:
 * accounts on every page of its region, transfers that keep the total) attached through
 * libfaultline and transferring while it is snapshotted, a fresh process that attaches to the
 * restore session and checks the ledger's invariant, the dependency rule and consolidation, and
 * a corrupted image that verification reports and restore refuses.
 */
class LiveSnapshotTest extends ServiceTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration JOB = Duration.ofSeconds(60);
    private static final String SIZE = "16M";
    private static final String ACCOUNTS = "20000";

    @Test
    void aLedgerSnapshottedWhileItTransfersRestoresWithItsInvariantEvenConsolidatedAndACorruptImageIsRefused() throws Exception {
        String demo = NativeTools.demo().toString();
        try (NativeTools.Child ledger = new NativeTools.Child(demo, "ledger", "--socket",
                agent.status().handoffSocket(), "--size", SIZE, "--accounts", ACCOUNTS, "--rate", "200000",
                "--name", "ledger-" + UUID.randomUUID().toString().substring(0, 8))) {
            String regionId = JSON.readTree(ledger.awaitLine("region_id")).path("region_id").asString();
            Await.until("the ledger's region", JOB, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);

            JsonNode full = take(map("regionId", regionId, "kind", "FULL"));
            assertThat(full.path("sizeBytes").asLong()).isPositive();
            assertThat(full.at("/pages/total").asLong()).isEqualTo(4096);
            assertThat(full.at("/pages/present").asLong() + full.at("/pages/zero").asLong()).isEqualTo(4096);
            assertThat(full.path("checksum").asString()).startsWith("xxh3:");
            assertThat(full.path("writerStall").isObject()).as("stall statistics: %s", full).isTrue();
            assertThat(full.path("quiesced").isNull()).as("not asked").isTrue();

            JsonNode incremental = take(map("regionId", regionId, "kind", "INCREMENTAL"));
            assertThat(incremental.path("parentId").asString()).isEqualTo(full.path("id").asString());

            JsonNode verified = operation(admin().post("/api/v1/snapshots/" + incremental.path("id").asString()
                    + "/verify", map()));
            assertThat(verified.path("state").asString()).as("%s", verified).isEqualTo("SUCCEEDED");
            assertThat(snapshot(incremental).at("/verification/state").asString()).isEqualTo("VERIFIED");

            JsonNode check = restoreAndCheck(incremental, "copy");
            assertThat(check.path("ok").asBoolean()).as("the ledger's invariant: %s", check).isTrue();
            assertThat(check.path("total").asLong()).isEqualTo(20000L * 1000);

            // the full one has a dependent: kept unless consolidated into it
            assertThat(admin().delete("/api/v1/snapshots/" + full.path("id").asString()).status()).isEqualTo(409);
            JsonNode deleted = operation(admin().delete("/api/v1/snapshots/" + full.path("id").asString()
                    + "?consolidate=true"));
            assertThat(deleted.path("state").asString()).as("%s", deleted).isEqualTo("SUCCEEDED");
            assertThat(snapshot(full).path("state").asString()).isEqualTo("DELETED");
            assertThat(Path.of(full.path("imagePath").asString())).doesNotExist();
            JsonNode standalone = snapshot(incremental);
            assertThat(standalone.path("kind").asString()).as("consolidated: %s", standalone).isEqualTo("FULL");
            assertThat(standalone.at("/verification/state").asString()).isEqualTo("UNVERIFIED");
            // a clone of the snapshot: the ledger checked through one shared copy of its image
            JsonNode again = restoreAndCheck(standalone, "clone");
            assertThat(again.path("ok").asBoolean()).as("the consolidated image alone: %s", again).isTrue();

            // a flipped byte in its first stored page
            try (RandomAccessFile f = new RandomAccessFile(Path.of(standalone.path("imagePath").asString()).toFile(),
                    "rw")) {
                f.seek(4096 + 32 + 100);
                int b = f.read();
                f.seek(4096 + 32 + 100);
                f.write(b ^ 0x40);
            }
            JsonNode corrupt = operation(admin().post("/api/v1/snapshots/" + standalone.path("id").asString()
                    + "/verify", map()));
            assertThat(corrupt.path("state").asString()).isEqualTo("SUCCEEDED");
            assertThat(corrupt.path("result").asString()).startsWith("CORRUPT").contains("checksum");
            assertThat(snapshot(standalone).at("/verification/state").asString()).isEqualTo("CORRUPT");
            JsonNode refused = operation(admin().post("/api/v1/snapshots/" + standalone.path("id").asString()
                    + "/restore", map("name", "refused")));
            assertThat(refused.path("state").asString()).isEqualTo("FAILED");
            assertThat(refused.path("error").asString()).contains("checksum");

            assertThat(ledger.terminate()).as("the ledger ran on through every snapshot").isZero();
        }
    }

    @Test
    void aRegionOnTheSecondNodeIsSnapshottedVerifiedAndRestoredByThatNodesAgent() throws Exception {
        AgentClient second = nodes.forNode(SECOND_NODE);
        try (NativeTools.Child ledger = new NativeTools.Child(NativeTools.demo().toString(), "ledger", "--socket",
                second.status().handoffSocket(), "--size", SIZE, "--accounts", ACCOUNTS, "--rate", "50000",
                "--name", "ledger-b-" + UUID.randomUUID().toString().substring(0, 8))) {
            UUID regionId = UUID.fromString(JSON.readTree(ledger.awaitLine("region_id")).path("region_id").asString());
            JsonNode region = Await.until("the ledger's region", JOB, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200).json();
            assertThat(region.path("node").asString()).isEqualTo(SECOND_NODE);
            // only the second node's agent holds the region: the primary's could not have taken it
            assertThat(second.regions()).extracting(AgentRegion::id).contains(regionId);
            assertThat(agent.regions()).extracting(AgentRegion::id).doesNotContain(regionId);

            JsonNode full = take(map("regionId", regionId.toString(), "kind", "FULL"));
            assertThat(full.at("/pages/total").asLong()).isEqualTo(4096);
            assertThat(full.at("/writerStall/maxNs").isNumber()).as("writer stalls in ns: %s", full).isTrue();

            JsonNode verified = operation(admin().post("/api/v1/snapshots/" + full.path("id").asString() + "/verify",
                    map()));
            assertThat(verified.path("state").asString()).as("%s", verified).isEqualTo("SUCCEEDED");

            JsonNode restored = operation(admin().post("/api/v1/snapshots/" + full.path("id").asString()
                    + "/restore", map("name", "ledger-b-restored")));
            assertThat(restored.path("state").asString()).as("%s", restored).isEqualTo("SUCCEEDED");
            UUID session = UUID.fromString(restored.path("restoreId").asString());
            assertThat(second.restore(session).state()).isEqualTo("WAITING");
            assertThatThrownBy(() -> agent.restore(session)).isInstanceOfSatisfying(AgentException.class,
                    e -> assertThat(e.code()).isEqualTo("NOT_FOUND"));
            second.deleteRestore(session);
            assertThat(ledger.terminate()).isZero();
        }
    }

    /** Takes a snapshot through the API and waits for it to end; it must have COMPLETED. */
    private JsonNode take(Map<String, Object> request) {
        TestApi.Response r = admin().post("/api/v1/snapshots", request);
        assertThat(r.status()).as("%s", r.body()).isEqualTo(202);
        String location = r.headers().firstValue("Location").orElseThrow();
        JsonNode s = Await.until("the snapshot to end", JOB, () -> admin().get(location).json(),
                j -> j.path("state").asString().equals("COMPLETED") || j.path("state").asString().equals("FAILED"));
        assertThat(s.path("state").asString()).as("%s", s).isEqualTo("COMPLETED");
        return s;
    }

    private JsonNode snapshot(JsonNode s) {
        return admin().get("/api/v1/snapshots/" + s.path("id").asString()).json();
    }

    private JsonNode operation(TestApi.Response accepted) {
        assertThat(accepted.status()).as("%s", accepted.body()).isEqualTo(202);
        String location = accepted.headers().firstValue("Location").orElseThrow();
        return Await.until("the operation to end", JOB, () -> admin().get(location).json(),
                j -> j.path("state").asString().equals("SUCCEEDED") || j.path("state").asString().equals("FAILED"));
    }

    /** Restores the snapshot through the API and lets a fresh ledger-check process attach to the session. */
    private JsonNode restoreAndCheck(JsonNode s, String mode) throws Exception {
        JsonNode op = operation(admin().post("/api/v1/snapshots/" + s.path("id").asString() + "/restore",
                map("name", "ledger-restored", "labels", Map.of("app", "ledger"), "mode", mode)));
        assertThat(op.path("state").asString()).as("%s", op).isEqualTo("SUCCEEDED");
        assertThat(op.path("restoreMode").asString()).isEqualTo(mode);
        AgentRestore session = agent.restore(UUID.fromString(op.path("restoreId").asString()));
        assertThat(session.state()).isEqualTo("WAITING");
        assertThat(session.mode()).isEqualTo(mode);
        String out = NativeTools.run(NativeTools.demo().toString(), "ledger-check", "--socket",
                session.socket(), "--size", SIZE, "--accounts", ACCOUNTS);
        return JSON.readTree(out.lines().filter(l -> l.contains("region_id")).findFirst().orElseThrow());
    }
}
