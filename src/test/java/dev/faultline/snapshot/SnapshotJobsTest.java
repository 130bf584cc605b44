package dev.faultline.snapshot;

import dev.faultline.LatencySummary;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.JpaSliceTest;
import dev.faultline.event.EventService;
import dev.faultline.event.EventView;
import dev.faultline.MutableClock;
import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;
import org.springframework.util.unit.DataSize;

/**
 * The catalog and its job runner over a real database, with a fake engine: jobs run on the test's
 * thread right after the transaction that started them commits, as they would on the executor.
 */
@JpaSliceTest
@Import(SnapshotTestConfig.class)
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class SnapshotJobsTest {

    @Autowired
    EventService events;

    @Autowired
    SnapshotService service;

    @Autowired
    SnapshotJobs jobs;

    @Autowired
    SnapshotRepository snapshots;

    @Autowired
    SnapshotOperationRepository operations;

    @Autowired
    FakeSnapshotEngine engine;

    @Autowired
    FakeRestoreSessions restoreSessions;

    @Autowired
    SnapshotMetrics metrics;

    @Autowired
    io.micrometer.core.instrument.MeterRegistry meters;

    @Autowired
    SnapshotNodeDown nodeDown;

    @Autowired
    FakeRegionDirectory regions;

    @Autowired
    HoldingExecutor executor;

    @Autowired
    MutableClock clock;

    @Autowired
    SnapshotProperties properties;

    @Autowired
    PlatformTransactionManager transactions;

    RegionInfo db;

    @BeforeEach
    void emptyCatalog() {
        operations.deleteAll();
        snapshots.deleteAll();
        engine.reset();
        executor.reset();
        regions.clear();
        db = regions.add("db", Map.of("app", "db"));
    }

    @Test
    void aSnapshotTakenWithAWorkingEngineCompletesWithTheEngineMeasurements() {
        long timed = duration("full", "completed").count();
        SnapshotView pending = service.take(db.id(), SnapshotKind.FULL, null, "ops");

        assertThat(pending.state()).as("the API answers before the job has run").isEqualTo(SnapshotState.PENDING);
        SnapshotView done = service.get(pending.id());
        assertThat(done.state()).isEqualTo(SnapshotState.COMPLETED);
        assertThat(done.regionName()).isEqualTo("db");
        assertThat(done.regionLabels()).containsEntry("app", "db");
        assertThat(done.pages()).isEqualTo(new SnapshotView.Pages(2048, 1500, 300));
        assertThat(done.writerStall()).isEqualTo(new LatencySummary(12, null, null, 95_000L, 180_000));
        assertThat(done.quiesced()).isEqualTo(Quiesce.YES);
        assertThat(done.checksum()).isEqualTo("sha256:" + done.id());
        assertThat(done.verification().state()).isEqualTo(VerifiedState.UNVERIFIED);
        assertThat(duration("full", "completed").count()).as("its duration is in the histogram").isEqualTo(timed + 1);
        assertThat(done.imagePath()).isEqualTo(properties.dir().resolve(db.id().toString()).resolve(done.id() + ".img").toString());
        assertThat(engine.takes).singleElement().satisfies(t -> {
            assertThat(t.kind()).isEqualTo(SnapshotKind.FULL);
            assertThat(t.parent()).isNull();
            assertThat(t.path()).isEqualTo(Path.of(done.imagePath()));
        });
    }

    @Test
    void withTheUnavailableEngineTheJobFailsWithAClearMessage() {
        engine.makeUnavailable();

        SnapshotView snapshot = service.get(service.take(db.id(), SnapshotKind.FULL, null, "ops").id());

        assertThat(snapshot.state()).isEqualTo(SnapshotState.FAILED);
        assertThat(snapshot.error()).isEqualTo("snapshot engine not available in this agent version");
        assertThat(snapshots.findById(snapshot.id()).orElseThrow().regionId()).isEqualTo(db.id());
        assertThat(snapshots.findByActiveRegionId(db.id())).as("the region is free again").isEmpty();
    }

    @Test
    void onlyOneSnapshotJobRunsPerRegionAtATime() {
        executor.hold();
        SnapshotView first = service.take(db.id(), SnapshotKind.FULL, null, "ops");

        assertThatThrownBy(() -> service.take(db.id(), SnapshotKind.FULL, null, "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.kind()).isEqualTo(Problem.SNAPSHOT_IN_PROGRESS))
                .hasMessageContaining(first.id().toString());
        RegionInfo other = regions.add("web", Map.of());
        assertThat(service.take(other.id(), SnapshotKind.FULL, null, "ops").state()).as("other regions are not held up")
                .isEqualTo(SnapshotState.PENDING);
    }

    @Test
    void aDetachedOrUnknownRegionCannotBeSnapshotted() {
        RegionInfo gone = regions.add("gone", Map.of(), RegionInfo.State.DETACHED);

        assertThatThrownBy(() -> service.take(gone.id(), SnapshotKind.FULL, null, "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.kind()).isEqualTo(Problem.CONFLICT))
                .hasMessageContaining("DETACHED");
        assertThatThrownBy(() -> service.take(UUID.randomUUID(), SnapshotKind.FULL, null, "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.kind()).isEqualTo(Problem.NOT_FOUND));
    }

    @Test
    void anIncrementalSnapshotIsBasedOnTheRegionsLatestCompletedSnapshot() {
        SnapshotView full = service.take(db.id(), SnapshotKind.FULL, null, "ops");
        clock.advance(Duration.ofMinutes(1));

        SnapshotView incremental = service.take(db.id(), SnapshotKind.INCREMENTAL, null, "ops");

        assertThat(incremental.parentId()).isEqualTo(full.id());
        assertThat(engine.takes.get(1).parent()).isEqualTo(new SnapshotEngine.Image(full.id(), Path.of(full.imagePath())));
    }

    @Test
    void anIncrementalSnapshotWithoutACompletedBaseIsRefused() {
        assertThatThrownBy(() -> service.take(db.id(), SnapshotKind.INCREMENTAL, null, "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.kind()).isEqualTo(Problem.CONFLICT))
                .hasMessageContaining("take a FULL snapshot first");
        assertThatThrownBy(() -> service.take(db.id(), SnapshotKind.FULL, UUID.randomUUID(), "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.kind()).isEqualTo(Problem.UNPROCESSABLE));
    }

    @Test
    void aJobFailsBeforeTheEngineWritesWhenTheDiskIsNearlyFull() {
        executor.hold();
        UUID id = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        executor.dropHeldJobs();
        SnapshotJobs withHugeMinimum = new SnapshotJobs(snapshots, operations, service, node -> engine,
                new SnapshotProperties(properties.dir(), DataSize.ofTerabytes(1_000_000), 1), clock, Runnable::run,
                transactions, events, () -> Set.of(SnapshotTestConfig.NODE), restoreSessions, metrics);

        double noSpace = failures("full", "no_space");
        withHugeMinimum.take(id);

        SnapshotView failed = service.get(id);
        assertThat(failed.state()).isEqualTo(SnapshotState.FAILED);
        assertThat(failed.error()).startsWith("only ").contains(" MiB are free in " + properties.dir())
                .endsWith("less than faultline.snapshots.min-free-space (1048576000000 MiB)");
        assertThat(engine.takes).as("the engine was not asked").isEmpty();
        assertThat(failures("full", "no_space")).as("counted by its reason class").isEqualTo(noSpace + 1);
    }

    @Test
    void aFailureIsClassifiedByWhatAnOperatorDoesAboutIt() {
        assertThat(SnapshotMetrics.classify(new SnapshotEngineException("taking snapshot x failed: the agent is not"
                + " available", new dev.faultline.agent.AgentException("UNAVAILABLE", "agent is DOWN"))))
                .isEqualTo(SnapshotMetrics.Reason.AGENT_UNAVAILABLE);
        assertThat(SnapshotMetrics.classify(new SnapshotEngineException("not enough disk space",
                new dev.faultline.agent.AgentException("NO_SPACE", "ENOSPC")))).isEqualTo(SnapshotMetrics.Reason.NO_SPACE);
        assertThat(SnapshotMetrics.classify(new SnapshotEngineException("checksum", new dev.faultline.agent.AgentException(
                "BAD_REQUEST", "page 3")))).isEqualTo(SnapshotMetrics.Reason.AGENT_ERROR);
        assertThat(SnapshotMetrics.classify(new SnapshotEngineException("the workload was not quiesced (TIMEOUT) and"
                + " the policy requires quiesce"))).isEqualTo(SnapshotMetrics.Reason.NOT_QUIESCED);
        assertThat(SnapshotMetrics.classify(new IllegalStateException("boom"))).isEqualTo(SnapshotMetrics.Reason.OTHER);
    }

    private io.micrometer.core.instrument.Timer duration(String kind, String outcome) {
        return meters.get(SnapshotMetrics.DURATION).tags("kind", kind, "outcome", outcome).timer();
    }

    private double failures(String kind, String reason) {
        return meters.get(SnapshotMetrics.FAILURES).tags("kind", kind, "reason", reason).counter().count();
    }

    @Test
    void aSnapshotThatWasNotQuiescedWhileQuiesceIsRequiredFailsAndItsImageIsDiscarded() {
        engine.reportQuiesced(Quiesce.TIMEOUT);
        executor.hold();
        UUID id = new TransactionTemplate(transactions).execute(status ->
                service.takeForPolicy(new SnapshotService.PolicyTake(db, UUID.randomUUID(), "strict", 1, true))
                        .snapshotId());
        executor.dropHeldJobs();

        jobs.take(id);

        SnapshotView required = service.get(id);
        assertThat(required.state()).isEqualTo(SnapshotState.FAILED);
        assertThat(required.error()).contains("not quiesced (TIMEOUT)").contains("requires quiesce");
        assertThat(engine.deleted).extracting(SnapshotEngine.Image::snapshotId).containsExactly(id);
    }

    @Test
    void afterARestartRunningJobsAreFailedAndPendingOnesRun() {
        RegionInfo web = regions.add("web", Map.of());
        executor.hold();
        UUID running = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        UUID pending = service.take(web.id(), SnapshotKind.FULL, null, "ops").id();
        executor.dropHeldJobs(); // the service died with both jobs queued...
        new TransactionTemplate(transactions).executeWithoutResult(status ->
                snapshots.findById(running).orElseThrow().start(clock.instant())); // ...after one had started

        jobs.recoverAfterRestart();

        // failed, and its image (the agent may have completed it without us) deleted
        assertThat(service.get(running).state()).isEqualTo(SnapshotState.DELETED);
        assertThat(service.get(running).error()).isEqualTo("interrupted by restart");
        assertThat(engine.deleted).extracting(SnapshotEngine.Image::snapshotId).containsExactly(running);
        assertThat(service.get(pending).state()).isEqualTo(SnapshotState.COMPLETED);
        assertThat(snapshots.findByActiveRegionId(db.id())).isEmpty();
    }

    @Test
    void verifyingRecordsWhetherThePageChecksumsHold() {
        UUID id = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        clock.advance(Duration.ofHours(1));

        SnapshotOperationView op = service.verify(id, "ops");

        assertThat(op.kind()).isEqualTo(OperationKind.VERIFY);
        SnapshotOperationView done = service.operation(id, op.id());
        assertThat(done.state()).isEqualTo(OperationState.SUCCEEDED);
        assertThat(done.result()).isEqualTo("VERIFIED: 2048 pages intact");
        assertThat(service.get(id).verification()).isEqualTo(
                new SnapshotView.Verification(VerifiedState.VERIFIED, clock.instant()));

        engine.findCorruption();
        clock.advance(Duration.ofHours(1));
        service.verify(id, "ops");
        assertThat(service.get(id).verification().state()).isEqualTo(VerifiedState.CORRUPT);
        assertThat(service.operations(id)).extracting(SnapshotOperationView::result)
                .containsExactly("CORRUPT: page 17: checksum mismatch", "VERIFIED: 2048 pages intact");
    }

    @Test
    void restoringAnIncrementalSnapshotHandsTheEngineItsWholeChainFullFirst() {
        UUID full = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        clock.advance(Duration.ofMinutes(1));
        UUID incremental = service.take(db.id(), SnapshotKind.INCREMENTAL, null, "ops").id();

        SnapshotOperationView op = service.restore(incremental, "db-restored", null, "ops");

        SnapshotOperationView done = service.operation(incremental, op.id());
        assertThat(done.state()).isEqualTo(OperationState.SUCCEEDED);
        assertThat(engine.restores).singleElement().satisfies(r -> {
            assertThat(r.sessionId()).isEqualTo(done.restoreId());
            assertThat(r.snapshotId()).isEqualTo(incremental);
            assertThat(r.chain()).extracting(SnapshotEngine.Image::snapshotId).containsExactly(full, incremental);
            assertThat(r.name()).isEqualTo("db-restored");
            assertThat(r.labels()).as("labels default to the region's").isEqualTo(Map.of("app", "db"));
            assertThat(r.verify()).as("served straight from the files, each page checked as it goes").isFalse();
        });
        assertThat(restoreSessions.recorded).as("recorded by the restore feature like any session")
                .contains(new FakeRestoreSessions.Recorded(SnapshotTestConfig.NODE, done.restoreId()));
    }

    @Test
    void aChainWithALinkFoundCorruptIsCheckedWholeBeforeItIsServed() {
        UUID full = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        clock.advance(Duration.ofMinutes(1));
        UUID incremental = service.take(db.id(), SnapshotKind.INCREMENTAL, null, "ops").id();
        engine.findCorruption();
        service.verify(full, "ops");
        assertThat(service.get(full).verification().state()).isEqualTo(VerifiedState.CORRUPT);

        service.restore(incremental, "db-restored", null, "ops");

        assertThat(engine.restores).singleElement().satisfies(r -> assertThat(r.verify())
                .as("the agent reads the whole chain first and refuses it with the page").isTrue());
    }

    @Test
    void aRestoreWhoseSessionCannotBeRecordedFailsWithTheReason() {
        UUID full = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        restoreSessions.failing = "the database is read-only";

        SnapshotOperationView op = service.restore(full, "unrecorded", null, "ops");

        SnapshotOperationView done = service.operation(full, op.id());
        assertThat(done.state()).isEqualTo(OperationState.FAILED);
        assertThat(done.error()).contains("the database is read-only");
        assertThat(done.restoreId()).isNull();
    }

    @Test
    void aSnapshotAnIncrementalDependsOnIsOnlyDeletedByConsolidatingItIntoTheDependent() {
        UUID full = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        clock.advance(Duration.ofMinutes(1));
        UUID child = service.take(db.id(), SnapshotKind.INCREMENTAL, null, "ops").id();

        assertThatThrownBy(() -> service.delete(full, false, "ops"))
                .isInstanceOfSatisfying(DomainException.class,
                        e -> assertThat(e.kind()).isEqualTo(Problem.SNAPSHOT_HAS_DEPENDENTS))
                .hasMessageContaining(child.toString()).hasMessageContaining("consolidate=true");

        SnapshotOperationView op = service.delete(full, true, "ops").orElseThrow();

        assertThat(service.operation(full, op.id()).result()).isEqualTo("consolidated into 1 dependent snapshot(s), then deleted");
        assertThat(service.get(full).state()).isEqualTo(SnapshotState.DELETED);
        SnapshotView rebased = service.get(child);
        assertThat(rebased.kind()).isEqualTo(SnapshotKind.FULL);
        assertThat(rebased.parentId()).isNull();
        assertThat(rebased.checksum()).isEqualTo("sha256:merged-" + child);
        assertThat(engine.consolidated).singleElement()
                .satisfies(pair -> assertThat(pair).extracting(SnapshotEngine.Image::snapshotId).containsExactly(full, child));
        assertThat(engine.deleted).extracting(SnapshotEngine.Image::snapshotId).containsExactly(full);
    }

    @Test
    void aFailedConsolidationLeavesTheChainAsItWas() {
        UUID full = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        clock.advance(Duration.ofMinutes(1));
        UUID child = service.take(db.id(), SnapshotKind.INCREMENTAL, null, "ops").id();
        engine.makeUnavailable();

        SnapshotOperationView op = service.delete(full, true, "ops").orElseThrow();

        SnapshotOperationView failed = service.operation(full, op.id());
        assertThat(failed.state()).isEqualTo(OperationState.FAILED);
        assertThat(failed.error()).isEqualTo("snapshot engine not available in this agent version");
        assertThat(service.get(full).state()).as("still usable").isEqualTo(SnapshotState.COMPLETED);
        assertThat(service.get(child).parentId()).isEqualTo(full);
        assertThat(engine.deleted).isEmpty();
    }

    @Test
    void aFailedSnapshotIsDeletedAndASecondDeleteHasNothingLeftToDo() {
        engine.makeUnavailable();
        UUID failed = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();

        SnapshotOperationView op = service.delete(failed, false, "ops").orElseThrow();

        assertThat(service.operation(failed, op.id()).state()).isEqualTo(OperationState.SUCCEEDED);
        assertThat(service.get(failed).state()).isEqualTo(SnapshotState.DELETED);
        assertThat(service.get(failed).deletedAt()).isEqualTo(clock.instant());
        assertThat(service.delete(failed, false, "ops")).isEmpty();
        assertThat(service.list(new SnapshotFilter(db.id(), null, null, null, null, null), 0, 10).items())
                .as("deleted snapshots are left out of lists").isEmpty();
    }

    @Test
    void aDeletionInterruptedByARestartIsResumedNotUndone() {
        UUID id = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        executor.hold();
        UUID op = service.delete(id, false, "ops").orElseThrow().id();
        executor.dropHeldJobs();
        new TransactionTemplate(transactions).executeWithoutResult(status ->
                operations.findById(op).orElseThrow().start(clock.instant()));

        jobs.recoverAfterRestart();

        assertThat(service.operation(id, op).error()).isEqualTo("interrupted by restart");
        assertThat(service.get(id).state()).isEqualTo(SnapshotState.DELETED);
        assertThat(service.operations(id)).extracting(SnapshotOperationView::state)
                .containsExactlyInAnyOrder(OperationState.SUCCEEDED, OperationState.FAILED);
    }

    @Test
    void onlyACompletedSnapshotCanBeVerifiedOrRestoredAndOneOperationRunsAtATime() {
        engine.makeUnavailable();
        UUID failed = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        assertThatThrownBy(() -> service.restore(failed, null, null, "ops")).hasMessageContaining("is FAILED");

        engine.reset();
        UUID id = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        executor.hold();
        service.verify(id, "ops");
        assertThatThrownBy(() -> service.delete(id, false, "ops"))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.kind()).isEqualTo(Problem.CONFLICT))
                .hasMessageContaining("VERIFY operation");
        assertThat(service.prune(id, "policy:x")).hasValueSatisfying(why -> assertThat(why).contains("VERIFY operation"));
        assertThat(Optional.of(service.get(id).state())).contains(SnapshotState.COMPLETED);
    }

    @Test
    void aTakeOfANodeAnotherInstanceManagesIsLeftToItAndOneOfOursCreatedElsewhereIsStartedByThePoller() {
        RegionInfo elsewhere = regions.add("cache", Map.of(), RegionInfo.State.ATTACHED, "node-z");
        UUID theirs = service.take(elsewhere.id(), SnapshotKind.FULL, null, "ops").id();
        jobs.startPending();
        assertThat(service.get(theirs).state()).as("node-z's instance runs it").isEqualTo(SnapshotState.PENDING);
        assertThat(engine.takes).isEmpty();

        // as if another instance had recorded it: no event here, only the row
        UUID ours = UUID.randomUUID();
        new TransactionTemplate(transactions).executeWithoutResult(status -> snapshots.save(new Snapshot(ours, db,
                SnapshotKind.FULL, null, null, false, "ops", properties.dir().resolve(ours + ".img"), clock.instant())));
        jobs.startPending();
        assertThat(service.get(ours).state()).isEqualTo(SnapshotState.COMPLETED);
        assertThat(engine.takes).extracting(SnapshotEngine.TakeRequest::snapshotId).containsExactly(ours);
    }

    @Test
    void aRegionOfANodeThatIsDownIsNotSnapshottedAndAPolicySaysWhy() {
        RegionInfo elsewhere = regions.add("cache", Map.of(), RegionInfo.State.ATTACHED, "node-gone");
        SnapshotTestConfig.DOWN_NODES.add("node-gone");
        try {
            assertThatThrownBy(() -> service.take(elsewhere.id(), SnapshotKind.FULL, null, "ops"))
                    .isInstanceOfSatisfying(DomainException.class,
                            e -> assertThat(e.kind()).isEqualTo(Problem.AGENT_UNAVAILABLE))
                    .hasMessageContaining("node node-gone is DOWN");
            SnapshotService.PolicyTakeOutcome skipped = new TransactionTemplate(transactions).execute(status ->
                    service.takeForPolicy(new SnapshotService.PolicyTake(elsewhere, UUID.randomUUID(), "p", 1, false)));
            assertThat(skipped.snapshotId()).isNull();
            assertThat(skipped.skippedReason()).contains("node node-gone is DOWN");
        } finally {
            SnapshotTestConfig.DOWN_NODES.remove("node-gone");
        }
    }

    @Test
    void aRestartLeavesTheRunningJobsOfOtherInstancesNodesAlone() {
        RegionInfo elsewhere = regions.add("cache", Map.of(), RegionInfo.State.ATTACHED, "node-z");
        UUID theirs = service.take(elsewhere.id(), SnapshotKind.FULL, null, "ops").id();
        new TransactionTemplate(transactions).executeWithoutResult(status ->
                snapshots.findById(theirs).orElseThrow().start(clock.instant())); // node-z's instance runs it

        jobs.recoverAfterRestart();

        assertThat(service.get(theirs).state()).isEqualTo(SnapshotState.RUNNING);
    }

    @Test
    void theUnfinishedJobsOfANodeThatStoppedReportingFailWithWhyAndTheRegionCanBeSnapshottedAgain() {
        executor.hold();
        UUID take = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        executor.dropHeldJobs();
        new TransactionTemplate(transactions).executeWithoutResult(status ->
                snapshots.findById(take).orElseThrow().start(clock.instant()));
        RegionInfo elsewhere = regions.add("cache", Map.of(), RegionInfo.State.ATTACHED, "node-z");
        UUID otherNode = service.take(elsewhere.id(), SnapshotKind.FULL, null, "ops").id();

        new TransactionTemplate(transactions).executeWithoutResult(status -> nodeDown.nodeDown(SnapshotTestConfig.NODE,
                clock.instant(), "node node-a stopped reporting at " + clock.instant()));

        SnapshotView failed = service.get(take);
        assertThat(failed.state()).isEqualTo(SnapshotState.FAILED);
        assertThat(failed.error()).isEqualTo("node node-a stopped reporting at " + clock.instant());
        assertThat(service.get(otherNode).state()).isEqualTo(SnapshotState.PENDING);
        assertThat(events.recent(5, "snapshot", take.toString())).extracting(EventView::kind).contains("snapshot.failed");
        assertThat(service.take(db.id(), SnapshotKind.FULL, null, "ops").state()).isEqualTo(SnapshotState.PENDING);
    }

    @Test
    void aSecondRunnerSkipsAJobAnotherRunnerHasClaimedInsteadOfWaitingForIt() throws Exception {
        executor.hold();
        UUID id = service.take(db.id(), SnapshotKind.FULL, null, "ops").id();
        executor.dropHeldJobs();
        CountDownLatch claimed = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread first = new Thread(() -> new TransactionTemplate(transactions).executeWithoutResult(status -> {
            assertThat(snapshots.claimPending(id)).isPresent();
            claimed.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        first.start();
        try {
            assertThat(claimed.await(10, TimeUnit.SECONDS)).isTrue();

            jobs.take(id);

            assertThat(engine.takes).as("the row is locked by the first runner").isEmpty();
            assertThat(service.get(id).state()).isEqualTo(SnapshotState.PENDING);
        } finally {
            release.countDown();
            first.join();
        }
        jobs.take(id);
        assertThat(service.get(id).state()).isEqualTo(SnapshotState.COMPLETED);
    }
}
