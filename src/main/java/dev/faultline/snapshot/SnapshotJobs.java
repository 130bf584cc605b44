package dev.faultline.snapshot;

import dev.faultline.DomainException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import dev.faultline.event.EventService;
import dev.faultline.node.LocalNodes;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.core.task.TaskRejectedException;
import org.springframework.dao.OptimisticLockingFailureException;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.event.TransactionalEventListener;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Runs snapshot jobs (takes) and operations (verify, restore, delete) through the
 * {@link SnapshotEngine} on the job executor. Engine calls happen outside any transaction; each
 * step that changes the catalog is a short transaction of its own, and the state machines of
 * {@link Snapshot} and {@link SnapshotOperation} make a second runner of the same job stop at its
 * first step. A job interrupted by a restart is never left RUNNING: at start, RUNNING takes and
 * operations are marked FAILED ("interrupted by restart"; such a take is then deleted, since the
 * agent may have completed its image meanwhile), PENDING ones are started again, and
 * deletions are resumed (a DELETING snapshot is only ever deleted).
 *
 * <p>With several service instances on one database, a job belongs to the node of its snapshot's
 * region and only the instance managing that node runs it: it starts the job right after the
 * creating transaction commits when it is that instance, and every instance polls each second
 * for PENDING jobs of its nodes (a job created through another instance). A runner claims the
 * row with {@code SELECT … FOR UPDATE SKIP LOCKED} before moving it to RUNNING, so a second
 * runner skips it instead of waiting. Restart recovery touches only this instance's nodes' jobs;
 * the jobs of a node that stops reporting are failed by {@link SnapshotNodeDown}.
 */
@Component
class SnapshotJobs implements SmartInitializingSingleton {

    static final String INTERRUPTED = "interrupted by restart";

    private static final Logger log = LoggerFactory.getLogger(SnapshotJobs.class);

    private final SnapshotRepository snapshots;
    private final SnapshotOperationRepository operations;
    private final SnapshotService service;
    private final SnapshotEngines engines;
    private final SnapshotProperties properties;
    private final Clock clock;
    private final Executor executor;
    private final TransactionTemplate tx;
    private final EventService events;
    private final LocalNodes localNodes;
    private final RestoreSessions restoreSessions;
    private final SnapshotMetrics metrics;
    /** Jobs submitted to the executor and not yet finished, so the poller does not queue them twice. */
    private final Set<UUID> inFlight = ConcurrentHashMap.newKeySet();

    SnapshotJobs(SnapshotRepository snapshots, SnapshotOperationRepository operations, SnapshotService service,
            SnapshotEngines engines, SnapshotProperties properties, Clock clock,
            @Qualifier("snapshotJobExecutor") Executor executor, PlatformTransactionManager transactions,
            EventService events, LocalNodes localNodes, RestoreSessions restoreSessions, SnapshotMetrics metrics) {
        this.restoreSessions = restoreSessions;
        this.metrics = metrics;
        this.snapshots = snapshots;
        this.operations = operations;
        this.service = service;
        this.engines = engines;
        this.properties = properties;
        this.clock = clock;
        this.executor = executor;
        this.tx = new TransactionTemplate(transactions);
        this.events = events;
        this.localNodes = localNodes;
        // Jobs may be started from a transaction's afterCommit, where a joined transaction would be the old one.
        this.tx.setPropagationBehavior(TransactionDefinition.PROPAGATION_REQUIRES_NEW);
    }

    @TransactionalEventListener
    void takeRequested(SnapshotEvents.TakeRequested event) {
        if (localNodes.manages(event.node())) {
            submitTake(event.snapshotId());
        }
    }

    @TransactionalEventListener
    void operationRequested(SnapshotEvents.OperationRequested event) {
        if (localNodes.manages(event.node())) {
            submitOperation(event.operationId());
        }
    }

    /** Starts the PENDING jobs of this instance's nodes, e.g. those created through another instance. */
    @Scheduled(fixedDelayString = "${faultline.nodes.request-poll-interval:5s}",
            initialDelayString = "${faultline.nodes.request-poll-interval:5s}")
    void startPending() {
        Set<String> mine = localNodes.names();
        inTransaction(() -> snapshots.findByStateInForNodes(Set.of(SnapshotState.PENDING), mine).stream()
                .map(Snapshot::id).toList()).forEach(this::submitTake);
        inTransaction(() -> operations.findByStateInForNodes(Set.of(OperationState.PENDING), mine).stream()
                .map(SnapshotOperation::id).toList()).forEach(this::submitOperation);
    }

    private void submitTake(UUID id) {
        if (inFlight.add(id)) {
            submit("take " + id, () -> take(id), id);
        }
    }

