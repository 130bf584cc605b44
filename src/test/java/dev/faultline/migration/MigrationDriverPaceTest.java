package dev.faultline.migration;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.JpaSliceTest;
import dev.faultline.MutableClock;
import dev.faultline.event.EventService;
import dev.faultline.security.SecretBox;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.TestPropertySource;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The driver's own loop (the other migration tests call {@link MigrationDriver#poll()} by hand):
 * it reads the job table at the poll interval only while a job runs, waits the idle interval
 * otherwise, starts a job created through this instance at once, and keeps doing so after it
 * was stopped and started again, as {@code MigrationEndToEndTest} does when it restarts it.
 */
@JpaSliceTest
@Import(MigrationTestConfig.class)
@TestPropertySource(properties = {"faultline.migrations.poll-interval=50ms",
        "faultline.migrations.idle-poll-interval=1s"})
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class MigrationDriverPaceTest {

    private static final Duration STEP = Duration.ofSeconds(30);

    @Autowired
    MigrationService service;

    @Autowired
    MigrationDriver driver;

    @Autowired
    MigrationRepository jobs;

    @Autowired
    FakeMigrationEngine agents;

    @Autowired
    FakeMigrationDirectory directory;

    @Autowired
    MutableClock clock;

    @Autowired
    MigrationProperties properties;

    @Autowired
    SecretBox secrets;

    @Autowired
    EventService events;

    @Autowired
    PlatformTransactionManager transactions;

    MigrationDirectory.Region demo;

    @BeforeEach
    void fresh() {
        jobs.deleteAll();
        agents.reset();
        directory.reset();
        clock.set(MigrationTestConfig.START);
        demo = directory.region("demo", "node-a", MigrationJobsTest.REGION_BYTES);
    }

    @Test
    void anIdleDriverWaitsTheIdleIntervalAndARunningJobIsFollowedAtThePollInterval() {
        assertThat(properties.idlePollInterval()).isGreaterThan(properties.pollInterval());
        Await.until("the driver to find nothing to follow", STEP, driver::pace, properties.idlePollInterval()::equals);

        UUID id = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();

        Await.until("the job set up on both agents", STEP, () -> service.get(id).phase(), MigrationPhase.PRECOPY::equals);
        Await.until("the running job to be followed at the poll interval", STEP, driver::pace,
                properties.pollInterval()::equals);

        endOnBothAgents(id);
        Await.until("both agents to forget the ended job", STEP, () -> jobs.findById(id).orElseThrow(),
                j -> j.isSourceForgotten() && j.isDestinationForgotten());
        Await.until("the driver to go idle again", STEP, driver::pace, properties.idlePollInterval()::equals);
    }

    /**
     * What broke the first idle driver (branch density3): its next round was a future kept across
     * stop and start. After a stop with a round pending, the new loop saw that stale (cancelled,
     * overdue) round as "scheduled soon enough" and never scheduled one: every job created after
     * was set up by the kick and then never followed (MigrationEndToEndTest, the Ansible target).
     */
    /**
     * What broke the first idle driver (branch density3): its next round was a future kept across
     * stop and start. Stopped while it waited for a round, the new loop took that cancelled,
     * overdue round for one coming soon and never scheduled one: every job created after was set
     * up by the kick and then never followed (MigrationEndToEndTest, the Ansible target). A
     * driver stopped in the middle of a round escaped it, so this restarts it a few times.
     */
    @Test
    void aDriverStoppedWhileFollowingAJobAndStartedAgainFollowsTheJobsCreatedAfterwards() {
        for (int restart = 0; restart < 3; restart++) {
            UUID running = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
            Await.until("the job in precopy", STEP, () -> service.get(running).phase(),
                    MigrationPhase.PRECOPY::equals);
            agents.report("node-a", running, MigrationPhase.POSTCOPY, null, null);
            agents.report("node-b", running, MigrationPhase.POSTCOPY, null, null);
            Await.until("the job followed into postcopy", STEP, () -> service.get(running).phase(),
                    MigrationPhase.POSTCOPY::equals);

            // as MigrationEndToEndTest restarts the service: a fresh driver finishes the job meanwhile
            driver.stop();
            MigrationDriver restarted = new MigrationDriver(jobs, agents, directory, properties, clock, transactions,
                    events, secrets);
            try {
                restarted.start();
                endOnBothAgents(running);
                Await.until("the job to complete, followed by the restarted driver", STEP,
                        () -> service.get(running).phase(), MigrationPhase.COMPLETED::equals);
            } finally {
                restarted.stop();
                driver.start();
            }
        }
        UUID last = service.create(demo.id(), "node-b", MigrationOptions.DEFAULTS, "ops").id();
        Await.until("the last job in precopy", STEP, () -> service.get(last).phase(), MigrationPhase.PRECOPY::equals);
        agents.report("node-a", last, MigrationPhase.POSTCOPY, null, null);
        agents.report("node-b", last, MigrationPhase.POSTCOPY, null, null);
        Await.until("the last job followed into postcopy", STEP, () -> service.get(last).phase(),
                MigrationPhase.POSTCOPY::equals);
    }

    @Test
    void aJobCreatedThroughAnotherInstanceIsPickedUpWithoutAKick() {
        Await.until("the driver to find nothing to follow", STEP, driver::pace, properties.idlePollInterval()::equals);
        // what another instance's create leaves: the row (and its event), no kick on this instance
        Migration job = new Migration(demo.id(), demo.name(), demo.length(), demo.node(), "node-b",
                MigrationOptions.DEFAULTS, secrets.seal("00".repeat(32)), "ops", clock.instant());
        UUID id = new TransactionTemplate(transactions).execute(status -> jobs.saveAndFlush(job).id());

        Await.until("the job set up by the idle poll", STEP, () -> service.get(id).phase(),
                MigrationPhase.PRECOPY::equals);
    }

    private void endOnBothAgents(UUID id) {
        agents.report("node-a", id, MigrationPhase.COMPLETED, null, null);
        agents.report("node-b", id, MigrationPhase.COMPLETED, null, null);
        agents.attached("node-b", id, UUID.randomUUID());
    }
}
