package dev.faultline.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.JpaSliceTest;
import dev.faultline.MutableClock;
import dev.faultline.LatencySummary;
import dev.faultline.agent.AgentMigration;
import dev.faultline.event.EventService;
import dev.faultline.event.EventView;
import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import dev.faultline.security.SecretBox;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.TestPropertySource;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Migration jobs over a real database with fake agents: how a job is set up on both nodes,
 * follows what the agents report, refuses what its phase does not allow, and survives a restart.
 */
@JpaSliceTest
@Import(MigrationTestConfig.class)
@TestPropertySource(properties = "faultline.migrations.poll-interval=0")
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class MigrationJobsTest {

    static final long REGION_BYTES = 256L << 20;

    @Autowired
    SecretBox secrets;

    @Autowired
    org.springframework.jdbc.core.JdbcTemplate jdbc;

    @Autowired
    MigrationService service;

    @Autowired
    MigrationDriver driver;

    @Autowired
    MigrationNodeDown nodeDown;

    @Autowired
    MigrationRepository jobs;

    @Autowired
    FakeMigrationEngine agents;

    @Autowired
    FakeMigrationDirectory directory;

    @Autowired
    MutableClock clock;

    @Autowired
    EventService events;

    @Autowired
    MigrationProperties properties;

    @Autowired
    PlatformTransactionManager transactions;

    MigrationDirectory.Region demo;

    @BeforeEach
    void fresh() {
        jobs.deleteAll();
        agents.reset();
        directory.reset();
        clock.set(MigrationTestConfig.START);
        demo = directory.region("demo", "node-a", REGION_BYTES);
    }

    @Test
    void aJobIsSetUpDestinationFirstThenFollowsTheAgentsToCompletionAndKeepsItsStatistics() {
        MigrationView created = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops");
        assertThat(created.phase()).isEqualTo(MigrationPhase.PENDING);
        assertThat(created.stats().remainingBytes()).isEqualTo(REGION_BYTES);
        UUID id = created.id();

        driver.poll();

        assertThat(agents.calls).containsSubsequence("in@node-b", "out@node-a");
        MigrationEngine.InRequest in = agents.ins.get(0);
        MigrationEngine.OutRequest out = agents.outs.get(0);
        assertThat(in.regionName()).isEqualTo("demo");
        assertThat(in.length()).isEqualTo(REGION_BYTES);
        assertThat(in.secret()).matches("[0-9a-f]{64}").isEqualTo(out.secret());
        assertThat(out.destination()).as("the destination's page channel").isEqualTo(FakeMigrationEngine.CHANNEL);
        assertThat(out.regionId()).isEqualTo(demo.id());
        MigrationView precopy = service.get(id);
        assertThat(precopy.phase()).isEqualTo(MigrationPhase.PRECOPY);
        assertThat(precopy.startedAt()).isEqualTo(clock.instant());
        assertThat(precopy.destinationSocket()).endsWith(id + ".sock");
        assertThat(precopy.timeline()).extracting(MigrationJson.Step::phase)
                .containsExactly(MigrationPhase.PENDING, MigrationPhase.PRECOPY);
        String json = JsonMapper.builder().build().writeValueAsString(precopy);
        assertThat(json).as("the secret never leaves the service").doesNotContain(in.secret())
                .doesNotContainIgnoringCase("secret");
        String stored = jdbc.queryForObject("SELECT secret FROM migration WHERE id = ?", String.class, id);
        assertThat(stored).as("the database holds the secret sealed, not readable").startsWith("v1:")
                .doesNotContain(in.secret());
        assertThat(secrets.open(stored)).isEqualTo(in.secret());

        clock.advance(Duration.ofSeconds(2));
        agents.report("node-a", id, MigrationPhase.PRECOPY, null, source(200L << 20, 100L << 20, 3, 50L << 20));
        agents.report("node-b", id, MigrationPhase.PRECOPY, null, destination(0, null));
        driver.poll();
        MigrationStats live = service.get(id).stats();
        assertThat(live.transferred().precopyBytes()).isEqualTo(200L << 20);
        assertThat(live.remainingBytes()).as("the source's figure, not the destination's zero").isEqualTo(100L << 20);
        assertThat(live.dirtyRateBytesPerSec()).isEqualTo(50L << 20);
        assertThat(live.rounds()).isEqualTo(3);
        assertThat(live.transferred().compressedPages()).as("the source's figure").isEqualTo((200L << 20) / 4096 / 2);
        assertThat(live.transferred().compressedBytes()).isEqualTo(25L << 20);
        assertThat(live.transferred().unchangedPages()).as("the source's figure").isEqualTo((200L << 20) / 4096 / 8);
        assertThat(live.throttle()).as("the source's throttle")
                .isEqualTo(new MigrationStats.Throttle("throttling", 10, 300));
        assertThat(live.pushConnections()).as("the source's figure").isEqualTo(3);
        assertThat(driver.live()).containsKey(id);

        // switchover and the move to postcopy happen between two polls: both still reach the timeline
        Instant held = clock.instant().plusMillis(100);
        agents.switchedOver("node-a", id, held);
        clock.advance(Duration.ofSeconds(1));
        agents.report("node-a", id, MigrationPhase.POSTCOPY, null, source(256L << 20, 10L << 20, 4, 0));
        agents.report("node-b", id, MigrationPhase.POSTCOPY, null, destination(4096 * 10, 7L));
        driver.poll();
        MigrationView postcopy = service.get(id);
        assertThat(postcopy.phase()).isEqualTo(MigrationPhase.POSTCOPY);
        assertThat(postcopy.switchoverAt()).as("when the source held, as the agent said").isEqualTo(held);
        assertThat(postcopy.timeline()).extracting(MigrationJson.Step::phase).containsExactly(MigrationPhase.PENDING,
                MigrationPhase.PRECOPY, MigrationPhase.SWITCHOVER, MigrationPhase.POSTCOPY);
        assertThat(postcopy.stats().downtimeMs()).isEqualTo(7);
        assertThat(postcopy.stats().transferred().demandPages()).isEqualTo(10);
        assertThat(postcopy.stats().demandLatency().p99Ns()).isEqualTo(90_000);

        UUID destinationRegion = UUID.randomUUID();
        agents.attached("node-b", id, destinationRegion);
        clock.advance(Duration.ofSeconds(1));
        agents.report("node-a", id, MigrationPhase.COMPLETED, null, source(256L << 20, 0, 4, 0));
        agents.report("node-b", id, MigrationPhase.COMPLETED, null, destination(4096 * 12, 7L));
        driver.poll();

        MigrationView done = service.get(id);
        assertThat(done.phase()).isEqualTo(MigrationPhase.COMPLETED);
        assertThat(done.completedAt()).isEqualTo(clock.instant());
        assertThat(done.destinationRegionId()).isEqualTo(destinationRegion);
        assertThat(done.stats().remainingBytes()).isZero();
        assertThat(done.stats().transferred().demandPages()).as("kept after completion").isEqualTo(12);
        assertThat(done.stats().pushConnections()).as("kept after completion").isEqualTo(3);
        assertThat(done.stats().downtimeMs()).isEqualTo(7);
        assertThat(driver.live()).as("a finished job leaves the gauges").doesNotContainKey(id);
        assertThat(jobs.findById(id).orElseThrow().secret()).as("wiped once the job ended").isNull();
        assertThat(agents.peek("node-a", id)).as("both agents forgot the job").isEmpty();
        assertThat(agents.peek("node-b", id)).isEmpty();

        List<String> kinds = events.recent(100, "migration", id.toString()).stream().map(EventView::kind).toList();
        assertThat(kinds).contains("migration.phase", "migration.progress", "migration.completed");
        assertThat(events.recent(100, "migration", id.toString())).filteredOn(e -> e.kind().equals("migration.phase"))
                .extracting(EventView::message).anyMatch(m -> m.contains("is POSTCOPY"));
    }

    @Test
    void onlyOneActiveJobPerRegion() {
        MigrationView first = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops");

        assertThatThrownBy(() -> service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Problem.MIGRATION_IN_PROGRESS);
                    assertThat(e.getMessage()).contains(first.id().toString());
                });

        service.cancel(first.id());
        assertThat(service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").phase())
                .as("the region is free again once the job ended").isEqualTo(MigrationPhase.PENDING);
    }

    @Test
    void theRegionAndNodesAreCheckedBeforeAJobIsRecorded() {
        assertProblem(() -> service.create(UUID.randomUUID(), "node-b", MigrationOptions.DEFAULTS, "ops"),
                Problem.NOT_FOUND, "region");
        assertProblem(() -> service.create(demo.id(), "node-z", MigrationOptions.DEFAULTS, "ops"),
                Problem.NOT_FOUND, "node 'node-z' does not exist");
        assertProblem(() -> service.create(demo.id(), "node-a", MigrationOptions.DEFAULTS, "ops"),
                Problem.UNPROCESSABLE, "already on node node-a");
        directory.node("node-b", false);
        assertProblem(() -> service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops"),
                Problem.UNPROCESSABLE, "node-b is DOWN");
        directory.node("node-b", true);
        assertProblem(() -> service.create(demo.id(), "node-b",
                new MigrationOptions(10, 100, 10, MigrationOptions.Postcopy.AUTO, 0, MigrationOptions.Compress.NONE,
                        false, true, 1),
                "ops"),
                Problem.UNPROCESSABLE, "at least one page");
        directory.detach(demo.id());
        assertProblem(() -> service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops"),
                Problem.UNPROCESSABLE, "not attached");
        assertThat(jobs.count()).isZero();
    }

    @Test
    void startPostcopyIsOnlyForAJobInPrecopy() {
        UUID id = service.create(demo.id(), "node-b", manual(), "ops").id();
        assertProblem(() -> service.startPostcopy(id), Problem.MIGRATION_WRONG_PHASE, "PENDING");

        driver.poll();
        MigrationView switching = service.startPostcopy(id);

        assertThat(agents.calls).contains("switchover@node-a");
        assertThat(switching.phase()).isEqualTo(MigrationPhase.SWITCHOVER);
        assertThat(switching.switchoverAt()).isNotNull();
        assertProblem(() -> service.startPostcopy(id), Problem.MIGRATION_WRONG_PHASE, "SWITCHOVER");
        assertThat(agents.count("switchover@node-a")).as("refused before asking the agent").isEqualTo(1);
    }

    @Test
    void anActionChecksThePhaseTheAgentsReportNowNotTheLastPolledOne() {
        UUID id = service.create(demo.id(), "node-b", manual(), "ops").id();
        driver.poll();
        agents.report("node-a", id, MigrationPhase.PAUSED, MigrationPhase.PRECOPY, null);
        agents.report("node-b", id, MigrationPhase.PAUSED, MigrationPhase.PRECOPY, null);
        driver.poll();
        assertThat(service.get(id).phase()).isEqualTo(MigrationPhase.PAUSED);
        // the page channel came back on its own before the next poll
        agents.report("node-a", id, MigrationPhase.PRECOPY, null, null);
        agents.report("node-b", id, MigrationPhase.PRECOPY, null, null);

        assertProblem(() -> service.resume(id), Problem.MIGRATION_WRONG_PHASE, "only a PAUSED job");
        assertThat(agents.calls).doesNotContain("resume@node-a", "resume@node-b");
        MigrationView switching = service.startPostcopy(id);

        assertThat(agents.calls).contains("switchover@node-a");
        assertThat(switching.phase()).isEqualTo(MigrationPhase.SWITCHOVER);
    }

    @Test
    void cancelBeforeSwitchoverLeavesTheSourceUntouchedAndIsRefusedAfter() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();

        MigrationView cancelled = service.cancel(id);

        assertThat(cancelled.phase()).isEqualTo(MigrationPhase.CANCELLED);
        assertThat(agents.calls).contains("cancel@node-a", "cancel@node-b");
        assertThat(events.recent(10, "migration", id.toString())).extracting(EventView::message)
                .anyMatch(m -> m.contains("is CANCELLED"));
        assertProblem(() -> service.cancel(id), Problem.MIGRATION_WRONG_PHASE, "already ended");

        UUID late = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        agents.report("node-a", late, MigrationPhase.POSTCOPY, null, null);
        agents.report("node-b", late, MigrationPhase.POSTCOPY, null, null);
        driver.poll();
        agents.calls.clear();
        assertProblem(() -> service.cancel(late), Problem.MIGRATION_PAST_SWITCHOVER, "resume");
        agents.report("node-a", late, MigrationPhase.PAUSED, MigrationPhase.POSTCOPY, null);
        driver.poll();
        assertThat(service.get(late).phase()).isEqualTo(MigrationPhase.PAUSED);
        assertProblem(() -> service.cancel(late), Problem.MIGRATION_PAST_SWITCHOVER, "PAUSED in POSTCOPY");
        assertThat(agents.calls).doesNotContain("cancel@node-a", "cancel@node-b");
    }

    @Test
    void aSourceThatSwitchedOverMeanwhileTurnsCancelIntoPastSwitchover() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        agents.report("node-a", id, MigrationPhase.SWITCHOVER, null, null);

        assertProblem(() -> service.cancel(id), Problem.MIGRATION_PAST_SWITCHOVER, "switched over meanwhile");
        driver.poll();
        assertThat(service.get(id).phase()).isEqualTo(MigrationPhase.SWITCHOVER);
    }

    @Test
    void aBrokenChannelPausesTheJobAndResumeContinuesWhereItStopped() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        agents.report("node-a", id, MigrationPhase.POSTCOPY, null, null);
        agents.report("node-b", id, MigrationPhase.POSTCOPY, null, null);
        driver.poll();

        agents.report("node-a", id, MigrationPhase.PAUSED, MigrationPhase.POSTCOPY, null);
        agents.report("node-b", id, MigrationPhase.PAUSED, MigrationPhase.POSTCOPY, null);
        driver.poll();
        MigrationView paused = service.get(id);
        assertThat(paused.phase()).isEqualTo(MigrationPhase.PAUSED);
        assertThat(paused.pausedIn()).isEqualTo(MigrationPhase.POSTCOPY);
        assertProblem(() -> service.pause(id), Problem.MIGRATION_WRONG_PHASE, "PAUSED in POSTCOPY");

        MigrationView resumed = service.resume(id);

        assertThat(agents.calls).contains("resume@node-a", "resume@node-b");
        assertThat(resumed.phase()).isEqualTo(MigrationPhase.POSTCOPY);
        assertThat(resumed.pausedIn()).isNull();
        assertThat(resumed.timeline()).extracting(MigrationJson.Step::phase).endsWith(MigrationPhase.POSTCOPY,
                MigrationPhase.PAUSED, MigrationPhase.POSTCOPY);
        assertProblem(() -> service.resume(id), Problem.MIGRATION_WRONG_PHASE, "only a PAUSED job");
    }

    @Test
    void pauseAsksOneAgentAndTheJobPausesInItsPhase() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        assertProblem(() -> service.pause(id), Problem.MIGRATION_WRONG_PHASE, "PENDING");
        driver.poll();

        MigrationView paused = service.pause(id);

        assertThat(agents.calls).contains("pause@node-a");
        assertThat(paused.phase()).isEqualTo(MigrationPhase.PAUSED);
        assertThat(paused.pausedIn()).isEqualTo(MigrationPhase.PRECOPY);
        assertThat(service.cancel(id).phase()).as("paused before switchover: still cancellable")
                .isEqualTo(MigrationPhase.CANCELLED);
    }

    @Test
    void anAgentThatNoLongerKnowsTheJobFailsItCleanlyAndTheSourceIsCancelled() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        agents.forget("node-b", id);

        driver.poll();

        MigrationView failed = service.get(id);
        assertThat(failed.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(failed.error()).isEqualTo("the agent of node node-b no longer knows this migration (was it"
                + " restarted without its state?)");
        assertThat(agents.calls).contains("cancel@node-a");
        assertThat(events.recent(10, "migration", id.toString())).extracting(EventView::kind)
                .contains("migration.failed");
        assertThat(service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").phase())
                .as("the region can be migrated again").isEqualTo(MigrationPhase.PENDING);
    }

    @Test
    void anAgentThatRestartedAndReadTheJobBackIsGivenItsSecretAndTheJobGoesOn() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        String secret = agents.ins.get(0).secret();
        agents.report("node-a", id, MigrationPhase.POSTCOPY, null, null);
        agents.report("node-b", id, MigrationPhase.POSTCOPY, null, null);
        driver.poll();

        // the source agent restarted; its region is not registered again yet: it refuses once
        agents.restarted("node-a", id);
        agents.refuseNext("node-a", "resume", MigrationEngineException.Reason.CONFLICT);
        driver.poll();
        MigrationView waiting = service.get(id);
        assertThat(waiting.phase()).isEqualTo(MigrationPhase.PAUSED);
        assertThat(waiting.pausedIn()).isEqualTo(MigrationPhase.POSTCOPY);

        driver.poll();

        assertThat(agents.resumeSecrets()).as("the sealed secret, opened for the agent").containsExactly(secret);
        MigrationView resumed = service.get(id);
        assertThat(resumed.phase()).isEqualTo(MigrationPhase.POSTCOPY);
        assertThat(resumed.timeline()).extracting(MigrationJson.Step::phase).endsWith(MigrationPhase.POSTCOPY,
                MigrationPhase.PAUSED, MigrationPhase.POSTCOPY);

        // the destination's agent too, and one that needs nothing is not asked
        agents.restarted("node-b", id);
        driver.poll();
        assertThat(agents.resumeSecrets()).containsExactly(secret, secret);
        assertThat(agents.peek("node-b", id).orElseThrow().needsSecret()).isFalse();
        driver.poll();
        assertThat(agents.resumeSecrets()).hasSize(2);
    }

    @Test
    void anAgentReportingAFailureFailsTheJobWithItsReason() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        agents.fail("node-a", id, "page channel: peer failed authentication");

        driver.poll();

        MigrationView failed = service.get(id);
        assertThat(failed.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(failed.error()).isEqualTo("the source agent failed: page channel: peer failed authentication");
        assertThat(agents.calls).contains("cancel@node-b");
    }

    @Test
    void aRefusedSetUpFailsTheJobAndAnUnreachableAgentIsWaitedForUntilTheSetupTimeout() {
        UUID refused = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        agents.refuseNext("node-a", "out", MigrationEngineException.Reason.REFUSED);
        driver.poll();
        MigrationView failed = service.get(refused);
        assertThat(failed.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(failed.error()).isEqualTo("setting up the source failed: the agent of node node-a refused out");
        assertThat(agents.calls).as("the destination drops what it staged").contains("cancel@node-b");

        UUID waiting = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        agents.unavailable("node-b", true);
        driver.poll();
        assertThat(service.get(waiting).phase()).isEqualTo(MigrationPhase.PENDING);
        clock.advance(properties.setupTimeout().plusSeconds(1));
        driver.poll();
        MigrationView timedOut = service.get(waiting);
        assertThat(timedOut.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(timedOut.error()).contains("setting up the destination failed").contains("not READY");
    }

    @Test
    void aRestartedInstanceCarriesOnFromTheAgentsMigrationObjects() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        agents.report("node-a", id, MigrationPhase.POSTCOPY, null, source(256L << 20, 1L << 20, 5, 0));
        agents.report("node-b", id, MigrationPhase.POSTCOPY, null, destination(4096, 3L));

        MigrationDriver restarted = new MigrationDriver(jobs, agents, directory, properties, clock, transactions, events, secrets);
        restarted.poll();

        MigrationView view = service.get(id);
        assertThat(view.phase()).isEqualTo(MigrationPhase.POSTCOPY);
        assertThat(jobs.findById(id).orElseThrow().stats().downtimeMs()).isEqualTo(3);
        assertThat(agents.calls).as("a restarted instance lists what its agents run").contains("list@node-a",
                "list@node-b");
        assertThat(agents.count("in@node-b") + agents.count("out@node-a")).as("nothing set up twice").isEqualTo(2);
    }

    @Test
    void aSetUpInterruptedByARestartFindsBothSidesAlreadyThere() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        String secret = jobs.findById(id).orElseThrow().secret();
        // an instance asked both agents, then stopped before it recorded their answers
        agents.migrateIn("node-b", new MigrationEngine.InRequest(id, "demo", REGION_BYTES, 4096, demo.labels(), secret));
        agents.migrateOut("node-a", new MigrationEngine.OutRequest(id, demo.id(), FakeMigrationEngine.CHANNEL, secret,
                MigrationOptions.DEFAULTS));

        MigrationDriver restarted = new MigrationDriver(jobs, agents, directory, properties, clock, transactions, events, secrets);
        restarted.poll();

        MigrationView view = service.get(id);
        assertThat(view.phase()).isEqualTo(MigrationPhase.PRECOPY);
        assertThat(view.destinationSocket()).isNotNull();
        assertThat(agents.peek("node-a", id)).as("the running source was adopted, not cancelled").isPresent();
    }

    @Test
    void aJobAnAgentRunsThatNoJobOfTheServiceHasIsCancelledAtStart() {
        UUID orphan = UUID.randomUUID();
        agents.migrateIn("node-b", new MigrationEngine.InRequest(orphan, "lost", REGION_BYTES, 4096, Map.of(),
                "0".repeat(64)));

        new MigrationDriver(jobs, agents, directory, properties, clock, transactions, events, secrets).poll();

        assertThat(agents.calls).contains("list@node-a", "list@node-b", "cancel@node-b", "delete@node-b");
        assertThat(agents.peek("node-b", orphan)).isEmpty();
    }

    @Test
    void aNodeThatStoppedReportingFailsTheJobsNotSetUpYetAndLeavesRunningOnesToTheAgents() {
        UUID running = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        MigrationDirectory.Region other = directory.region("other", "node-a", REGION_BYTES);
        UUID pending = service.create(other.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();

        nodeDown.nodeDown("node-b", clock.instant(), "node node-b stopped reporting at " + clock.instant());

        MigrationView failed = service.get(pending);
        assertThat(failed.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(failed.error()).isEqualTo("not set up: node node-b stopped reporting at " + clock.instant());
        assertThat(events.recent(10, "migration", pending.toString())).extracting(EventView::kind)
                .contains("migration.failed");
        assertThat(service.get(running).phase()).isEqualTo(MigrationPhase.PRECOPY);
    }

    @Test
    void anInstanceDrivesOnlyTheSideOfTheNodeItManages() {
        agents.notManaged("node-a");
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();

        driver.poll();

        assertThat(agents.calls).contains("in@node-b").doesNotContain("out@node-a");
        assertThat(service.get(id).phase()).as("the source's instance starts it").isEqualTo(MigrationPhase.PENDING);

        MigrationView cancelled = service.cancel(id);
        assertThat(cancelled.phase()).as("before the source started, the destination alone is cancelled")
                .isEqualTo(MigrationPhase.CANCELLED);
        assertThat(agents.calls).contains("cancel@node-b");
        driver.poll();
        assertThat(agents.peek("node-b", id)).as("and told to forget the job").isEmpty();
        assertThat(jobs.findById(id).orElseThrow().isSourceForgotten()).as("the source's instance does that")
                .isFalse();
    }

    @Test
    void aJobTheSourcesInstanceCompletedIsForgottenOnTheDestinationOnlyOnceItsWorkloadAttached() {
        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        driver.poll();
        // as on node-a's instance: the job ends on the source's report alone
        agents.notManaged("node-b");
        agents.report("node-a", id, MigrationPhase.COMPLETED, null, source(256L << 20, 0, 4, 0));
        agents.report("node-b", id, MigrationPhase.COMPLETED, null, destination(4096 * 12, 7L));
        driver.poll();
        assertThat(service.get(id).phase()).isEqualTo(MigrationPhase.COMPLETED);
        assertThat(service.get(id).destinationRegionId()).isNull();

        // as on node-b's instance: every page is staged, but no workload has attached yet
        agents.managedAgain("node-b");
        driver.poll();
        assertThat(agents.peek("node-b", id)).as("the staging is the region's only current copy").isPresent();

        UUID destinationRegion = UUID.randomUUID();
        agents.attached("node-b", id, destinationRegion);
        driver.poll();
        MigrationView done = service.get(id);
        assertThat(done.destinationRegionId()).as("what only the destination knows is kept")
                .isEqualTo(destinationRegion);
        assertThat(done.stats().downtimeMs()).isEqualTo(7);
        assertThat(done.stats().transferred().demandPages()).isEqualTo(12);
        assertThat(agents.peek("node-b", id)).as("then the destination forgets the job").isEmpty();
        assertThat(jobs.findById(id).orElseThrow().isDestinationForgotten()).isTrue();
    }

    @Test
    void aJobsOptionsAreHandedToTheSource() {
        MigrationOptions options = new MigrationOptions(25, 1L << 30, 3, MigrationOptions.Postcopy.MANUAL, 30_000,
                MigrationOptions.Compress.ZSTD, true, false, 4);
        UUID id = service.create(demo.id(), "node-b", options, "ops").id();

        driver.poll();

        assertThat(agents.outs.get(0).options()).isEqualTo(options);
        assertThat(service.get(id).options()).isEqualTo(options);
    }

    private static MigrationOptions manual() {
        return new MigrationOptions(10, 0, 10, MigrationOptions.Postcopy.MANUAL, 30_000,
                MigrationOptions.Compress.NONE, false, true, 1);
    }

    /**
     * What a source measures; the destination's figures are zero there. Half the pages sent
     * travelled compressed, at a quarter of their size; auto-converge throttles the workload
     * 10% per round past the second; an eighth as many pages again were found unchanged and not sent;
     * the pages are pushed on 3 connections.
     */
    static AgentMigration.Stats source(long sent, long remaining, long rounds, long dirtyRate) {
        return new AgentMigration.Stats(REGION_BYTES, 12L, 3000L, null, sent, sent / 4096, 0L, 0L, 0L, 0L,
                remaining, dirtyRate, rounds, 0L, new LatencySummary(0, 0L, 0L, null, 0), 0L, 1L << 30,
                sent / 4096 / 2, sent / 8, sent / 4096 / 8, "throttling", Math.max(0, rounds - 2) * 10, rounds * 100, 3L);
    }

    /** What a destination measures; the source's figures are zero there. */
    static AgentMigration.Stats destination(long demandBytes, Long downtime) {
        return new AgentMigration.Stats(REGION_BYTES, 0L, 2900L, downtime, 0L, 0L, 0L, 0L, demandBytes,
                demandBytes / 4096, 0L, 0L, 0L, 0L, new LatencySummary(demandBytes / 4096, 40_000L, 90_000L, null,
                        120_000), 1_000_000L, 0L, null, null, null, null, null, null, null);
    }

    private static void assertProblem(Runnable call, Problem kind, String detail) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(DomainException.class, e -> {
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.getMessage()).contains(detail);
        });
    }
}
