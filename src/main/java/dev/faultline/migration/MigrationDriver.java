package dev.faultline.migration;

import dev.faultline.event.EventService;
import dev.faultline.security.SecretBox;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.OptimisticLockingFailureException;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Drives the running migration jobs of the nodes this instance manages: sets a job up on both
 * agents (destination first: its page channel address goes to the source), then polls both
 * sides about every 250 ms, merges their statistics, follows the phase they report, publishes
 * events and keeps the final statistics. While no job runs it reads the job table only every
 * {@code faultline.migrations.idle-poll-interval} (5 s): a job created through this instance
 * wakes it at once, one created through another instance is found within that interval.
 * Everything it needs is in the job table and in the agents, so an instance that restarts
 * mid-job simply carries on from there; a job an agent no longer knows fails cleanly (before
 * switchover the other side is cancelled and the source region stays untouched).
 *
 * <p>Agent calls happen outside transactions; each change to a job is a short transaction of its
 * own. One lock per job keeps this instance's poll and API actions on the same job in turn;
 * another instance driving the other side of a job is kept apart by the job's version column.
 */
@Component
class MigrationDriver implements SmartLifecycle {

    static final Set<MigrationPhase> ACTIVE = EnumSet.of(MigrationPhase.PENDING, MigrationPhase.PRECOPY,
            MigrationPhase.SWITCHOVER, MigrationPhase.POSTCOPY, MigrationPhase.PAUSED);
    static final Set<MigrationPhase> ENDED = EnumSet.of(MigrationPhase.COMPLETED, MigrationPhase.FAILED,
            MigrationPhase.CANCELLED);
    /** How long after a job ended a side that is still busy (a source releasing its region) is waited for. */
    static final Duration FORGET_GRACE = Duration.ofMinutes(1);

    private static final Logger log = LoggerFactory.getLogger(MigrationDriver.class);

    private final SecretBox secrets;
    private final MigrationRepository jobs;
    private final MigrationEngine engine;
    private final MigrationDirectory directory;
    private final MigrationProperties properties;
    private final Clock clock;
    private final TransactionTemplate tx;
    private final EventService events;
    private final Map<UUID, MigrationStats> live = new ConcurrentHashMap<>();
    /** The phase of each job in {@link #live} at its last poll (for Prometheus). */
    private final Map<UUID, MigrationPhase> phases = new ConcurrentHashMap<>();
    private final Map<UUID, Instant> lastProgress = new ConcurrentHashMap<>();
    private final Map<UUID, Object> locks = new ConcurrentHashMap<>();
    private final Set<String> reconciled = ConcurrentHashMap.newKeySet();
    /**
     * The polling thread while started. Its rounds and waits are local to it: nothing of a
     * stopped loop (a round it had planned) is seen by the next one. The first idle driver kept
     * its next round in a field across stop and start, and a restarted loop took that cancelled,
     * overdue round for one coming soon and never polled again (MigrationDriverPaceTest).
     */
    private volatile Thread loop;
    /** Guards {@link #woken}; the loop waits on it between rounds. */
    private final Object wakeUp = new Object();
    private boolean woken;
    /** How long the loop waits after its last round (null before the first): for tests. */
    private volatile Duration pace;

    MigrationDriver(MigrationRepository jobs, MigrationEngine engine, MigrationDirectory directory,
            MigrationProperties properties, Clock clock, PlatformTransactionManager transactions, EventService events,
            SecretBox secrets) {
        this.secrets = secrets;
        this.jobs = jobs;
        this.engine = engine;
        this.directory = directory;
        this.properties = properties;
        this.clock = clock;
        this.tx = new TransactionTemplate(transactions);
        this.tx.setPropagationBehavior(TransactionDefinition.PROPAGATION_REQUIRES_NEW);
        this.events = events;
    }

