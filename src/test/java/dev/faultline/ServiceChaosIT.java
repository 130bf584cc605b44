package dev.faultline;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Chaos for the service (issue "Crash-safe agent"): one instance as a real process with its
 * embedded agent, a ledger (faultline-demo ledger: transfers between accounts as fast as it
 * can, an invariant checkable at any instant) writing into a region, a snapshot policy firing
 * every second (a full image every third, the last four kept: takes, deletions and
 * consolidations all the time), and at seeded random moments SIGKILL sent to the service (it
 * is started again and adopts the agent, which kept serving), to the agent (the service starts
 * a new one; the ledger's library registers its region again), or to both at once (the new
 * service starts a new agent). Then, once the policy is removed and the jobs settle:
 *
 * <ul>
 * <li>hangs: the ledger went on through every kill (within 30 s of the service and its agent
 *     being back), and no snapshot stays PENDING, RUNNING or DELETING;
 * <li>wrong bytes: every COMPLETED snapshot restores to a ledger that holds its invariant;
 * <li>leaks: every image file under the snapshots directory is a live snapshot's, and no
 *     {@code .tmp} is left.
 * </ul>
 *
 * <p>{@code -Dfaultline.chaos.rounds=N} (default 4) and {@code -Dfaultline.chaos.seed=S} (default
 * the clock; printed) replay a run.
 */
class ServiceChaosIT {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String SIZE = "16M";
    private static final String ACCOUNTS = "20000";
    private static final Duration SETTLE = Duration.ofSeconds(120);

    /** What one round kills. */
    private enum Target {
        SERVICE, AGENT, BOTH
    }

    static PostgresServer postgres;
    static ServiceProcess service;
    static String token;
    static NativeTools.Child ledger;
    static Long agentPid;

