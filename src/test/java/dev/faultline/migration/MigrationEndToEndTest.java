package dev.faultline.migration;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.MigrationWorkloads;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.AgentStatus;
import dev.faultline.event.EventService;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import dev.faultline.security.SecretBox;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.PlatformTransactionManager;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Migration end to end: the service drives two real agents (node-a and node-b, each with its page
 * channel on loopback), a real workload keeps writing on node-a during precopy, and the
 * destination workload attaches by region name on node-b. Every byte is compared.
 *
 * <p>Needs the agent side of issue 7 (control messages 0x30–0x38, the page channel and the
 * faultline-demo mig-source / mig-dest workloads).
 */
@Tag(MigrationEndToEndTest.TAG)
class MigrationEndToEndTest extends ServiceTest {

    /** The agent side of issue 7 must be built for these tests. */
    static final String TAG = "agent-migration";

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Autowired
    SecretBox secrets;

    @Autowired
    MigrationDriver driver;

    @Autowired
    MigrationRepository jobs;

    @Autowired
    MigrationEngine engine;

    @Autowired
    MigrationDirectory directory;

    @Autowired
    MigrationProperties properties;

    @Autowired
    Clock clock;

    @Autowired
    PlatformTransactionManager transactions;

    @Autowired
    EventService events;
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final long SIZE = 16L << 20;
    /** Slow enough that a pass over the region takes a second or two. */
    private static final long BANDWIDTH = 8L << 20;
    private static final int MARKS = 16;