    /**
     * One round: every active job this instance drives a side of, then the cleanup of ended ones.
     * Answers whether anything is left to follow at the poll interval: a job that has not ended,
     * a node not reconciled yet, or a job that ended under {@link #FORGET_GRACE} ago and is not
     * forgotten by both agents (later, a destination waiting for its workload is looked at only
     * at the idle interval).
     */
    boolean poll() {
        engine.managedNodes().forEach(this::reconcileOnce);
        boolean unreconciled = engine.managedNodes().stream().anyMatch(node -> !reconciled.contains(node));
        List<Migration> active = inTransaction(() -> jobs.findByPhaseInOrderByCreatedAtAsc(ACTIVE));
        Set<UUID> activeIds = new HashSet<>();
        Set<String> nodes = new HashSet<>();
        for (Migration job : active) {
            activeIds.add(job.id());
            nodes.add(job.sourceNode());
            nodes.add(job.destinationNode());
            guarded(job.id(), () -> drive(job.id()));
        }
        boolean forgetting = false;
        Instant graceStart = clock.instant().minus(FORGET_GRACE);
        for (Migration ended : inTransaction(() -> jobs.findEndedNotForgotten(ENDED))) {
            guarded(ended.id(), () -> forget(ended.id()));
            forgetting |= ended.endedAt() == null || ended.endedAt().isAfter(graceStart);
        }
        live.keySet().retainAll(activeIds);
        phases.keySet().retainAll(activeIds);
        lastProgress.keySet().retainAll(activeIds);
        return unreconciled || !active.isEmpty() || forgetting;
    }

    /**
     * A job was created here: the polling thread runs a round now (it sets the job up) rather
     * than at the end of its idle wait, and follows it at the poll interval from then on.
     */
    void kick(UUID id) {
        synchronized (wakeUp) {
            woken = true;
            wakeUp.notifyAll();
        }
    }

    /** How long the polling thread waits after its last round: the poll or the idle interval. */
    Duration pace() {
        return pace;
    }

    /** The latest merged statistics of the jobs this instance drives (for GET and Prometheus). */
    Map<UUID, MigrationStats> live() {
        return Map.copyOf(live);
    }

    /** The phase of a job in {@link #live()} at its last poll; null when it has none (ended meanwhile). */
    MigrationPhase livePhase(UUID id) {
        return phases.get(id);
    }

    Optional<MigrationStats> live(UUID id) {
        return Optional.ofNullable(live.get(id));
    }

    /** Runs {@code action} holding the job's lock, so polls and API actions on one job take turns. */
    <T> T withJob(UUID id, Supplier<T> action) {
        synchronized (locks.computeIfAbsent(id, k -> new Object())) {
            return action.get();
        }
    }

    private void guarded(UUID id, Runnable step) {
        try {
            withJob(id, () -> {
                step.run();
                return null;
            });
        } catch (OptimisticLockingFailureException e) {
            log.debug("migration {} changed meanwhile (another instance or request); next poll goes on", id);
        } catch (RuntimeException e) {
            log.warn("driving migration {} failed; the next poll tries again", id, e);
        }
    }

    void drive(UUID id) {
        Migration job = inTransaction(() -> jobs.findById(id).orElse(null));
        if (job == null || job.phase().isFinal()) {
            return;
        }
        boolean source = engine.manages(job.sourceNode());
        boolean destination = engine.manages(job.destinationNode());
        if (!source && !destination) {
            return;
        }
        if (job.phase() == MigrationPhase.PENDING) {
            setUp(job, source, destination);
        } else {
            observe(job, source, destination);
        }
    }

    /**
     * Brings a running job's phase up to what its agents report now, so that an action checks the
     * phase they are in rather than the one the last poll saw (a source that reconnected since
     * the job was seen PAUSED can be switched over at once). A job not set up yet is left alone.
     */
    void refresh(UUID id) {
        withJob(id, () -> {
            Migration job = inTransaction(() -> jobs.findById(id).orElse(null));
            if (job != null && !job.phase().isFinal() && job.phase() != MigrationPhase.PENDING) {
                observe(job, engine.manages(job.sourceNode()), engine.manages(job.destinationNode()));
            }
            return null;
        });
    }

    // --- setting a job up ---