    private void submitOperation(UUID id) {
        if (inFlight.add(id)) {
            submit("operation " + id, () -> runOperation(id), id);
        }
    }

    /** Runs once all beans exist, before the web server and the policy scheduler start. */
    @Override
    public void afterSingletonsInstantiated() {
        recoverAfterRestart();
    }

    void recoverAfterRestart() {
        inFlight.clear(); // nothing runs yet at a start; a test's simulated restart drops its queued jobs
        Set<String> mine = localNodes.names();
        int interrupted = inTransaction(() -> {
            List<Snapshot> running = snapshots.findByStateInForNodes(Set.of(SnapshotState.RUNNING), mine);
            running.forEach(s -> {
                s.fail(INTERRUPTED, clock.instant());
                metrics.failed(s.kind(), null, SnapshotMetrics.Reason.INTERRUPTED);
                // the agent went on without us: its image may be complete by now, and nothing else
                // would remove it; deleted (resumed below, and when the agent connects)
                s.markDeleting();
            });
            List<SnapshotOperation> runningOps = operations.findByStateInForNodes(Set.of(OperationState.RUNNING), mine);
            runningOps.forEach(op -> op.fail(INTERRUPTED, clock.instant()));
            return running.size() + runningOps.size();
        });
        int deletions;
        try {
            deletions = service.resumeDeletions(null, "restart");
        } catch (RuntimeException e) {
            // another instance restarting at the same moment resumed one first; the next policy pass retries
            log.warn("resuming deletions after restart: {}", e.getMessage());
            deletions = 0;
        }
        // Started here as well as by the events: a job that runs twice stops at its first step.
        List<UUID> pendingTakes = inTransaction(() -> snapshots.findByStateInForNodes(Set.of(SnapshotState.PENDING),
                mine).stream().map(Snapshot::id).toList());
        List<UUID> pendingOps = inTransaction(() -> operations.findByStateInForNodes(Set.of(OperationState.PENDING),
                mine).stream().map(SnapshotOperation::id).toList());
        pendingTakes.forEach(this::submitTake);
        pendingOps.forEach(this::submitOperation);
        if (interrupted + pendingTakes.size() + pendingOps.size() > 0) {
            log.info("snapshot jobs after restart: {} interrupted (FAILED), {} deletions resumed, {} takes and {}"
                    + " operations started", interrupted, deletions, pendingTakes.size(), pendingOps.size());
        }
    }

    /**
     * An agent (re)connected: deletions that could not reach it (a restart runs before the
     * agent is READY; the agent was down) go on now.
     */
    void agentConnected(String node) {
        try {
            int resumed = service.resumeDeletions(null, "agent " + node + " connected");
            if (resumed > 0) {
                log.info("{} snapshot deletion(s) resumed: node {}'s agent connected", resumed, node);
            }
        } catch (RuntimeException e) {
            log.warn("resuming deletions when node {}'s agent connected: {}", node, e.getMessage());
        }
    }

    /** A claimed take and the node whose engine runs it (its region's). */
    private record Take(String node, SnapshotEngine.TakeRequest request) {
    }

    void take(UUID snapshotId) {
        Optional<Take> take = startOnce(() -> snapshots.claimPending(snapshotId)
                .map(s -> {
                    s.start(clock.instant());
                    record("snapshot.running", s, "snapshot of region '" + s.regionName() + "' started");
                    SnapshotEngine.Image parent = s.parentId() == null ? null
                            : snapshots.findById(s.parentId()).map(Snapshot::image).orElse(null);
                    return new Take(s.node(), new SnapshotEngine.TakeRequest(s.id(), s.regionId(), s.kind(),
                            s.image().path(), parent, s.requireQuiesce()));
                }));
        if (take.isEmpty()) {
            return;
        }
        SnapshotEngine.TakeRequest request = take.get().request();
        long started = System.nanoTime();
        try {
            requireFreeSpace();
            SnapshotEngine engine = engines.on(take.get().node());
            SnapshotEngine.TakeResult result = engine.take(request);
            if (request.requireQuiesce() && result.quiesced() != Quiesce.YES) {
                throw new SnapshotEngineException("the workload was not quiesced (" + result.quiesced()
                        + ") and the policy requires quiesce; " + discard(engine, request));
            }
            inTransaction(() -> {
                Snapshot s = loadSnapshot(snapshotId);
                s.complete(result, clock.instant());
                record("snapshot.completed", s, "snapshot of region '" + s.regionName() + "' completed: "
                        + result.sizeBytes() + " bytes, " + result.pagesPresent() + " pages");
            });
            metrics.completed(request.kind(), Duration.ofNanos(System.nanoTime() - started));
        } catch (RuntimeException e) {
            metrics.failed(request.kind(), Duration.ofNanos(System.nanoTime() - started), SnapshotMetrics.classify(e));
            String reason = describe(e);
            inTransaction(() -> {
                Snapshot s = loadSnapshot(snapshotId);
                s.fail(reason, clock.instant());
                record("snapshot.failed", s, "snapshot of region '" + s.regionName() + "' failed: " + reason);
            });
        }
    }