    @Test
    void aRegionWrittenDuringPrecopyArrivesOnTheOtherNodeByteForByteAndTheDestinationsOwnWritesStay()
            throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(DATA_DIR.resolve("migration-e2e"));
        Path sourceDump = dir.resolve(name + ".source");
        Path destinationDump = dir.resolve(name + ".destination");
        try (NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                "--socket", agent.status().handoffSocket(), "--size", "16M", "--name", name, "--threads", "2")) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            JsonNode region = Await.until("the source region to be listed on node-a", STEP,
                    () -> admin().get("/api/v1/regions/" + regionId), r -> r.status() == 200).json();
            assertThat(region.path("node").asString()).isEqualTo("node-a");

            TestApi.Response created = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE, "options", map("postcopy", "manual", "maxPrecopyRounds", 50,
                    "bandwidthLimitBytesPerSec", BANDWIDTH)));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            String job = created.headers().firstValue("Location").orElseThrow();
            assertThat(created.json().path("regionName").asString()).isEqualTo(name);

            JsonNode precopy = Await.until("precopy rounds while the workload writes", STEP,
                    () -> admin().get(job).json(), j -> phaseIs(j, "PRECOPY") && j.at("/stats/rounds").asLong() >= 2
                            || isFinal(j));
            assertThat(precopy.path("phase").asString()).as("%s", precopy).isEqualTo("PRECOPY");
            assertThat(precopy.at("/stats/transferred/precopyBytes").asLong()).isPositive();
            assertThat(precopy.at("/stats/regionBytes").asLong()).isEqualTo(SIZE);
            assertThat(precopy.path("destinationSocket").asString()).isNotEmpty();
            String id = precopy.path("id").asString();
            assertThat(admin().get("/actuator/prometheus", "text/plain").body())
                    .contains("faultline_migration_remaining_bytes{migration=\"" + id + "\"}")
                    .contains("faultline_migration_dirty_rate_bytes_per_second{migration=\"" + id + "\"}");

            TestApi.Response switched = admin().post(job + "/start-postcopy", map());
            assertThat(switched.status()).as(switched.body()).isEqualTo(202);
            // the source shows SWITCHOVER until every page is protected again (PROTOCOL.md §1.9)
            JsonNode held = Await.until("postcopy", STEP, () -> admin().get(job).json(),
                    j -> phaseIs(j, "POSTCOPY") || isFinal(j));
            assertThat(held.path("phase").asString()).as("%s", held).isEqualTo("POSTCOPY");
            assertThat(held.path("switchoverAt").isNull()).isFalse();
            // the source's writers are held from here on, and the job does not complete before the
            // destination workload has every page: the source's bytes now are what it must get
            assertThat(command(source, "dump " + sourceDump, "dumped").path("ok").asBoolean()).isTrue();

            TestApi.Response paused = admin().post(job + "/pause", map());
            assertThat(paused.status()).as(paused.body()).isEqualTo(202);
            JsonNode pausedJob = Await.until("the pause", STEP, () -> admin().get(job).json(),
                    j -> phaseIs(j, "PAUSED") || isFinal(j));
            assertThat(pausedJob.path("pausedIn").asString()).as("%s", pausedJob).isEqualTo("POSTCOPY");
            TestApi.Response cancel = admin().post(job + "/cancel", map());
            assertThat(cancel.status()).isEqualTo(409);
            assertThat(cancel.json().path("type").asString())
                    .isEqualTo("https://faultline.dev/problems/migration-past-switchover");
            TestApi.Response resumed = admin().post(job + "/resume", map());
            assertThat(resumed.status()).as(resumed.body()).isEqualTo(202);

            try (NativeTools.Child destination = new NativeTools.Child(NativeTools.demo().toString(), "mig-dest",
                    "--socket", held.path("destinationSocket").asString(), "--size", "16M", "--name", name,
                    "--dump", destinationDump.toString(), "--mark", Integer.toString(MARKS))) {
                String destinationRegion = JSON.readTree(line(destination, "region_id")).path("region_id").asString();
                line(destination, "dumped");

                assertThat(differingPages(sourceDump, destinationDump)).as("pages that differ").isEmpty();
                assertThat(command(destination, "check", "markers").path("markers_wrong").asLong())
                        .as("the destination's own writes stay").isZero();

                JsonNode done = Await.until("the job to complete", STEP, () -> admin().get(job).json(),
                        MigrationEndToEndTest::isFinal);
                assertThat(done.path("phase").asString()).as("%s", done).isEqualTo("COMPLETED");
                assertThat(done.path("destinationRegionId").asString()).isEqualTo(destinationRegion);
                assertThat(done.path("completedAt").isNull()).isFalse();
                assertThat(done.path("timeline").findValuesAsString("phase")).containsSubsequence("PENDING",
                        "PRECOPY", "SWITCHOVER", "POSTCOPY", "COMPLETED");
                JsonNode stats = done.path("stats");
                assertThat(stats.path("remainingBytes").asLong()).isZero();
                assertThat(stats.path("downtimeMs").isNumber()).as("downtime measured: %s", stats).isTrue();
                assertThat(stats.path("rounds").asLong()).isGreaterThanOrEqualTo(2);
                assertThat(stats.at("/transferred/precopyBytes").asLong()
                        + stats.at("/transferred/postcopyBytes").asLong()
                        + stats.at("/transferred/demandBytes").asLong()).isPositive();
                assertThat(command(source, "wait-migrated", "migrated").path("migrated").asBoolean())
                        .as("the source workload was told its region moved").isTrue();

                List<String> kinds = admin().get("/api/v1/events?subjectType=migration&subjectId=" + id).json()
                        .findValuesAsString("kind");
                assertThat(kinds).contains("migration.phase", "migration.progress", "migration.completed");
                assertThat(admin().get("/api/v1/migrations?regionId=" + regionId + "&phase=COMPLETED").json()
                        .path("totalItems").asLong()).isEqualTo(1);
                Await.until("the finished job to leave the gauges", STEP,
                        () -> admin().get("/actuator/prometheus", "text/plain").body(), m -> !m.contains(id));
                command(destination, "exit", null);
            }
            command(source, "exit", null);
        }
    }

    @Test
    void aJobCancelledInPrecopyLeavesTheSourceRegionAttachedAndItsWorkloadWriting() throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(DATA_DIR.resolve("migration-e2e"));
        try (NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                "--socket", agent.status().handoffSocket(), "--size", "16M", "--name", name, "--threads", "1")) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            Await.until("the source region to be listed", STEP, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);
            TestApi.Response created = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE, "options", map("postcopy", "manual")));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            String job = created.headers().firstValue("Location").orElseThrow();
            TestApi.Response again = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE));
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.json().path("type").asString())
                    .isEqualTo("https://faultline.dev/problems/migration-in-progress");
            Await.until("precopy", STEP, () -> admin().get(job).json(), j -> phaseIs(j, "PRECOPY") || isFinal(j));

            TestApi.Response cancelled = admin().post(job + "/cancel", map());

            assertThat(cancelled.status()).as(cancelled.body()).isEqualTo(202);
            assertThat(cancelled.json().path("phase").asString()).isEqualTo("CANCELLED");
            long before = command(source, "dump " + dir.resolve(name + ".1"), "dumped").path("writes").asLong();
            long after = Await.until("the workload to go on writing", STEP,
                    () -> command(source, "dump " + dir.resolve(name + ".2"), "dumped").path("writes").asLong(),
                    w -> w > before);
            assertThat(after).isGreaterThan(before);
            assertThat(admin().get("/api/v1/regions/" + regionId).json().path("state").asString()).isEqualTo("ATTACHED");
            TestApi.Response late = admin().post(job + "/start-postcopy", map());
            assertThat(late.status()).isEqualTo(409);
            assertThat(late.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/migration-wrong-phase");
            command(source, "exit", null);
        }
    }

    @Test
    void aDestinationAgentKilledMidPrecopyIsGivenTheJobsSecretAgainAndTheJobCompletesByteForByte()
            throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(DATA_DIR.resolve("migration-e2e"));
        AgentClient destinationAgent = nodes.node(SECOND_NODE).orElseThrow();
        try (NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                "--socket", agent.status().handoffSocket(), "--size", "16M", "--name", name, "--threads", "1")) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            Await.until("the source region to be listed", STEP, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);
            TestApi.Response created = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE, "options", map("postcopy", "manual",
                            "bandwidthLimitBytesPerSec", BANDWIDTH)));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            String job = created.headers().firstValue("Location").orElseThrow();
            Await.until("precopy", STEP, () -> admin().get(job).json(), j -> phaseIs(j, "PRECOPY") || isFinal(j));

            // kill -9 of node-b's agent: the service starts another, which reads the job back from
            // its journal without the secret (never on its disk) and waits, PAUSED, until the
            // service's driver gives it again
            AgentStatus before = destinationAgent.status();
            assertThat(ProcessHandle.of(before.pid()).orElseThrow().destroyForcibly()).isTrue();
            AgentStatus after = destinationAgent.awaitStatus(s -> s.state() == AgentState.READY && s.pid() != null
                    && !s.pid().equals(before.pid()), STEP);
            assertThat(after.state()).as("node-b's agent replaced: %s", after).isEqualTo(AgentState.READY);
            // and the source, which lost its page channel, is connected to the new agent's: a
            // switchover asked for before that is refused (409, the source is paused)
            JsonNode going = Await.until("the job to go on in precopy with the new agent", STEP,
                    () -> admin().get(job).json(), j -> phaseIs(j, "PRECOPY") && reconnected(j) || isFinal(j));
            assertThat(going.path("phase").asString()).as("%s", going).isEqualTo("PRECOPY");

            switchOverAndCompareEveryPage(job, source, name, dir, "postcopy");
            command(source, "exit", null);
        }
    }

    /**
     * This job also runs with zstd on its page channel and with auto-converge (the options are read
     * back from the job table by the restarted driver): compressed pages must arrive byte for byte
     * too, and the source reports its throttle (a manual switchover never throttles: it ended idle).
     */
    @Test
    void aServiceInstanceThatRestartsMidJobCarriesOnFromTheAgentsAndCompletesIt() throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(DATA_DIR.resolve("migration-e2e"));
        try (NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                "--socket", agent.status().handoffSocket(), "--size", "16M", "--name", name, "--threads", "1")) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            Await.until("the source region to be listed", STEP, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);
            TestApi.Response created = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE, "options", map("postcopy", "manual",
                            "bandwidthLimitBytesPerSec", BANDWIDTH, "compress", "zstd", "autoConverge", true)));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            assertThat(created.json().at("/options/compress").asString()).isEqualTo("zstd");
            assertThat(created.json().at("/options/autoConverge").asBoolean()).isTrue();
            String job = created.headers().firstValue("Location").orElseThrow();
            JsonNode precopy = Await.until("precopy", STEP, () -> admin().get(job).json(),
                    j -> phaseIs(j, "PRECOPY") || isFinal(j));
            assertThat(precopy.path("phase").asString()).isEqualTo("PRECOPY");

            // the instance's driver stops, as if the service went down; a fresh one (nothing in
            // memory, as after a restart) takes over from the job table and the agents
            driver.stop();
            MigrationDriver restarted = new MigrationDriver(jobs, engine, directory, properties, clock, transactions,
                    events, secrets);
            try {
                restarted.start();
                JsonNode done = switchOverAndCompareEveryPage(job, source, name, dir,
                        "the switchover, seen by the restarted driver");
                // mig-source fills pages with one byte and a stamp: they compress, and the source counts them
                JsonNode stats = done.path("stats");
                long compressedPages = stats.at("/transferred/compressedPages").asLong();
                assertThat(compressedPages).as("pages sent compressed: %s", stats).isPositive();
                assertThat(stats.at("/transferred/compressedBytes").asLong()).as("what compression saved: %s", stats)
                        .isPositive().isLessThan(compressedPages * 4096);
                assertThat(done.at("/options/compress").asString()).isEqualTo("zstd");
                assertThat(done.at("/options/autoConverge").asBoolean()).isTrue();
                assertThat(stats.at("/throttle/state").asString()).as("the source's throttle: %s", stats)
                        .isEqualTo("stopped");
                assertThat(stats.at("/throttle/throttledMs").asLong()).isZero();
            } finally {
                restarted.stop();
                driver.start();
            }
            command(source, "exit", null);
        }
    }

    /**
     * A writer that stores into its pages the bytes they hold already (mig-source --writer same):
     * with skipUnchanged (the default, not sent) the source leaves those pages out after their first
     * send and counts them; with false (sent, and read back from the job) it sends them again and
     * counts none. Either way every page arrives byte for byte.
     */
    @ParameterizedTest(name = "skipUnchanged {0}")
    @ValueSource(booleans = {true, false})
    void pagesWrittenWithTheBytesTheyHeldAreSentAgainOnlyWhenTheJobSaysSo(boolean skipUnchanged) throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(DATA_DIR.resolve("migration-e2e"));
        try (NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                "--socket", agent.status().handoffSocket(), "--size", "16M", "--name", name, "--threads", "1",
                "--writer", "same")) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            Await.until("the source region to be listed", STEP, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);
            var options = map("postcopy", "manual", "maxPrecopyRounds", 50, "bandwidthLimitBytesPerSec", BANDWIDTH);
            if (!skipUnchanged) {
                options.put("skipUnchanged", false);
            }
            TestApi.Response created = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE, "options", options));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            assertThat(created.json().at("/options/skipUnchanged").asBoolean()).isEqualTo(skipUnchanged);
            String job = created.headers().firstValue("Location").orElseThrow();
            // round 1 sends every page once; the rounds after it find the pages the writer wrote since
            JsonNode precopy = Await.until("precopy rounds after the first", STEP, () -> admin().get(job).json(),
                    j -> phaseIs(j, "PRECOPY") && j.at("/stats/rounds").asLong() >= 3 || isFinal(j));
            assertThat(precopy.path("phase").asString()).as("%s", precopy).isEqualTo("PRECOPY");

            JsonNode done = switchOverAndCompareEveryPage(job, source, name, dir, "the switchover");
            JsonNode stats = done.path("stats");
            assertThat(done.at("/options/skipUnchanged").asBoolean()).isEqualTo(skipUnchanged);
            long unchanged = stats.at("/transferred/unchangedPages").asLong();
            if (skipUnchanged) {
                assertThat(unchanged).as("pages the source left out: %s", stats).isPositive();
            } else {
                assertThat(unchanged).as("none left out: %s", stats).isZero();
                assertThat(stats.at("/transferred/precopyPages").asLong())
                        .as("the written pages were sent again: %s", stats).isGreaterThan(SIZE / 4096);
            }
            command(source, "exit", null);
        }
    }

    /**
     * pushConnections 3: the source pushes the job's pages on three connections (the destination's
     * agent is the same build, so it takes them), reports that in precopy and at the end, and every
     * page arrives byte for byte. Needs the agent's push_connections (an agent without it ignores the
     * option and reports no figure).
     */
    @Test
    void aJobPushedOnThreeConnectionsSaysSoAndArrivesByteForByte() throws Exception {
        String name = "mig-" + shortId();
        Path dir = Files.createDirectories(DATA_DIR.resolve("migration-e2e"));
        try (NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                "--socket", agent.status().handoffSocket(), "--size", "16M", "--name", name, "--threads", "1")) {
            String regionId = JSON.readTree(line(source, "region_id")).path("region_id").asString();
            Await.until("the source region to be listed", STEP, () -> admin().get("/api/v1/regions/" + regionId),
                    r -> r.status() == 200);
            TestApi.Response created = admin().post("/api/v1/migrations", map("regionId", regionId,
                    "destinationNode", SECOND_NODE, "options", map("postcopy", "manual", "maxPrecopyRounds", 50,
                    "bandwidthLimitBytesPerSec", BANDWIDTH, "pushConnections", 3)));
            assertThat(created.status()).as(created.body()).isEqualTo(202);
            assertThat(created.json().at("/options/pushConnections").asInt()).isEqualTo(3);
            String job = created.headers().firstValue("Location").orElseThrow();
            JsonNode precopy = Await.until("precopy rounds", STEP, () -> admin().get(job).json(),
                    j -> phaseIs(j, "PRECOPY") && j.at("/stats/rounds").asLong() >= 2 || isFinal(j));
            assertThat(precopy.path("phase").asString()).as("%s", precopy).isEqualTo("PRECOPY");
            assertThat(precopy.at("/stats/pushConnections").isIntegralNumber())
                    .as("the source reports its connections: %s", precopy.path("stats")).isTrue();
            assertThat(precopy.at("/stats/pushConnections").asInt()).isEqualTo(3);

            JsonNode done = switchOverAndCompareEveryPage(job, source, name, dir, "the switchover");
            assertThat(done.at("/options/pushConnections").asInt()).isEqualTo(3);
            assertThat(done.at("/stats/pushConnections").asInt()).as("kept: %s", done.path("stats")).isEqualTo(3);
            command(source, "exit", null);
        }
    }

    /**
     * Whether both sides of a job run precopy again after the destination's agent restarted: the
     * new agent has the secret back, and the source has reconnected to the address it listens on.
     */
    private boolean reconnected(JsonNode job) {
        UUID id = UUID.fromString(job.path("id").asString());
        Optional<MigrationEngine.Side> destination = engine.get(SECOND_NODE, id);
        Optional<MigrationEngine.Side> source = engine.get(job.path("sourceNode").asString(), id);
        return destination.isPresent() && source.isPresent() && !destination.get().needsSecret()
                && destination.get().channel() != null && destination.get().channel().equals(source.get().channel())
                && source.get().phase() == MigrationPhase.PRECOPY
                && (source.get().error() == null || source.get().error().isEmpty());
    }

    /**
     * Switches the job over now, dumps the (held) source, attaches the destination workload, and
     * checks that every page arrived and the job COMPLETED; returns the completed job.
     */
    private JsonNode switchOverAndCompareEveryPage(String job, NativeTools.Child source, String name, Path dir,
            String switchover) throws IOException {
        TestApi.Response switched = admin().post(job + "/start-postcopy", map());
        assertThat(switched.status()).as(switched.body()).isEqualTo(202);
        JsonNode held = Await.until(switchover, STEP, () -> admin().get(job).json(),
                j -> phaseIs(j, "POSTCOPY") || isFinal(j));
        assertThat(held.path("phase").asString()).as("%s", held).isEqualTo("POSTCOPY");
        Path sourceDump = dir.resolve(name + ".source");
        assertThat(command(source, "dump " + sourceDump, "dumped").path("ok").asBoolean()).isTrue();
        Path destinationDump = dir.resolve(name + ".destination");
        try (NativeTools.Child destination = new NativeTools.Child(NativeTools.demo().toString(), "mig-dest",
                "--socket", held.path("destinationSocket").asString(), "--size", "16M", "--name", name,
                "--dump", destinationDump.toString(), "--mark", Integer.toString(MARKS))) {
            line(destination, "dumped");
            assertThat(differingPages(sourceDump, destinationDump)).as("pages that differ").isEmpty();
            JsonNode done = Await.until("the job to complete", STEP, () -> admin().get(job).json(),
                    MigrationEndToEndTest::isFinal);
            assertThat(done.path("phase").asString()).as("%s", done).isEqualTo("COMPLETED");
            assertThat(done.at("/stats/remainingBytes").asLong()).isZero();
            command(destination, "exit", null);
            return done;
        }
    }

    private static boolean phaseIs(JsonNode job, String phase) {
        return job.path("phase").asString().equals(phase);
    }

    private static boolean isFinal(JsonNode job) {
        return Set.of("COMPLETED", "FAILED", "CANCELLED").contains(job.path("phase").asString());
    }

    private static List<Long> differingPages(Path source, Path destination) throws IOException {
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
