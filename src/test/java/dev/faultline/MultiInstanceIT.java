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
 * and its jobs fail cleanly, B restarted adopts its agent that kept running, and a region of B
 * detached through A is released by B's agent.
 *
 * <p>Then a migration across the two nodes, each side driven by the instance that manages its
 * agent (page channels on loopback ports of their own, published in the node table): one
 * created through A from node-a to node-b completes and every byte arrives; in another, B is
 * killed with SIGKILL mid-precopy and restarted, and the job carries on to completion (its
 * agent kept running) or fails with the source region intact and its workload writing.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiInstanceIT {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration DOWN_AFTER = Duration.ofSeconds(4);
    private static final Map<String, String> SETTINGS = Map.of(
            "faultline.nodes.heartbeat-interval", "500ms",
            "faultline.nodes.down-after", DOWN_AFTER.toMillis() + "ms",
            "faultline.nodes.liveness-interval", "500ms",
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
        // instances sharing a database share the key sealing the migration secrets in it (docs/security.md)
        Map<String, String> settings = new java.util.HashMap<>(SETTINGS);
        settings.put("faultline.secret-key-file", Files.createTempDirectory("fl-it-key-").resolve("secret.key").toString());
        a = new ServiceProcess("node-a", Files.createTempDirectory("fl-it-a-"), db, withPageChannel(settings));
        b = new ServiceProcess("node-b", Files.createTempDirectory("fl-it-b-"), db, withPageChannel(settings));
        a.start();
        token = a.awaitAdminToken(); // the first instance on the empty database bootstraps it, once
        a.awaitUp(token);
        b.start();
        b.awaitUp(token);
        assertThat(b.dataDir().resolve("admin-token")).as("only the first instance bootstraps a token").doesNotExist();
    }

    /**
     * Each agent's page channel on a loopback port of its own, fixed (not :0) so the node table
     * publishes an address a peer can dial, and a restarted instance configures the same one.
     */
    private static Map<String, String> withPageChannel(Map<String, String> settings) {
        Map<String, String> all = new java.util.HashMap<>(settings);
        all.put("faultline.agent.page-channel", "127.0.0.1:" + ServiceProcess.freePort());
        return all;
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
                assertThat(node.at("/pageChannel/address").asString()).as("%s's page channel", node.path("name"))
                        .matches("127\\.0\\.0\\.1:[1-9][0-9]*");
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
        TestApi.Response refused = a.api(token).post("/api/v1/snapshots", map("regionId", restoredRegion));
        assertThat(refused.status()).as("no new job waits for a DOWN node: " + refused.body()).isEqualTo(503);
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

    @Test
    @Order(6)
    void aRegionOfBDetachedThroughAIsReleasedByBsAgent() throws Exception {
        TestApi.Response detach = a.api(token).delete("/api/v1/regions/" + restoredRegion);
        assertThat(detach.status()).as(detach.body()).isEqualTo(202);
        assertThat(detach.json().path("state").asString()).isEqualTo("DETACHING");

        Await.until("B's agent to release the region", Duration.ofSeconds(20),
                () -> a.api(token).get("/api/v1/regions/" + restoredRegion).json(),
                r -> "DETACHED".equals(r.path("state").asString()));
        assertThat(workload.terminate()).as("the workload ends cleanly once released").isZero();
        workload = null;
    }

    // --- cross-host migration: A's node to B's node, each side driven by its own instance ---

    private static final Duration STEP = Duration.ofSeconds(60);
    private static final long SIZE = 16L << 20;
    /** Slow enough that precopy takes several seconds: B can be killed in the middle of it. */
    private static final long BANDWIDTH = 8L << 20;
    private static final int MARKS = 16;

    @Test
    @Order(7)
    void aMigrationCreatedThroughAFromAsNodeToBsNodeCompletesByteForByte() throws Exception {
        String name = "mig-" + shortId();
        try (NativeTools.Child source = migSource(name)) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            JsonNode region = Await.until("the source region on node-a, seen through B", STEP,
                    () -> b.api(token).get("/api/v1/regions/" + regionId), r -> r.status() == 200).json();
            assertThat(region.path("node").asString()).isEqualTo("node-a");

            TestApi.Response created = a.api(token).post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", "node-b", "options", map("postcopy", "manual")));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            String job = created.headers().firstValue("Location").orElseThrow();
            // A does not manage node-b: B sets the destination up, then A starts the source towards it
            JsonNode precopy = Await.until("precopy from node-a to node-b", STEP, () -> a.api(token).get(job).json(),
                    j -> phaseIs(j, "PRECOPY") && j.at("/stats/transferred/precopyBytes").asLong() > 0 || isFinal(j));
            assertThat(precopy.path("phase").asString()).as("%s", precopy).isEqualTo("PRECOPY");

            JsonNode done = switchOverAndAttachTheDestination(job, name, source);
            assertThat(done.at("/stats/remainingBytes").asLong()).isZero();
            assertThat(done.at("/stats/downtimeMs").isNumber()).as("the destination's downtime: %s", done).isTrue();
            assertThat(done.path("timeline").findValuesAsString("phase")).containsSubsequence("PENDING", "PRECOPY",
                    "SWITCHOVER", "POSTCOPY", "COMPLETED");
            assertThat(b.api(token).get(job).json().path("phase").asString()).as("B sees the same job")
                    .isEqualTo("COMPLETED");
            assertThat(command(source, "wait-migrated", "migrated").path("migrated").asBoolean())
                    .as("the source workload was told its region moved").isTrue();
            command(source, "exit", null);
        }
    }

    @Test
    @Order(8)
    void killingBMidMigrationAndRestartingItLetsTheJobCarryOnOrFailCleanlyWithTheSourceIntact() throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(a.dataDir().resolve("migration-it"));
        try (NativeTools.Child source = migSource(name)) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            Await.until("the source region on node-a", STEP, () -> a.api(token).get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);
            TestApi.Response created = a.api(token).post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", "node-b", "options", map("postcopy", "manual",
                            "bandwidthLimitBytesPerSec", BANDWIDTH)));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            String job = created.headers().firstValue("Location").orElseThrow();
            JsonNode precopy = Await.until("precopy", STEP, () -> a.api(token).get(job).json(),
                    j -> phaseIs(j, "PRECOPY") && j.at("/stats/transferred/precopyBytes").asLong() > 0 || isFinal(j));
            assertThat(precopy.path("phase").asString()).as("%s", precopy).isEqualTo("PRECOPY");

            b.kill();
            Await.until("A to mark node-b DOWN", DOWN_AFTER.multipliedBy(3),
                    () -> a.api(token).get("/api/v1/nodes/node-b").json(),
                    n -> "DOWN".equals(n.path("state").asString()));
            long writes = command(source, "dump " + dir.resolve(name + ".1"), "dumped").path("writes").asLong();
            Await.until("the source workload to go on writing while B is down", STEP,
                    () -> command(source, "dump " + dir.resolve(name + ".2"), "dumped").path("writes").asLong(),
                    w -> w > writes);

            b.start();
            b.awaitUp(token);
            Await.until("node-b UP again on A", Duration.ofSeconds(30),
                    () -> a.api(token).get("/api/v1/nodes/node-b").json(),
                    n -> "UP".equals(n.path("state").asString()) && "READY".equals(n.at("/agent/state").asString()));
            long rounds = a.api(token).get(job).json().at("/stats/rounds").asLong();
            JsonNode after = Await.until("the job to go on in precopy, or to end", STEP,
                    () -> a.api(token).get(job).json(),
                    j -> phaseIs(j, "PRECOPY") && j.at("/stats/rounds").asLong() > rounds || isFinal(j));

            if (phaseIs(after, "FAILED")) {
                // failing is allowed, losing anything is not: the source keeps its region, writable
                assertThat(after.path("error").asString()).as("%s", after).isNotEmpty();
                long before = command(source, "dump " + dir.resolve(name + ".3"), "dumped").path("writes").asLong();
                Await.until("the source workload to write after the failure", STEP,
                        () -> command(source, "dump " + dir.resolve(name + ".4"), "dumped").path("writes").asLong(),
                        w -> w > before);
                assertThat(a.api(token).get("/api/v1/regions/" + regionId).json().path("state").asString())
                        .isEqualTo("ATTACHED");
            } else {
                assertThat(after.path("phase").asString()).as("%s", after).isEqualTo("PRECOPY");
                JsonNode done = switchOverAndAttachTheDestination(job, name, source);
                assertThat(done.at("/stats/remainingBytes").asLong()).isZero();
                assertThat(b.api(token).get(job).json().path("phase").asString()).isEqualTo("COMPLETED");
            }
            command(source, "exit", null);
        }
    }

    /**
     * Switches over through A (the source's instance), dumps the source while its writers are
     * held, attaches the destination workload on B's session socket, compares every page and
     * waits for COMPLETED; returns the completed job.
     */
    private static JsonNode switchOverAndAttachTheDestination(String job, String name, NativeTools.Child source)
            throws Exception {
        Path dir = Files.createDirectories(a.dataDir().resolve("migration-it"));
        TestApi.Response switched = a.api(token).post(job + "/start-postcopy", map());
        assertThat(switched.status()).as(switched.body()).isEqualTo(202);
        // without a bandwidth limit the source may have pushed every page before A polls again
        JsonNode held = Await.until("postcopy", STEP, () -> a.api(token).get(job).json(),
                j -> phaseIs(j, "POSTCOPY") || isFinal(j));
        assertThat(held.path("phase").asString()).as("%s", held).isIn("POSTCOPY", "COMPLETED");
        String socket = held.path("destinationSocket").asString();
        assertThat(socket).as("the session socket of node-b's agent").isNotEmpty();
        Path sourceDump = dir.resolve(name + ".source");
        Path destinationDump = dir.resolve(name + ".destination");
        // the source's writers are held from the switchover on: its bytes now are what B must get
        assertThat(command(source, "dump " + sourceDump, "dumped").path("ok").asBoolean()).isTrue();
        try (NativeTools.Child destination = new NativeTools.Child(NativeTools.demo().toString(), "mig-dest",
                "--socket", socket, "--size", "16M", "--name", name, "--dump", destinationDump.toString(),
                "--mark", Integer.toString(MARKS))) {
            String destinationRegion = JSON.readTree(line(destination, "region_id")).path("region_id").asString();
            line(destination, "dumped");
            assertThat(differingPages(sourceDump, destinationDump)).as("pages that differ").isEmpty();
            assertThat(command(destination, "check", "markers").path("markers_wrong").asLong())
                    .as("the destination's own writes stay").isZero();
            JsonNode done = Await.until("the job to complete", STEP, () -> a.api(token).get(job).json(),
                    MultiInstanceIT::isFinal);
            assertThat(done.path("phase").asString()).as("%s", done).isEqualTo("COMPLETED");
            // A may end the job on the source's report before B polled the destination: B adds
            // what only the destination knows (its region, its downtime) before its agent forgets
            // the job; the region may be recorded by an earlier poll than the last report
            JsonNode recorded = Await.until("B to record the destination's region and last report", STEP,
                    () -> a.api(token).get(job).json(),
                    j -> destinationRegion.equals(j.path("destinationRegionId").asString())
                            && j.at("/stats/downtimeMs").isNumber());
            command(destination, "exit", null);
            return recorded;
        }
    }

    /** A workload on node-a writing its region all the time; its region is named {@code name}. */
    private static NativeTools.Child migSource(String name) {
        String handoff = a.api(token).get("/api/v1/host").json().at("/agent/handoffSocket").asString();
        assertThat(handoff).as("node-a's handoff socket").isNotEmpty();
        return new NativeTools.Child(NativeTools.demo().toString(), "mig-source", "--socket", handoff, "--size", "16M",
                "--name", name, "--threads", "1");
    }

    private static boolean phaseIs(JsonNode job, String phase) {
        return job.path("phase").asString().equals(phase);
    }

    private static boolean isFinal(JsonNode job) {
        return Set.of("COMPLETED", "FAILED", "CANCELLED").contains(job.path("phase").asString());
    }

    private static List<Long> differingPages(Path source, Path destination) throws java.io.IOException {
        return MigrationWorkloads.differingPages(source, destination, SIZE, MARKS);
    }

    private static JsonNode command(NativeTools.Child child, String command, String answer) {
        return MigrationWorkloads.command(child, command, answer, STEP);
    }

    private static String line(NativeTools.Child child, String text) {
        return MigrationWorkloads.line(child, text, STEP);
    }

    private static String shortId() {
        return MigrationWorkloads.shortId();
    }
}