    /** Removes the image of a take that must not count; says how that went. */
    private String discard(SnapshotEngine engine, SnapshotEngine.TakeRequest request) {
        try {
            engine.delete(new SnapshotEngine.Image(request.snapshotId(), request.path()));
            return "the image was discarded";
        } catch (RuntimeException e) {
            return "discarding the image failed: " + describe(e);
        }
    }

    void runOperation(UUID operationId) {
        Optional<SnapshotOperation> started = startOnce(() -> operations.claimPending(operationId)
                .map(op -> {
                    op.start(clock.instant());
                    return op;
                }));
        if (started.isEmpty()) {
            return;
        }
        SnapshotOperation op = started.get();
        try {
            switch (op.kind()) {
                case VERIFY -> verify(op);
                case RESTORE -> restore(op);
                case DELETE -> delete(op);
            }
        } catch (RuntimeException e) {
            String reason = describe(e);
            inTransaction(() -> {
                loadOperation(operationId).fail(reason, clock.instant());
                recordOperation(op, "failed", reason);
            });
        }
    }

    private void verify(SnapshotOperation op) {
        SnapshotEngine.Verification verification = engines.on(op.node()).verify(read(op.snapshotId()).image());
        String outcome = (verification.intact() ? VerifiedState.VERIFIED : VerifiedState.CORRUPT)
                + (verification.detail() == null ? "" : ": " + verification.detail());
        inTransaction(() -> {
            loadSnapshot(op.snapshotId()).recordVerification(verification.intact(), clock.instant());
            loadOperation(op.id()).succeed(outcome, clock.instant());
            recordOperation(op, "succeeded", outcome);
        });
    }

    private void restore(SnapshotOperation op) {
        boolean[] suspect = {false};
        List<SnapshotEngine.Image> chain = inTransaction(() -> {
            List<Snapshot> snapshotsInChain = snapshots.chainEndingAt(loadSnapshot(op.snapshotId()));
            Snapshot base = snapshotsInChain.get(0);
            if (base.kind() != SnapshotKind.FULL) {
                throw new IllegalStateException("the chain of snapshot " + op.snapshotId() + " is broken: parent "
                        + base.parentId() + " of snapshot " + base.id() + " is missing");
            }
            snapshotsInChain.stream().filter(s -> s.state() != SnapshotState.COMPLETED).findFirst().ifPresent(s -> {
                throw new IllegalStateException("snapshot " + s.id() + " in its chain is " + s.state());
            });
            // a link found corrupt is checked whole by the agent first: refused then, with the page
            suspect[0] = snapshotsInChain.stream().anyMatch(s -> s.verifiedState() == VerifiedState.CORRUPT);
            return snapshotsInChain.stream().map(Snapshot::image).toList();
        });
        UUID restoreId = engines.on(op.node()).restore(new SnapshotEngine.RestoreRequest(UUID.randomUUID(),
                op.snapshotId(), chain, op.restoreName(), op.restoreLabels(), op.restoreMode(), suspect[0]));
        // a restore session like any other: listed, deletable, its files removed when it ends
        restoreSessions.recordOpened(op.node(), restoreId);
        inTransaction(() -> {
            loadOperation(op.id()).restored(restoreId, clock.instant());
            recordOperation(op, "succeeded", "restore session " + restoreId);
        });
    }

