package dev.faultline.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.JpaSliceTest;
import dev.faultline.MutableClock;
import dev.faultline.snapshot.FakeRegionDirectory;
import dev.faultline.snapshot.FakeSnapshotEngine;
import dev.faultline.snapshot.HoldingExecutor;
import dev.faultline.snapshot.RegionInfo;
import dev.faultline.snapshot.SnapshotFilter;
import dev.faultline.snapshot.SnapshotKind;
import dev.faultline.snapshot.SnapshotService;
import dev.faultline.snapshot.SnapshotState;
import dev.faultline.snapshot.SnapshotTestConfig;
import dev.faultline.snapshot.SnapshotView;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The scheduler over a real database with a clock the test moves: ticks are called directly, jobs
 * run on the test's thread once their transaction has committed, and a "restart" is a new
 * scheduler (and job runner recovery) over the same database.
 */
@JpaSliceTest
@Import({SnapshotTestConfig.class, PolicyService.class, PolicyScheduler.class})
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class PolicySchedulerTest {

    static final Instant NINE = Instant.parse("2026-01-05T09:00:00Z");

    @Autowired
    PolicyScheduler scheduler;

    @Autowired
    PolicyService policies;

    @Autowired
    SnapshotService snapshots;

    @Autowired
    SnapshotPolicyRepository policyRepository;

    @Autowired
    PolicyRunRepository runRepository;

    @Autowired
    FakeRegionDirectory regions;

    @Autowired
    FakeSnapshotEngine engine;

    @Autowired
    HoldingExecutor executor;

    @Autowired
    MutableClock clock;

    @Autowired
    SnapshotTestConfig.Restart restart;

    @Autowired
    PlatformTransactionManager transactions;

    @Autowired
    JdbcTemplate jdbc;

    RegionInfo db;
    RegionInfo web;

    @BeforeEach
    void freshWorld() {
        jdbc.update("DELETE FROM snapshot_operation");
        jdbc.update("DELETE FROM snapshot");
        jdbc.update("DELETE FROM snapshot_policy");
        engine.reset();
        executor.reset();
        regions.clear();
        clock.set(SnapshotTestConfig.START); // 08:00
        db = regions.add("db", Map.of("app", "db", "tier", "prod"));
        web = regions.add("web", Map.of("app", "web", "tier", "prod"));
        regions.add("scratch", Map.of("app", "db", "tier", "dev"));
    }

    @Test
    void aDuePolicyRunsOncePerScheduledTimeForEachMatchingRegion() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);

        tickAt("2026-01-05T08:59:59Z");
        assertThat(policySnapshots(policy)).as("not due yet").isEmpty();

        tickAt("2026-01-05T09:00:03Z");
        assertThat(policySnapshots(policy)).extracting(SnapshotView::regionName).containsExactlyInAnyOrder("db", "web");
        assertThat(policySnapshots(policy)).allSatisfy(s -> {
            assertThat(s.state()).isEqualTo(SnapshotState.COMPLETED);
            assertThat(s.requestedBy()).isEqualTo("policy:prod");
        });
        assertThat(policies.get(policy.id()).lastFireTime()).isEqualTo(NINE);

        tickAt("2026-01-05T09:30:00Z");
        tickAt("2026-01-05T10:00:00Z");
        assertThat(policySnapshots(policy)).hasSize(4);
        assertThat(runTimes(policy)).containsExactly(NINE.plusSeconds(3600), NINE.plusSeconds(3600), NINE, NINE);
    }

    @Test
    void twoTicksAtTheSameInstantAndASecondInstanceRunAFireTimeOnce() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);
        clock.set(NINE);

        scheduler.tick();
        scheduler.tick();
        newScheduler().tick();

        assertThat(policySnapshots(policy)).hasSize(2);
        assertThat(runTimes(policy)).hasSize(2);
    }

    @Test
    void aFireTimeIsClaimedOnceEvenByCallersThatReadThePolicyAtTheSameTime() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);
        TransactionTemplate tx = new TransactionTemplate(transactions);
        Instant ten = NINE.plusSeconds(3600);

        assertThat(tx.<Integer>execute(s -> policyRepository.claimFirstFire(policy.id(), policy.version(), NINE))).isEqualTo(1);
        assertThat(tx.<Integer>execute(s -> policyRepository.claimFirstFire(policy.id(), policy.version(), NINE))).isZero();
        assertThat(tx.<Integer>execute(s -> policyRepository.claimNextFire(policy.id(), policy.version(), NINE, ten))).isEqualTo(1);
        assertThat(tx.<Integer>execute(s -> policyRepository.claimNextFire(policy.id(), policy.version(), NINE, ten)))
                .as("a second caller with the same previous fire time").isZero();
        assertThat(tx.<Integer>execute(s -> policyRepository.claimNextFire(policy.id(), policy.version() + 1, ten,
                ten.plusSeconds(3600)))).as("a caller that read an older definition").isZero();
        assertThat(policies.get(policy.id()).version()).as("claims do not change the ETag").isEqualTo(policy.version());
    }

    @Test
    void runsMissedWhileTheServiceWasDownCollapseIntoTheLatestOne() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);

        tickAt("2026-01-05T18:42:00Z"); // ten fire times passed unseen

        assertThat(runTimes(policy)).containsOnly(Instant.parse("2026-01-05T18:00:00Z")).hasSize(2);
        assertThat(policySnapshots(policy)).hasSize(2);
    }

    @Test
    void aPausedPolicyDoesNotRunAndResumingDoesNotReplayWhatWasMissed() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);
        policies.pause(policy.id());

        tickAt("2026-01-05T11:00:00Z");
        assertThat(policySnapshots(policy)).isEmpty();
        assertThat(policies.get(policy.id()).nextRunAt()).isNull();

        clock.set(Instant.parse("2026-01-05T11:20:00Z"));
        policies.resume(policy.id());
        tickAt("2026-01-05T11:30:00Z");
        assertThat(policySnapshots(policy)).as("09:00-11:00 passed while paused").isEmpty();
        assertThat(policies.get(policy.id()).nextRunAt()).isEqualTo(Instant.parse("2026-01-05T12:00:00Z"));

        tickAt("2026-01-05T12:00:00Z");
        assertThat(runTimes(policy)).containsOnly(Instant.parse("2026-01-05T12:00:00Z"));
    }

    @Test
    void aRestartInTheMiddleOfARunNeitherLosesNorDuplicatesIt() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);
        clock.set(NINE);

        schedulerThatDiesOnTheSecondRunRecord().tick(); // dies after the first region's snapshot, before commit
        assertThat(policySnapshots(policy)).as("the half-done run was rolled back").isEmpty();
        assertThat(policies.get(policy.id()).lastFireTime()).as("and its fire time is not claimed").isNull();

        newScheduler().tick(); // the restarted service, still at 09:00
        newScheduler().tick();

        assertThat(policySnapshots(policy)).extracting(SnapshotView::regionName).containsExactlyInAnyOrder("db", "web");
        assertThat(runTimes(policy)).containsExactly(NINE, NINE);
    }

    @Test
    void aRestartAfterARunCommittedRunsItsQueuedJobsWithoutRunningTheFireTimeAgain() {
        PolicyView policy = create("prod", "tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);
        clock.set(NINE);
        executor.hold();

        scheduler.tick();
        assertThat(executor.dropHeldJobs()).as("the service died with both jobs queued").isEqualTo(2);
        assertThat(policySnapshots(policy)).extracting(SnapshotView::state).containsOnly(SnapshotState.PENDING);

        restart.recoverJobs();
        newScheduler().tick();

        assertThat(policySnapshots(policy)).hasSize(2).extracting(SnapshotView::state).containsOnly(SnapshotState.COMPLETED);
        assertThat(engine.takes).hasSize(2);
    }

    @Test
    void aRegionWhoseSnapshotIsStillRunningIsSkippedAndTheReasonRecorded() {
        PolicyView policy = create("db", "app=db,tier=prod", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);
        executor.hold(); // the 09:00 snapshot stays PENDING
        tickAt("2026-01-05T09:00:00Z");

        tickAt("2026-01-05T10:00:00Z");

        List<PolicyRunView> runs = policies.runs(policy.id(), 0, 10).items();
        assertThat(runs).hasSize(2);
        PolicyRunView skipped = runs.get(0);
        assertThat(skipped.fireTime()).isEqualTo(NINE.plusSeconds(3600));
        assertThat(skipped.regionName()).isEqualTo("db");
        assertThat(skipped.snapshotId()).isNull();
        assertThat(skipped.skippedReason()).contains(runs.get(1).snapshotId().toString()).contains("still PENDING");
    }

    @Test
    void aFireTimeThatMatchesNoAttachedRegionIsRecordedAsSuch() {
        regions.add("old", Map.of("app", "legacy"), RegionInfo.State.DETACHED);
        PolicyView policy = create("legacy", "app=legacy", "@hourly", 1, RetentionRules.KEEP_EVERYTHING);

        tickAt("2026-01-05T09:00:00Z");

        assertThat(policies.runs(policy.id(), 0, 10).items()).singleElement().satisfies(run -> {
            assertThat(run.regionId()).isNull();
            assertThat(run.skippedReason()).isEqualTo("no ATTACHED region matches the selector");
        });
    }

    @Test
    void everyNthSnapshotOfARegionIsFullAndTheOthersBuildOnThePreviousOne() {
        PolicyView policy = create("db", "app=db,tier=prod", "@hourly", 3, RetentionRules.KEEP_EVERYTHING);

        for (int hour = 9; hour <= 14; hour++) {
            tickAt(String.format("2026-01-05T%02d:00:00Z", hour));
        }

        List<SnapshotView> oldestFirst = new ArrayList<>(policySnapshots(policy));
        Collections.reverse(oldestFirst);
        assertThat(oldestFirst).extracting(SnapshotView::kind).containsExactly(SnapshotKind.FULL,
                SnapshotKind.INCREMENTAL, SnapshotKind.INCREMENTAL, SnapshotKind.FULL, SnapshotKind.INCREMENTAL,
                SnapshotKind.INCREMENTAL);
        assertThat(oldestFirst.get(1).parentId()).isEqualTo(oldestFirst.get(0).id());
        assertThat(oldestFirst.get(2).parentId()).isEqualTo(oldestFirst.get(1).id());
        assertThat(oldestFirst.get(4).parentId()).isEqualTo(oldestFirst.get(3).id());
    }

    @Test
    void afterEachRunRetentionPrunesExactlyWhatItsRulesLetGo() {
        PolicyView policy = create("db", "app=db,tier=prod", "@hourly", 1, new RetentionRules(2, 0, 0, 0, 0, null, 0));

        for (int hour = 9; hour <= 12; hour++) {
            tickAt(String.format("2026-01-05T%02d:00:00Z", hour));
        }

        List<SnapshotView> all = snapshots.list(new SnapshotFilter(db.id(), policy.id(),
                List.of(SnapshotState.values()), null, null, null), 0, 10).items();
        assertThat(all).extracting(SnapshotView::state).containsExactly(SnapshotState.COMPLETED,
                SnapshotState.COMPLETED, SnapshotState.DELETED, SnapshotState.DELETED);
        assertThat(engine.deleted).extracting(i -> i.snapshotId()).containsExactlyInAnyOrder(all.get(2).id(), all.get(3).id());
    }

    @Test
    void aChainIsKeptWhileItsNewestMemberIsAndPrunedWholeInOnePassOnceItIsNot() {
        PolicyView policy = create("db", "app=db,tier=prod", "@hourly", 3, new RetentionRules(1, 0, 0, 0, 0, null, 0));

        for (int hour = 9; hour <= 11; hour++) {
            tickAt(String.format("2026-01-05T%02d:00:00Z", hour));
        }
        assertThat(engine.deleted).as("11:00 is kept, and so are 10:00 and 09:00 that it builds on").isEmpty();

        tickAt("2026-01-05T12:00:00Z"); // a new full snapshot
        assertThat(engine.deleted).hasSize(3);
        assertThat(policySnapshots(policy)).singleElement().satisfies(s -> assertThat(s.kind()).isEqualTo(SnapshotKind.FULL));
    }

    @Test
    void aPolicysSnapshotsAreNotPrunedWhileAnotherSnapshotBuildsOnThem() {
        PolicyView policy = create("db", "app=db,tier=prod", "@hourly", 1, new RetentionRules(1, 0, 0, 0, 0, null, 0));
        tickAt("2026-01-05T09:00:00Z");
        UUID policyFull = policySnapshots(policy).get(0).id();
        clock.set(Instant.parse("2026-01-05T09:10:00Z"));
        snapshots.take(db.id(), SnapshotKind.INCREMENTAL, policyFull, "ops"); // an operator's incremental on it

        tickAt("2026-01-05T10:00:00Z");

        assertThat(engine.deleted).isEmpty();
        assertThat(policies.preview(policy.id(), 1).retention().snapshots())
                .filteredOn(i -> i.snapshotId().equals(policyFull)).singleElement()
                .satisfies(i -> assertThat(i.reasons()).containsExactly("parent of an incremental snapshot outside this policy"));
    }

    private PolicyView create(String name, String selector, String cron, int fullEvery, RetentionRules retention) {
        return policies.create(new PolicyRequest(name, selector, cron, "UTC", fullEvery,
                PolicyRequest.RetentionSpec.of(retention), false, false));
    }

    private void tickAt(String instant) {
        clock.set(Instant.parse(instant));
        scheduler.tick();
    }

    /** The policy's live snapshots, newest first. */
    private List<SnapshotView> policySnapshots(PolicyView policy) {
        return snapshots.list(new SnapshotFilter(null, policy.id(), null, null, null, null), 0, 100).items();
    }

    private List<Instant> runTimes(PolicyView policy) {
        return policies.runs(policy.id(), 0, 100).items().stream().map(PolicyRunView::fireTime).toList();
    }

    private PolicyScheduler newScheduler() {
        return new PolicyScheduler(policyRepository, runRepository, policies, snapshots, regions, clock, transactions);
    }

    /** A scheduler whose process dies while writing the second region's run record. */
    private PolicyScheduler schedulerThatDiesOnTheSecondRunRecord() {
        AtomicInteger saves = new AtomicInteger();
        PolicyRunRepository dying = (PolicyRunRepository) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {PolicyRunRepository.class}, (proxy, method, args) -> {
                    if (method.getName().equals("save") && saves.incrementAndGet() == 2) {
                        throw new IllegalStateException("the service died here");
                    }
                    try {
                        return method.invoke(runRepository, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        return new PolicyScheduler(policyRepository, dying, policies, snapshots, regions, clock, transactions);
    }
}