    private void setUp(Migration job, boolean source, boolean destination) {
        String channel = job.destinationChannel();
        if (channel == null) {
            if (!destination) {
                return; // the destination's instance goes first
            }
            MigrationEngine.Side in = setUpDestination(job);
            if (in == null) {
                return;
            }
            channel = in.channel() != null ? in.channel()
                    : directory.node(job.destinationNode()).map(MigrationDirectory.Node::pageChannel).orElse(null);
            if (channel == null) {
                failAndCancel(job.id(), "the agent of node " + job.destinationNode()
                        + " did not say where its page channel listens, and the node has no page channel address");
                return;
            }
            String address = channel;
            update(job.id(), j -> j.destinationReady(address, in.socket()));
        }
        if (!source) {
            return;
        }
        MigrationEngine.OutRequest out = new MigrationEngine.OutRequest(job.id(), job.regionId(), channel,
                secrets.open(job.secret()), job.options());
        MigrationEngine.Side started;
        try {
            started = engine.migrateOut(job.sourceNode(), out);
        } catch (MigrationEngineException e) {
            started = e.reason() == MigrationEngineException.Reason.CONFLICT ? alreadyThere(job, job.sourceNode()) : null;
            if (started == null) {
                setUpFailed(job, "the source", e);
                return;
            }
        }
        MigrationEngine.Side s = started;
        apply(job.id(), s, null);
        log.info("migration {} of region {} '{}' started: {} -> {} ({})", job.id(), job.regionId(), job.regionName(),
                job.sourceNode(), job.destinationNode(), channel);
    }

    private MigrationEngine.Side setUpDestination(Migration job) {
        Optional<MigrationDirectory.Region> region = directory.region(job.regionId());
        if (region.isEmpty() || !region.get().attached()) {
            failAndCancel(job.id(), "region " + job.regionId() + " '" + job.regionName()
                    + "' was detached before the migration started");
            return null;
        }
        MigrationDirectory.Region r = region.get();
        try {
            return engine.migrateIn(job.destinationNode(), new MigrationEngine.InRequest(job.id(), r.name(),
                    r.length(), r.pageSize(), r.labels(), secrets.open(job.secret())));
        } catch (MigrationEngineException e) {
            MigrationEngine.Side existing = e.reason() == MigrationEngineException.Reason.CONFLICT
                    ? alreadyThere(job, job.destinationNode()) : null;
            if (existing == null) {
                setUpFailed(job, "the destination", e);
            }
            return existing;
        }
    }

    /** After a restart, a side may have been set up before: the agent then knows the job already. */
    private MigrationEngine.Side alreadyThere(Migration job, String node) {
        try {
            return engine.get(node, job.id()).orElse(null);
        } catch (MigrationEngineException e) {
            return null;
        }
    }

    private void setUpFailed(Migration job, String side, MigrationEngineException e) {
        if (e.reason() == MigrationEngineException.Reason.UNAVAILABLE
                && Duration.between(job.createdAt(), clock.instant()).compareTo(properties.setupTimeout()) < 0) {
            log.debug("migration {} waits for {} agent: {}", job.id(), side, e.getMessage());
            return;
        }
        failAndCancel(job.id(), "setting up " + side + " failed: " + e.getMessage());
    }

    // --- following a running job ---

    private void observe(Migration job, boolean source, boolean destination) {
        Fetch s = source ? fetch(job.sourceNode(), job.id()) : Fetch.NOT_VISIBLE;
        Fetch d = destination ? fetch(job.destinationNode(), job.id()) : Fetch.NOT_VISIBLE;
        if (s.gone() || d.gone()) {
            String node = s.gone() ? job.sourceNode() : job.destinationNode();
            // an agent journals its jobs (PROTOCOL.md §1.9): one that forgot this one lost its state directory
            failAndCancel(job.id(), "the agent of node " + node + " no longer knows this migration (was it restarted"
                    + " without its state?)" + (job.pastSwitchover() && s.gone()
                            ? "; the job had switched over, so the source agent keeps the region's writers held" : ""));
            return;
        }
        MigrationEngine.Side destinationSide = giveSecret(job, job.destinationNode(), d.side());
        MigrationEngine.Side sourceSide = follow(job, giveSecret(job, job.sourceNode(), s.side()), destinationSide);
        apply(job.id(), sourceSide, destinationSide);
    }

    /**
     * A destination agent that restarted may listen on another address (a port chosen at start):
     * the source is pointed at it, as migration_resume with a destination does.
     */
    private MigrationEngine.Side follow(Migration job, MigrationEngine.Side source, MigrationEngine.Side destination) {
        if (source == null || destination == null || source.phase().isFinal() || source.needsSecret()
                || destination.channel() == null || destination.channel().equals(source.channel())) {
            return source;
        }
        try {
            MigrationEngine.Side moved = engine.resume(job.sourceNode(), job.id(), destination.channel(), null);
            log.info("migration {}: the destination's page channel is now {}; the source follows it", job.id(),
                    destination.channel());
            return moved;
        } catch (MigrationEngineException e) {
            log.debug("migration {}: the source cannot follow the destination yet: {}", job.id(), e.getMessage());
            return source;
        }
    }

