package dev.faultline;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Two service instances as real processes, each with its own embedded agent, sharing one
 * throwaway PostgreSQL: the deployment of docs/deployment.md on one machine. The tests build on
 * each other (one cluster, started once): the nodes see each other, a restore requested through
 * A is served by B's agent, a policy fires once across both, B killed with SIGKILL is noticed
 * and its jobs fail cleanly, and B restarted adopts its agent that kept running.
 *
 * <p>The cross-host migration scenario (A creates a migration between the two nodes, B is killed
 * mid-migration and restarted) belongs here once the migration feature lands: start a migration
 * from {@link #a} for the region of {@link #restoredRegion}, {@link ServiceProcess#kill()} B, and
 * restart it as {@link #killingBMarksItsNodeDownOnAAndFailsItsUnfinishedJobs} does.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiInstanceIT {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration DOWN_AFTER = Duration.ofSeconds(4);
    private static final Map<String, String> SETTINGS = Map.of(
            "faultline.nodes.heartbeat-interval", "500ms",
            "faultline.nodes.down-after", DOWN_AFTER.toMillis() + "ms",
            "faultline.snapshots.scheduler.interval", "200ms",
            "faultline.snapshots.min-free-space", "1MB");

    static PostgresServer postgres;
    static ServiceProcess a;
    static ServiceProcess b;
    static String token;
    static NativeTools.Child workload;
    static String restoredRegion;
    static final Set<Long> agentPids = new HashSet<>();

    @BeforeAll
    static void startTwoInstancesOnOneDatabase() throws Exception {
        postgres = PostgresServer.start();
        String db = postgres.createDatabase();
        a = new ServiceProcess("node-a", Files.createTempDirectory("fl-it-a-"), db, SETTINGS);
        b = new ServiceProcess("node-b", Files.createTempDirectory("fl-it-b-"), db, SETTINGS);
        a.start();
        token = a.awaitAdminToken(); // the first instance on the empty database bootstraps it, once
        a.awaitUp(token);
        b.start();
        b.awaitUp(token);
        assertThat(b.dataDir().resolve("admin-token")).as("only the first instance bootstraps a token").doesNotExist();
    }

    @AfterAll
    static void stopEverything() throws Exception {
        try {
            if (workload != null) {
                workload.close();
            }
            for (ServiceProcess instance : new ServiceProcess[] {b, a}) {
                if (instance != null) {
                    instance.stop();
                }
            }
        } finally {
            // agents adopted after a kill, or left by a failed test: ours, so end them by pid
            agentPids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
            if (postgres != null) {
                postgres.stop();
            }
        }
    }

    @Test
    @Order(1)
    void bothInstancesHeartbeatAndListEachOthersNodes() {
        for (ServiceProcess instance : List.of(a, b)) {
            JsonNode nodes = Await.until("both nodes UP as " + instance.node() + " sees them", Duration.ofSeconds(30),
                    () -> instance.api(token).get("/api/v1/nodes").json(),
                    n -> n.size() == 2 && "UP".equals(n.get(0).path("state").asString())
                            && "UP".equals(n.get(1).path("state").asString())
                            && "READY".equals(n.get(0).at("/agent/state").asString())
                            && "READY".equals(n.get(1).at("/agent/state").asString()));
            assertThat(nodes.findValuesAsString("name")).containsExactly("node-a", "node-b");
            for (JsonNode node : nodes) {
                assertThat(node.path("local").asBoolean()).as("%s local on %s", node.path("name"), instance.node())
                        .isEqualTo(node.path("name").asString().equals(instance.node()));
                agentPids.add(node.at("/agent/pid").asLong());
            }
        }
    }

    @Test
    @Order(2)
    void aRestoreRequestedThroughAForBsNodeIsServedByBsAgent() throws Exception {
        // the image is on B's host, in B's image directory: B checks it, not A
        Path image = Files.createDirectories(b.dataDir().resolve("images")).resolve("it.img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "8M");

        TestApi.Response created = a.api(token).post("/api/v1/restores",
                map("image", image.toString(), "name", "on-b", "node", "node-b", "labels", map("it", "multi")));

        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().path("state").asString()).isEqualTo("WAITING");
        assertThat(created.json().path("node").asString()).isEqualTo("node-b");
        String socket = created.json().path("socket").asString();
        assertThat(socket).startsWith(b.dataDir().toString());

        workload = new NativeTools.Child(NativeTools.demo().toString(), "restore", "--socket", socket, "--size", "8M",
                "--hold", "--name", "on-b");
        JsonNode summary = JSON.readTree(workload.awaitLine("region_id"));
        assertThat(summary.path("mismatches").asLong()).as("B's agent served every byte of the image").isZero();
        restoredRegion = summary.path("region_id").asString();
        JsonNode region = Await.until("the region on node-b, seen through A", Duration.ofSeconds(20),
                () -> a.api(token).get("/api/v1/regions/" + restoredRegion), r -> r.status() == 200).json();
        assertThat(region.path("node").asString()).isEqualTo("node-b");
        assertThat(region.path("state").asString()).isEqualTo("ATTACHED");
    }

    @Test
    @Order(3)
    void aPolicyFiresOnceNotTwiceAcrossTheTwoInstances() throws Exception {
        TestApi api = a.api(token);
        TestApi.Response policy = api.post("/api/v1/snapshot-policies", map("name", "every-second",
                "selector", "it=multi", "schedule", "* * * * * *", "timeZone", "UTC", "fullEvery", 1));
        assertThat(policy.status()).as(policy.body()).isEqualTo(201);
        String id = policy.json().path("id").asString();

        // both schedulers look every 200ms; wait for a few fire times
        Await.until("five fire times run", Duration.ofSeconds(60),
                () -> api.get("/api/v1/snapshot-policies/" + id + "/runs?size=100").json().path("totalItems").asLong(),
                n -> n >= 5);
        assertThat(api.delete("/api/v1/snapshot-policies/" + id).status()).isEqualTo(204);

        // Each instance logs a run inside the transaction that claims the fire time, so a fire
        // time claimed twice (even one whose second claim was rolled back) shows up twice here.
        List<PolicyRun> runs = new ArrayList<>(policyRuns(a));
        runs.addAll(policyRuns(b));
        assertThat(runs.size()).as("fire times run").isGreaterThanOrEqualTo(5);
        assertThat(runs.stream().map(PolicyRun::fireTime).distinct().count()).as("no fire time ran twice: " + runs)
                .isEqualTo(runs.size());
        long takes = api.get("/api/v1/snapshots?policyId=" + id + "&size=500").json().path("totalItems").asLong();
        assertThat(takes).as("one take per fire time that started one").isEqualTo(
                runs.stream().mapToLong(PolicyRun::started).sum()).isPositive();
    }

    record PolicyRun(String fireTime, long started) {
    }

    private static final java.util.regex.Pattern RAN = java.util.regex.Pattern.compile(
            "snapshot policy 'every-second' ran for (\\S+Z): (\\d+) snapshot\\(s\\) started");

    private static List<PolicyRun> policyRuns(ServiceProcess instance) throws java.io.IOException {
        List<PolicyRun> runs = new ArrayList<>();
        java.util.regex.Matcher m = RAN.matcher(Files.readString(instance.log()));
        while (m.find()) {
            runs.add(new PolicyRun(m.group(1), Long.parseLong(m.group(2))));
        }
        return runs;
    }

    @Test
    @Order(4)
    void killingBMarksItsNodeDownOnAAndFailsItsUnfinishedJobs() throws Exception {
        Await.until("B to finish the policy's last take", Duration.ofSeconds(20),
                () -> a.api(token).get("/api/v1/snapshots?regionId=" + restoredRegion + "&state=PENDING&state=RUNNING")
                        .json().path("totalItems").asLong(), n -> n == 0);
        b.kill();
        // requested through A right after: only node-b's instance may run it, and that one is gone
        TestApi.Response take = a.api(token).post("/api/v1/snapshots", map("regionId", restoredRegion));
        assertThat(take.status()).as(take.body()).isEqualTo(202);
        String snapshot = take.json().path("id").asString();

        JsonNode node = Await.until("A to mark node-b DOWN", DOWN_AFTER.multipliedBy(3),
                () -> a.api(token).get("/api/v1/nodes/node-b").json(), n -> "DOWN".equals(n.path("state").asString()));
        assertThat(node.path("local").asBoolean()).isFalse();
        JsonNode failed = Await.until("the snapshot job of node-b to fail", Duration.ofSeconds(10),
                () -> a.api(token).get("/api/v1/snapshots/" + snapshot).json(),
                s -> "FAILED".equals(s.path("state").asString()));
        assertThat(failed.path("error").asString()).startsWith("node node-b stopped reporting at ");
        assertThat(a.api(token).get("/api/v1/events?subjectType=node&subjectId=node-b").json()
                .findValuesAsString("kind")).contains("node.down");
        assertThat(workload.process().isAlive()).as("the workload's faults are still served by B's agent").isTrue();
    }

    @Test
    @Order(5)
    void restartingBReclaimsItsNodeAndAdoptsTheAgentThatKeptRunning() {
        long agentBefore = a.api(token).get("/api/v1/nodes/node-b").json().at("/agent/pid").asLong();
        assertThat(ProcessHandle.of(agentBefore).map(ProcessHandle::isAlive)).as("B's agent outlived B").contains(true);

        b.start();
        b.awaitUp(token);

        JsonNode node = Await.until("node-b UP again on A", Duration.ofSeconds(30),
                () -> a.api(token).get("/api/v1/nodes/node-b").json(),
                n -> "UP".equals(n.path("state").asString()) && "READY".equals(n.at("/agent/state").asString()));
        assertThat(node.at("/agent/pid").asLong()).as("the live agent was adopted, not replaced").isEqualTo(agentBefore);
        assertThat(a.api(token).get("/api/v1/events?subjectType=node&subjectId=node-b").json()
                .findValuesAsString("kind")).contains("node.up", "node.down");
        JsonNode region = a.api(token).get("/api/v1/regions/" + restoredRegion).json();
        assertThat(region.path("state").asString()).isEqualTo("ATTACHED");
        TestApi.Response take = a.api(token).post("/api/v1/snapshots", map("regionId", restoredRegion));
        assertThat(take.status()).as("the region can be snapshotted again: " + take.body()).isEqualTo(202);
        Await.until("B to run the take it now owns again", Duration.ofSeconds(20),
                () -> a.api(token).get("/api/v1/snapshots/" + take.json().path("id").asString()).json(),
                s -> !"PENDING".equals(s.path("state").asString()));
    }
}
