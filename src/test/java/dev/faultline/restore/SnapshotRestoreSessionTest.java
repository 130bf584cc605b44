package dev.faultline.restore;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.AgentStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A snapshot's restore session is a restore session like the others, end to end with the real
 * agent: listed with its snapshot, served to a fresh process straight from the snapshot's image
 * (no copy), deleted, and reconciled both ways after the agent is killed, after the service lost
 * its record and after the agent lost the session.
 */
class SnapshotRestoreSessionTest extends ServiceTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration JOB = Duration.ofSeconds(60);
    private static final Duration SYNC = Duration.ofSeconds(15);
    private static final String SIZE = "8M";
    private static final String ACCOUNTS = "10000";

    @Autowired
    RestoreRepository sessions;

    @Autowired
    RestoreService restores;

    @Test
    void aSnapshotsSessionIsListedServedFromTheSnapshotsImageAndDeleted() throws Exception {
        try (NativeTools.Child ledger = ledger()) {
            JsonNode snapshot = take(regionOf(ledger));

            JsonNode session = restore(snapshot, "listed-" + shortId());
            assertThat(session.path("state").asString()).isEqualTo("WAITING");
            assertThat(session.path("node").asString()).isEqualTo("node-a");
            assertThat(session.path("labels").path("app").asString()).isEqualTo("ledger");
            Path image = Path.of(session.at("/image/path").asString());
            assertThat(image).as("served from the snapshot's own image")
                    .isEqualTo(Path.of(snapshot.path("imagePath").asString()).toRealPath());
            assertThat(snapRestoreDir(session)).as("no copy of the chain is written")
                    .satisfiesAnyOf(d -> assertThat(d).doesNotExist(), d -> assertThat(d).isEmptyDirectory());
            assertThat(session.at("/image/size").asLong()).isEqualTo(8L << 20);
            assertThat(admin().get("/api/v1/restores?size=500").json().path("items").findValuesAsString("id"))
                    .contains(session.path("id").asString());

            String out = NativeTools.run(NativeTools.demo().toString(), "ledger-check", "--socket",
                    session.path("socket").asString(), "--size", SIZE, "--accounts", ACCOUNTS);
            JsonNode check = JSON.readTree(out.lines().filter(l -> l.contains("region_id")).findFirst().orElseThrow());
            assertThat(check.path("ok").asBoolean()).as("the restored ledger: %s", check).isTrue();

            String id = session.path("id").asString();
            TestApi.Response deleted = admin().delete("/api/v1/restores/" + id);
            assertThat(deleted.status()).as(deleted.body()).isEqualTo(204);
            assertThat(admin().get("/api/v1/restores/" + id).json().path("state").asString()).isEqualTo("CLOSED");
            assertThat(image).as("the snapshot's image stays with the snapshot").exists();
            assertThatThrownBy(() -> agent.restore(UUID.fromString(id))).isInstanceOfSatisfying(AgentException.class,
                    e -> assertThat(e.code()).isEqualTo("NOT_FOUND"));
            assertThat(ledger.terminate()).isZero();
        }
    }

    @Test
    void afterAgentKillsALostRecordAndALostSessionTheSessionsConvergeAndNoOldFlatImageIsLeft() throws Exception {
        try (NativeTools.Child ledger = ledger()) {
            JsonNode snapshot = take(regionOf(ledger));
            JsonNode session = restore(snapshot, "restarts-" + shortId());
            UUID id = UUID.fromString(session.path("id").asString());
            Path image = Path.of(session.at("/image/path").asString());
            // what an older agent, which copied chains, could leave behind
            Path orphan = Files.createDirectories(snapRestoreDir(session)).resolve(UUID.randomUUID() + ".mem");
            Files.write(orphan, new byte[4096]);

            // the agent is killed: the next one reopens the session, and removes the orphan
            AgentStatus before = agent.status();
            assertThat(ProcessHandle.of(before.pid()).orElseThrow().destroyForcibly()).isTrue();
            AgentStatus after = agent.awaitStatus(s -> s.state() == AgentState.READY && s.pid() != null
                    && !s.pid().equals(before.pid()), Duration.ofSeconds(15));
            assertThat(after.state()).as("replaced agent: %s", after).isEqualTo(AgentState.READY);
            assertThat(agent.restore(id).state()).isEqualTo("WAITING");
            assertThat(orphan).as("a flat image no session serves").doesNotExist();
            assertThat(admin().get("/api/v1/restores/" + id).json().path("state").asString()).isEqualTo("WAITING");

            // the service lost its record (a database restored from a backup, say): the next full
            // read adopts it again. An agent that pushes its changes is read in full only when it
            // (re)connects or events were lost, as after such a restore; here the test asks for one.
            sessions.deleteById(id);
            restores.sync();
            JsonNode adopted = Await.until("the session to be adopted", SYNC,
                    () -> admin().get("/api/v1/restores/" + id), r -> r.status() == 200).json();
            assertThat(adopted.path("snapshotId").asString()).isEqualTo(snapshot.path("id").asString());
            assertThat(adopted.path("state").asString()).isEqualTo("WAITING");
            assertThat(adopted.path("socket").asString()).isEqualTo(session.path("socket").asString());
            assertThat(admin().get("/api/v1/events?subjectType=restore&subjectId=" + id).body())
                    .contains("restore.adopted");

            // the agent lost the session (closed behind the service's back): FAILED, with why, from
            // the agent's event
            agent.deleteRestore(id);
            JsonNode failed = Await.until("the session to fail", SYNC,
                    () -> admin().get("/api/v1/restores/" + id).json(), s -> s.path("state").asString().equals("FAILED"));
            assertThat(failed.path("error").asString()).contains("no longer has this session");
            assertThat(image).as("the snapshot's image stays with the snapshot").exists();
            assertThat(admin().delete("/api/v1/restores/" + id).status()).as("a failed session is deletable")
                    .isEqualTo(204);
            assertThat(ledger.terminate()).isZero();
        }
    }

    private NativeTools.Child ledger() throws Exception {
        return new NativeTools.Child(NativeTools.demo().toString(), "ledger", "--socket",
                agent.status().handoffSocket(), "--size", SIZE, "--accounts", ACCOUNTS, "--rate", "20000",
                "--name", "ledger-" + shortId());
    }

    private String regionOf(NativeTools.Child ledger) throws Exception {
        String regionId = JSON.readTree(ledger.awaitLine("region_id")).path("region_id").asString();
        Await.until("the ledger's region", JOB, () -> admin().get("/api/v1/regions/" + regionId),
                r -> r.status() == 200);
        return regionId;
    }

    private JsonNode take(String regionId) {
        TestApi.Response r = admin().post("/api/v1/snapshots", map("regionId", regionId, "kind", "FULL"));
        assertThat(r.status()).as("%s", r.body()).isEqualTo(202);
        String location = r.headers().firstValue("Location").orElseThrow();
        JsonNode s = Await.until("the snapshot to end", JOB, () -> admin().get(location).json(),
                j -> j.path("state").asString().equals("COMPLETED") || j.path("state").asString().equals("FAILED"));
        assertThat(s.path("state").asString()).as("%s", s).isEqualTo("COMPLETED");
        return s;
    }

    /** Restores through the API; the session the operation opened is listed at once, with its snapshot. */
    private JsonNode restore(JsonNode snapshot, String name) {
        TestApi.Response accepted = admin().post("/api/v1/snapshots/" + snapshot.path("id").asString() + "/restore",
                map("name", name, "labels", Map.of("app", "ledger")));
        assertThat(accepted.status()).as("%s", accepted.body()).isEqualTo(202);
        String location = accepted.headers().firstValue("Location").orElseThrow();
        JsonNode op = Await.until("the restore to end", JOB, () -> admin().get(location).json(),
                j -> j.path("state").asString().equals("SUCCEEDED") || j.path("state").asString().equals("FAILED"));
        assertThat(op.path("state").asString()).as("%s", op).isEqualTo("SUCCEEDED");
        TestApi.Response session = admin().get("/api/v1/restores/" + op.path("restoreId").asString());
        assertThat(session.status()).as("recorded when the operation succeeded: %s", session.body()).isEqualTo(200);
        assertThat(session.json().path("snapshotId").asString()).isEqualTo(snapshot.path("id").asString());
        assertThat(session.json().path("name").asString()).isEqualTo(name);
        return session.json();
    }

    /** Where agents before chains were served directly wrote their copies: <state>/snaprestore. */
    private static Path snapRestoreDir(JsonNode session) {
        // the session's socket is <state>/restore/<id>.sock
        return Path.of(session.path("socket").asString()).getParent().getParent().resolve("snaprestore");
    }

    private static String shortId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