    /**
     * A side whose agent restarted read the job back from its journal, without its secret (never
     * on the agent's disk): it stays PAUSED until it is given the secret again. A source whose
     * region is not registered again yet refuses (CONFLICT) and is asked again at the next poll.
     */
    private MigrationEngine.Side giveSecret(Migration job, String node, MigrationEngine.Side side) {
        if (side == null || !side.needsSecret() || side.phase().isFinal()) {
            return side;
        }
        try {
            MigrationEngine.Side resumed = engine.resume(node, job.id(), null, secrets.open(job.secret()));
            log.info("migration {}: the agent of node {} restarted; its side resumes ({})", job.id(), node,
                    resumed.phase());
            return resumed;
        } catch (MigrationEngineException e) {
            log.debug("migration {}: node {} cannot resume yet: {}", job.id(), node, e.getMessage());
            return side;
        }
    }

    private record Fetch(MigrationEngine.Side side, boolean gone) {
        static final Fetch NOT_VISIBLE = new Fetch(null, false);
    }

    private Fetch fetch(String node, UUID id) {
        try {
            return engine.get(node, id).map(side -> new Fetch(side, false)).orElse(new Fetch(null, true));
        } catch (MigrationEngineException e) {
            log.debug("migration {}: node {} not readable now: {}", id, node, e.getMessage());
            return Fetch.NOT_VISIBLE;
        }
    }

    /**
     * Takes what the source and destination (either may be null: not visible) report: merges the
     * statistics, follows the phase, records a failure. Used by the poll and by API actions with
     * the reply of the side they asked.
     */
    void apply(UUID id, MigrationEngine.Side source, MigrationEngine.Side destination) {
        if (source == null && destination == null) {
            return;
        }
        MigrationEngine.Side failed = source != null && source.phase() == MigrationPhase.FAILED ? source
                : destination != null && destination.phase() == MigrationPhase.FAILED ? destination : null;
        if (failed != null) {
            String node = failed == source ? "source" : "destination";
            failAndCancel(id, "the " + node + " agent failed: " + (failed.error() == null ? "no reason given" : failed.error()),
                    source, destination);
            return;
        }
        Instant now = clock.instant();
        Transition t = inTransaction(() -> {
            Migration job = jobs.findById(id).orElseThrow();
            if (job.phase().isFinal()) {
                return null;
            }
            MigrationPhase before = job.phase();
            MigrationPhase beforePausedIn = job.pausedIn();
            MigrationStats stats = job.stats().merge(source == null ? null : source.stats(),
                    destination == null ? null : destination.stats());
            Target target = target(source, destination);
            boolean changed = job.follow(target.phase(), target.pausedIn(), target.switchedOverAt(), now);
            job.destinationAttached(destination != null ? destination.destinationRegionId()
                    : source.destinationRegionId());
            Instant last = lastProgress.get(id);
            boolean progressDue = last == null || !now.isBefore(last.plus(properties.progressInterval()));
            if (changed || progressDue || job.phase().isFinal()) {
                job.recordStats(stats);
                jobs.save(job);
            }
            if (changed) {
                publishPhase(job, before, beforePausedIn);
            }
            if (progressDue && !job.phase().isFinal()) {
                lastProgress.put(id, now);
                publishProgress(job, stats);
            }
            return new Transition(job.phase(), stats);
        });
        if (t == null) {
            live.remove(id);
        } else if (t.phase().isFinal()) {
            live.remove(id);
        } else {
            phases.put(id, t.phase());
            live.put(id, t.stats());
        }
    }

    private record Transition(MigrationPhase phase, MigrationStats stats) {
    }

    private record Target(MigrationPhase phase, MigrationPhase pausedIn, Instant switchedOverAt) {
    }