    @BeforeAll
    static void start() throws Exception {
        postgres = PostgresServer.start();
        service = new ServiceProcess("node-a", Files.createTempDirectory("fl-chaos-"), postgres.createDatabase(),
                Map.of("faultline.snapshots.scheduler.interval", "200ms",
                        "faultline.snapshots.min-free-space", "1MB"));
        service.start();
        token = service.awaitAdminToken();
        service.awaitUp(token);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (ledger != null) {
                ledger.close();
            }
            if (service != null) {
                service.stop();
            }
        } finally {
            // an agent adopted after a kill is ours too: ended by pid
            if (agentPid != null) {
                ProcessHandle.of(agentPid).ifPresent(ProcessHandle::destroyForcibly);
            }
            if (postgres != null) {
                postgres.stop();
            }
        }
    }

    @Test
    void killingTheServiceDuringPolicyRunsHangsNothingLosesNoSnapshotAndLeaksNoFile() throws Exception {
        int rounds = Integer.getInteger("faultline.chaos.rounds", 4);
        long seed = Long.getLong("faultline.chaos.seed", System.currentTimeMillis());
        System.out.printf("service chaos: %d rounds, seed %d%n", rounds, seed);
        SplittableRandom random = new SplittableRandom(seed);
        TestApi api = service.api(token);
        JsonNode host = api.get("/api/v1/host").json();
        agentPid = host.at("/agent/pid").asLong();

        ledger = new NativeTools.Child(NativeTools.demo().toString(), "ledger", "--socket",
                host.at("/agent/handoffSocket").asString(), "--size", SIZE, "--accounts", ACCOUNTS, "--name",
                "chaos-ledger");
        String region = JSON.readTree(ledger.awaitLine("region_id")).path("region_id").asString();
        TestApi.Response found = Await.until("the ledger's region", SETTLE, () -> api.get("/api/v1/regions/" + region),
                r -> r.status() == 200);
        TestApi.Response labelled = api.patch("/api/v1/regions/" + region, map("labels", map("chaos", "ledger")),
                "If-Match", found.headers().firstValue("ETag").orElseThrow());
        assertThat(labelled.status()).as(labelled.body()).isEqualTo(200);
        TestApi.Response policy = api.post("/api/v1/snapshot-policies", map("name", "chaos", "selector", "chaos=ledger",
                "schedule", "* * * * * *", "timeZone", "UTC", "fullEvery", 3, "retention", map("keepLast", 4)));
        assertThat(policy.status()).as(policy.body()).isEqualTo(201);
        String policyId = policy.json().path("id").asString();

        int hangs = 0;
        Map<Target, Integer> kills = new java.util.EnumMap<>(Target.class);
        for (int round = 0; round < rounds; round++) {
            Target target = Target.values()[random.nextInt(Target.values().length)];
            long delay = random.nextLong(2500);
            Thread.sleep(delay); // the moment of the kill, drawn from the seed; not a synchronisation
            long cpu = cpuTicks(ledger.process().pid());
            long killedAgent = agentPid;
            if (target != Target.SERVICE) {
                killAgent(killedAgent);
            }
            if (target != Target.AGENT) {
                service.kill();
                service.start();
                service.awaitUp(token);
            }
            agentPid = awaitAgentOtherThan(api, target == Target.SERVICE ? -1 : killedAgent);
            kills.merge(target, 1, Integer::sum);
            System.out.printf("round %d: %s killed %d ms into its run%n", round, target, delay);
            if (!running(ledger.process().pid(), cpu, Duration.ofSeconds(30))) {
                hangs++;
                System.out.printf("round %d (seed %d): the ledger is held after a kill of %s%n", round, seed, target);
            }
        }
        TestApi after = service.api(token);
        long runs = policyRuns(after, policyId);
        Await.until("two more fire times after the last restart", SETTLE, () -> policyRuns(after, policyId),
                n -> n >= runs + 2);
        assertThat(after.delete("/api/v1/snapshot-policies/" + policyId).status()).isEqualTo(204);

        // no job stays unfinished (a failure here is a hang)
        Await.until("the snapshot jobs to settle", SETTLE,
                () -> after.get("/api/v1/snapshots?regionId=" + region + "&state=PENDING&state=RUNNING&state=DELETING")
                        .json().path("totalItems").asLong(), n -> n == 0);

        // every completed snapshot restores to a ledger that holds its invariant
        List<JsonNode> completed = new ArrayList<>();
        after.get("/api/v1/snapshots?regionId=" + region + "&state=COMPLETED&size=500").json().path("items")
                .forEach(completed::add);
        assertThat(completed).as("the policy kept snapshots through the kills").isNotEmpty();
        int wrong = 0;
        for (JsonNode snapshot : completed) {
            JsonNode check = restoreAndCheck(after, snapshot.path("id").asString());
            if (!check.path("ok").asBoolean()) {
                wrong++;
                System.out.printf("snapshot %s (%s) restores to a broken ledger: %s%n", snapshot.path("id").asString(),
                        snapshot.path("kind").asString(), check);
            }
        }

        // every image file is a live snapshot's; no temporary file
        Set<Path> live = completed.stream().map(s -> Path.of(s.path("imagePath").asString()).normalize())
                .collect(Collectors.toSet());
        List<Path> leaked;
        try (Stream<Path> files = Files.walk(service.dataDir().resolve("snapshots"))) {
            leaked = files.filter(Files::isRegularFile).map(Path::normalize).filter(p -> !live.contains(p)).toList();
        }
        List<JsonNode> all = new ArrayList<>();
        after.get("/api/v1/snapshots?regionId=" + region + "&size=500").json().path("items").forEach(all::add);
        for (Path p : leaked) {
            String owner = all.stream().filter(s -> p.equals(Path.of(s.path("imagePath").asString()).normalize()))
                    .map(s -> s.path("id").asString() + " " + s.path("state").asString() + " (" + s.path("error")
                            .asString() + ")").findFirst().orElse("no snapshot");
            System.out.printf("left behind: %s, of %s%n", p, owner);
        }

        System.out.printf("service chaos: rounds=%d kills=%s hangs=%d wrong_bytes=%d leaks=%d snapshots=%d seed=%d%n",
                rounds, kills, hangs, wrong, leaked.size(), completed.size(), seed);
        assertThat(hangs).as("hangs (seed %d)", seed).isZero();
        assertThat(wrong).as("snapshots restoring to a broken ledger (seed %d)", seed).isZero();
        assertThat(leaked).as("files no live snapshot owns (seed %d)", seed).isEmpty();
        assertThat(ledger.terminate()).as("the ledger ran on through every kill").isZero();
    }

    /** kill -9 of the agent; the service sees its connection drop and starts another. */
    private static void killAgent(long pid) {
        ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("agent " + pid + " is gone")).destroyForcibly();
    }

    /** The pid of the agent the service reports READY, once it is not {@code killed}. */
    private static long awaitAgentOtherThan(TestApi api, long killed) {
        JsonNode agent = Await.until("the service's agent to be READY again", SETTLE,
                () -> api.get("/api/v1/host").json().path("agent"),
                a -> a.path("state").asString().equals("READY") && a.path("pid").asLong() != killed);
        return agent.path("pid").asLong();
    }

    private static long policyRuns(TestApi api, String policyId) {
        return api.get("/api/v1/snapshot-policies/" + policyId + "/runs?size=1").json().path("totalItems").asLong();
    }

    /** Restores the snapshot through the API and runs faultline-demo ledger-check on its session. */
    private static JsonNode restoreAndCheck(TestApi api, String snapshotId) throws Exception {
        TestApi.Response accepted = api.post("/api/v1/snapshots/" + snapshotId + "/restore", map("name", "chaos-check"));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String location = accepted.headers().firstValue("Location").orElseThrow();
        JsonNode op = Await.until("the restore of " + snapshotId, SETTLE, () -> api.get(location).json(),
                j -> j.path("state").asString().equals("SUCCEEDED") || j.path("state").asString().equals("FAILED"));
        if (!op.path("state").asString().equals("SUCCEEDED")) {
            return op;
        }
        String restore = op.path("restoreId").asString();
        String socket = api.get("/api/v1/restores/" + restore).json().path("socket").asString();
        String out = NativeTools.run(NativeTools.demo().toString(), "ledger-check", "--socket", socket, "--size", SIZE,
                "--accounts", ACCOUNTS);
        assertThat(api.delete("/api/v1/restores/" + restore).status()).isEqualTo(204);
        return JSON.readTree(out.lines().filter(l -> l.contains("region_id")).findFirst().orElseThrow());
    }

    /** Whether the process used CPU beyond `since` within the bound (a writer held on a page uses none). */
    private static boolean running(long pid, long since, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (System.nanoTime() < deadline) {
            long now = cpuTicks(pid);
            if (now < 0) {
                return false;
            }
            if (now > since + 1) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }

    /** utime + stime of a process, in clock ticks, or -1 when it is gone. */
    private static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
        } catch (IOException | RuntimeException gone) {
            return -1;
        }
    }
}