    /**
     * A COMPLETED snapshot here was asked to be consolidated: fold it into each live dependent,
     * and only then mark it DELETING. A DELETING one only needs its image removed.
     */
    private void delete(SnapshotOperation op) {
        Snapshot snapshot = read(op.snapshotId());
        int consolidated = 0;
        if (snapshot.state() == SnapshotState.COMPLETED) {
            for (Snapshot child : inTransaction(() -> liveDependents(snapshot.id()))) {
                requireConsolidatable(child);
                requireFreeSpace();
                SnapshotEngine.Consolidation result = engines.on(op.node()).consolidate(snapshot.image(), child.image());
                inTransaction(() -> loadSnapshot(child.id()).rebase(snapshot.parentId(), snapshot.kind(), result));
                consolidated++;
            }
            inTransaction(() -> {
                List<Snapshot> remaining = liveDependents(snapshot.id());
                if (!remaining.isEmpty()) {
                    throw new IllegalStateException("incremental snapshot " + remaining.get(0).id()
                            + " based on it appeared meanwhile; delete again to consolidate it too");
                }
                loadSnapshot(snapshot.id()).markDeleting();
            });
        } else if (snapshot.state() != SnapshotState.DELETING) {
            throw new IllegalStateException("snapshot " + snapshot.id() + " is " + snapshot.state());
        }
        engines.on(op.node()).delete(snapshot.image());
        String outcome = consolidated == 0 ? "deleted"
                : "consolidated into " + consolidated + " dependent snapshot(s), then deleted";
        inTransaction(() -> {
            loadSnapshot(snapshot.id()).markDeleted(clock.instant());
            loadOperation(op.id()).succeed(outcome, clock.instant());
            recordOperation(op, "succeeded", outcome);
        });
    }

    private void requireConsolidatable(Snapshot child) {
        if (child.state() != SnapshotState.COMPLETED) {
            throw new IllegalStateException("incremental snapshot " + child.id() + " based on it is " + child.state());
        }
        inTransaction(() -> operations.findByActiveSnapshotId(child.id())).ifPresent(busy -> {
            throw new IllegalStateException("incremental snapshot " + child.id() + " based on it has a "
                    + busy.kind() + " operation in progress");
        });
    }

    /** Fails before the agent writes anything when the image's file system is nearly full. */
    private void requireFreeSpace() {
        Path dir = properties.dir();
        long usable;
        try {
            Files.createDirectories(dir);
            usable = Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            throw new SnapshotEngineException("cannot check the free space in " + dir + ": " + e, e);
        }
        long required = properties.minFreeSpace().toBytes();
        if (usable < required) {
            throw new SnapshotEngineException("only " + mebibytes(usable) + " are free in " + dir
                    + ", less than faultline.snapshots.min-free-space (" + mebibytes(required) + ")");
        }
    }

    private List<Snapshot> liveDependents(UUID snapshotId) {
        return snapshots.findByParentIdAndStateInOrderByCreatedAtAsc(snapshotId, SnapshotState.LIVE);
    }

    private Snapshot read(UUID snapshotId) {
        return inTransaction(() -> loadSnapshot(snapshotId));
    }

    private Snapshot loadSnapshot(UUID id) {
        return snapshots.findById(id).orElseThrow(() -> new IllegalStateException("snapshot " + id + " is gone"));
    }

    private SnapshotOperation loadOperation(UUID id) {
        return operations.findById(id).orElseThrow(() -> new IllegalStateException("operation " + id + " is gone"));
    }

    /** The first step of a job; empty when another runner got there first. */
    private <T> Optional<T> startOnce(Supplier<Optional<T>> step) {
        try {
            return inTransaction(step);
        } catch (OptimisticLockingFailureException e) {
            return Optional.empty();
        }
    }

    private void record(String kind, Snapshot snapshot, String message) {
        events.publish(kind, "snapshot", snapshot.id(), message,
                Map.of("regionId", snapshot.regionId(), "kind", snapshot.kind().name()));
    }

    /** e.g. snapshot.verify.succeeded, with the operation's outcome. */
    private void recordOperation(SnapshotOperation op, String how, String outcome) {
        String kind = op.kind().name().toLowerCase(Locale.ROOT);
        events.publish("snapshot." + kind + "." + how, "snapshot", op.snapshotId(),
                kind + " of snapshot " + op.snapshotId() + " " + how + ": " + outcome,
                Map.of("operationId", op.id().toString()));
    }

    private <T> T inTransaction(Supplier<T> step) {
        return tx.execute(status -> step.get());
    }

    private void inTransaction(Runnable step) {
        tx.executeWithoutResult(status -> step.run());
    }

    private void submit(String what, Runnable job, UUID id) {
        try {
            executor.execute(() -> {
                try {
                    job.run();
                } catch (RuntimeException e) {
                    log.error("snapshot job {} failed and could not record why; it is resolved at the next start",
                            what, e);
                } finally {
                    inFlight.remove(id);
                }
            });
        } catch (TaskRejectedException e) {
            inFlight.remove(id);
            log.warn("snapshot job {} not started (shutting down); it is started again at the next start", what);
        }
    }

    private static String describe(RuntimeException e) {
        if (e instanceof SnapshotEngineException || e instanceof IllegalStateException || e instanceof DomainException) {
            return e.getMessage();
        }
        log.warn("snapshot job failed unexpectedly", e);
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static String mebibytes(long bytes) {
        return (bytes >> 20) + " MiB";
    }
}