    /** The job's phase from both sides: cancelled wins, then paused (unless done), else the furthest. */
    static Target target(MigrationEngine.Side source, MigrationEngine.Side destination) {
        List<MigrationEngine.Side> sides = new ArrayList<>();
        if (source != null) {
            sides.add(source);
        }
        if (destination != null) {
            sides.add(destination);
        }
        Instant switchedOverAt = source != null && source.switchedOverAt() != null ? source.switchedOverAt()
                : destination != null ? destination.switchedOverAt() : null;
        if (sides.stream().anyMatch(s -> s.phase() == MigrationPhase.CANCELLED)) {
            return new Target(MigrationPhase.CANCELLED, null, switchedOverAt);
        }
        MigrationPhase furthest = MigrationPhase.PRECOPY;
        for (MigrationEngine.Side s : sides) {
            MigrationPhase p = s.phase() == MigrationPhase.PAUSED ? s.pausedIn() : s.phase();
            if (p != null && p.step() > furthest.step()) {
                furthest = p;
            }
        }
        boolean paused = sides.stream().anyMatch(s -> s.phase() == MigrationPhase.PAUSED);
        if (paused && furthest != MigrationPhase.COMPLETED) {
            return new Target(MigrationPhase.PAUSED, furthest, switchedOverAt);
        }
        return new Target(furthest, null, switchedOverAt);
    }

    // --- failing and forgetting ---

    private void failAndCancel(UUID id, String reason) {
        failAndCancel(id, reason, null, null);
    }

    /**
     * Records the failure; before switchover, cancels what the managed agents still run, so the
     * source region is released untouched and the destination drops its staging.
     */
    private void failAndCancel(UUID id, String reason, MigrationEngine.Side source, MigrationEngine.Side destination) {
        Migration job = inTransaction(() -> {
            Migration j = jobs.findById(id).orElseThrow();
            if (j.phase().isFinal()) {
                return null;
            }
            MigrationPhase before = j.phase();
            MigrationStats stats = j.stats().merge(source == null ? null : source.stats(),
                    destination == null ? null : destination.stats());
            j.recordStats(stats);
            j.fail(reason, clock.instant());
            jobs.save(j);
            publishFailed(j, before, Map.of());
            return j;
        });
        live.remove(id);
        if (job != null && !job.pastSwitchover()) {
            cancelQuietly(job.sourceNode(), id);
            cancelQuietly(job.destinationNode(), id);
        }
    }

    private void cancelQuietly(String node, UUID id) {
        if (!engine.manages(node)) {
            return;
        }
        try {
            engine.cancel(node, id);
        } catch (MigrationEngineException e) {
            if (e.reason() != MigrationEngineException.Reason.NOT_FOUND) {
                log.warn("migration {}: cancelling on node {} failed: {}", id, node, e.getMessage());
            }
        }
    }

    /**
     * Tells the managed agents to forget an ended job once their side has ended too. A side still
     * busy past switchover (a source releasing its region) is waited for; before switchover it is
     * cancelled first.
     */
    void forget(UUID id) {
        Migration job = inTransaction(() -> jobs.findById(id).orElse(null));
        if (job == null || !job.phase().isFinal()) {
            return;
        }
        if (!job.isSourceForgotten() && forgetSide(job, job.sourceNode())) {
            update(id, Migration::sourceForgotten);
        }
        if (!job.isDestinationForgotten() && forgetSide(job, job.destinationNode())) {
            update(id, Migration::destinationForgotten);
        }
    }

    private boolean forgetSide(Migration job, String node) {
        if (!engine.manages(node)) {
            return false;
        }
        try {
            Optional<MigrationEngine.Side> side = engine.get(node, job.id());
            if (side.isPresent() && node.equals(job.destinationNode()) && job.phase() == MigrationPhase.COMPLETED) {
                MigrationEngine.Side d = side.get();
                if (d.phase() == MigrationPhase.COMPLETED && d.destinationRegionId() == null) {
                    // the source completes once every page is staged here, which may be before the
                    // destination workload attached: then the staging is the region's only current
                    // copy, and deleting the job would drop it with the session socket
                    log.debug("migration {} completed; node {} keeps it until the destination workload attaches",
                            job.id(), node);
                    return false;
                }
                if (d.phase().isFinal()) {
                    keepDestinationsLastReport(job.id(), d);
                }
            }
            if (side.isPresent() && !side.get().phase().isFinal()) {
                if (!job.pastSwitchover()) {
                    engine.cancel(node, job.id());
                } else if (clock.instant().isBefore(job.endedAt().plus(FORGET_GRACE))) {
                    return false;
                } else {
                    log.warn("migration {} ended {} but node {} still reports it {}; leaving it to the agent", job.id(),
                            job.phase(), node, side.get().phase());
                    return true;
                }
            }
            if (side.isPresent()) {
                engine.delete(node, job.id());
            }
            return true;
        } catch (MigrationEngineException e) {
            log.debug("migration {}: node {} could not forget it yet: {}", job.id(), node, e.getMessage());
            return false;
        }
    }

    /**
     * What only the destination reports (its workload's region, demand latency, downtime) is taken
     * before the destination is told to forget the job: when another instance drives the source,
     * that instance may have ended the job on the source's report before this one polled again.
     */
    private void keepDestinationsLastReport(UUID id, MigrationEngine.Side destination) {
        update(id, j -> {
            j.destinationAttached(destination.destinationRegionId());
            j.recordStats(j.stats().merge(null, destination.stats()));
        });
    }

    /**
     * Once per node and start, before any job is driven: jobs an agent runs that the job table
     * does not have, or has as ended and forgotten, are left over (a table restored from a
     * backup, a job deleted by hand); they are cancelled and forgotten so they never hold a
     * region. A job switched over is not cancelled (the agent refuses): it is logged.
     */
    private void reconcileOnce(String node) {
        if (!engine.manages(node) || reconciled.contains(node)) {
            return;
        }
        List<MigrationEngine.Side> sides;
        try {
            sides = engine.list(node);
        } catch (MigrationEngineException e) {
            if (e.reason() == MigrationEngineException.Reason.UNAVAILABLE) {
                log.debug("migrations of node {} not listed yet: {}", node, e.getMessage());
            } else {
                reconciled.add(node);
                log.info("node {} does not list migrations ({}); nothing left over to cancel there", node,
                        e.getMessage());
            }
            return;
        }
        reconciled.add(node);
        for (MigrationEngine.Side side : sides) {
            Migration known = inTransaction(() -> jobs.findById(side.migrationId()).orElse(null));
            boolean orphan = known == null || (known.phase().isFinal()
                    && (node.equals(known.sourceNode()) ? known.isSourceForgotten() : known.isDestinationForgotten()));
            if (orphan) {
                log.warn("node {} runs migration {} ({}) that no job of this service has; cancelling it", node,
                        side.migrationId(), side.phase());
                try {
                    if (!side.phase().isFinal()) {
                        engine.cancel(node, side.migrationId());
                    }
                    engine.delete(node, side.migrationId());
                } catch (MigrationEngineException e) {
                    log.warn("node {} kept orphaned migration {}: {}", node, side.migrationId(), e.getMessage());
                }
            }
        }
    }

    // --- events ---

    /** Logs and publishes a job's failure (in the caller's transaction). */
    void publishFailed(Migration job, MigrationPhase before, Map<String, ?> extra) {
        log.warn("migration {} of region {} '{}' failed: {}", job.id(), job.regionId(), job.regionName(), job.error());
        Map<String, Object> details = new LinkedHashMap<>(extra);
        details.put("error", job.error());
        events.publish("migration.failed", "migration", job.id(), "migration of region '" + job.regionName()
                + "' from " + job.sourceNode() + " to " + job.destinationNode() + " failed: " + job.error(),
                data(job, before, details));
    }

    void publishPhase(Migration job, MigrationPhase before, MigrationPhase beforePausedIn) {
        String shown = job.phase() == MigrationPhase.PAUSED ? "PAUSED in " + job.pausedIn() : job.phase().name();
        String message = "migration of region '" + job.regionName() + "' from " + job.sourceNode() + " to "
                + job.destinationNode() + " is " + shown + (job.error() == null ? "" : ": " + job.error());
        Map<String, Object> extra = new LinkedHashMap<>();
        if (job.pausedIn() != null) {
            extra.put("pausedIn", job.pausedIn().name());
        }
        events.publish("migration.phase", "migration", job.id(), message, data(job, before, extra));
        if (job.phase() == MigrationPhase.COMPLETED) {
            MigrationStats s = job.stats();
            log.info("migration {} of region {} '{}' completed: {} ms total, {} ms downtime", job.id(), job.regionId(),
                    job.regionName(), s.totalMs(), s.downtimeMs());
            events.publish("migration.completed", "migration", job.id(), "migration of region '" + job.regionName()
                    + "' to " + job.destinationNode() + " completed in " + s.totalMs() + " ms, downtime "
                    + (s.downtimeMs() == null ? "unknown" : s.downtimeMs() + " ms"),
                    data(job, before, Map.of("totalMs", s.totalMs(), "downtimeMs", s.downtimeMs() == null ? -1
                            : s.downtimeMs(), "destinationRegionId", String.valueOf(job.destinationRegionId()))));
        } else {
            log.info("migration {} of region '{}' is {}", job.id(), job.regionName(), shown);
        }
    }

    private void publishProgress(Migration job, MigrationStats s) {
        events.publish("migration.progress", "migration", job.id(), "migration of region '" + job.regionName() + "': "
                + job.phase() + ", " + s.remainingBytes() + " of " + s.regionBytes() + " bytes remaining, round "
                + s.rounds(), data(job, job.phase(), Map.of("remainingBytes", s.remainingBytes(),
                        "dirtyRateBytesPerSec", s.dirtyRateBytesPerSec(), "rounds", s.rounds(),
                        "throughputBytesPerSec", s.throughputBytesPerSec())));
    }

    private static Map<String, Object> data(Migration job, MigrationPhase from, Map<String, ?> extra) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("regionId", job.regionId().toString());
        data.put("regionName", job.regionName());
        data.put("sourceNode", job.sourceNode());
        data.put("destinationNode", job.destinationNode());
        data.put("phase", job.phase().name());
        data.put("from", from.name());
        data.putAll(extra);
        return data;
    }

    // --- plumbing ---

    private void update(UUID id, java.util.function.Consumer<Migration> change) {
        inTransaction(() -> {
            Migration job = jobs.findById(id).orElseThrow();
            change.accept(job);
            jobs.save(job);
            return null;
        });
    }

    private <T> T inTransaction(Supplier<T> step) {
        return tx.execute(status -> step.get());
    }

    @Override
    public void start() {
        if (properties.pollInterval().isZero() || loop != null) {
            return;
        }
        Thread t = new Thread(this::run, "migration-driver");
        t.setDaemon(true);
        loop = t;
        t.start();
    }

    /** Rounds until stopped: at the poll interval while a job runs, else at the idle interval or a kick. */
    private void run() {
        Thread self = Thread.currentThread();
        await(self, properties.pollInterval()); // the agents (phase 0) have just started
        while (loop == self) {
            Duration next;
            try {
                next = poll() ? properties.pollInterval() : properties.idlePollInterval();
            } catch (RuntimeException e) {
                next = properties.pollInterval();
                log.warn("migration poll failed; trying again in {}", next, e);
            }
            pace = next;
            await(self, next);
        }
    }

    /** Waits {@code delay}, or less when kicked or stopped; a kick during a round is kept for after it. */
    private void await(Thread self, Duration delay) {
        long deadline = System.nanoTime() + delay.toNanos();
        synchronized (wakeUp) {
            try {
                for (long left = delay.toNanos(); !woken && loop == self && left > 0;
                        left = deadline - System.nanoTime()) {
                    TimeUnit.NANOSECONDS.timedWait(wakeUp, left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // only stop() interrupts, after it ended the loop
            }
            woken = false;
        }
    }

    @Override
    public void stop() {
        Thread t = loop;
        loop = null;
        if (t == null) {
            return;
        }
        synchronized (wakeUp) {
            wakeUp.notifyAll();
        }
        // Not interrupted at once: interrupting a poll in the middle of an agent call would close
        // the agent's control connection (a socket channel is closed by an interrupt). A poll ends
        // within the agents' request timeout.
        try {
            t.join(TimeUnit.SECONDS.toMillis(30));
            if (t.isAlive()) {
                log.warn("the migration poll did not end within 30 s; interrupting it");
                t.interrupt();
                t.join(TimeUnit.SECONDS.toMillis(5));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public boolean isRunning() {
        return loop != null;
    }

    /** Polls once the agents are up (phase 0) and stops before them. */
    @Override
    public int getPhase() {
        return 10;
    }
}
