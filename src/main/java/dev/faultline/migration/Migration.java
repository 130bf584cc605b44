package dev.faultline.migration;

import dev.faultline.DomainException;
import dev.faultline.Problem;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A migration job: moves one region from its source node to a destination node. The job guards
 * its own phases: requests that do not fit the phase are refused here (409), and what the agents
 * report is followed forward along the happy path, never backwards.
 *
 * <p>The secret both agents authenticate the page channel with is kept while the job runs, so
 * whichever service instance manages an agent can hand it over (also after a restart); it is
 * never shown and is wiped when the job ends.
 */
@Entity
@Table(name = "migration")
class Migration {

    static final int MAX_ERROR_LENGTH = 2000;

    @Id
    private UUID id;

    @Version
    private long version;

    @Column(name = "region_id", nullable = false)
    private UUID regionId;

    @Column(name = "region_name", nullable = false)
    private String regionName;

    /** The region id while the job is active, else null: unique, so one active job per region. */
    @Column(name = "active_region_id", unique = true)
    private UUID activeRegionId;

    @Column(name = "source_node", nullable = false)
    private String sourceNode;

    @Column(name = "destination_node", nullable = false)
    private String destinationNode;

    @Column(name = "destination_region_id")
    private UUID destinationRegionId;

    /** Where the destination agent's page channel listens for this job (from migration_in). */
    @Column(name = "destination_channel")
    private String destinationChannel;

    /** The socket the destination workload attaches to. */
    @Column(name = "destination_socket")
    private String destinationSocket;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false)
    private MigrationPhase phase;

    @Enumerated(EnumType.STRING)
    @Column(name = "paused_in")
    private MigrationPhase pausedIn;

    @Column(name = "max_downtime_ms", nullable = false)
    private long maxDowntimeMs;

    @Column(name = "bandwidth_limit", nullable = false)
    private long bandwidthLimitBytesPerSec;

    @Column(name = "max_precopy_rounds", nullable = false)
    private int maxPrecopyRounds;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false)
    private MigrationOptions.Postcopy postcopy;

    @Column(name = "postcopy_after_ms", nullable = false)
    private long postcopyAfterMs;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false)
    private MigrationOptions.Compress compress;

    @Column(name = "auto_converge", nullable = false)
    private boolean autoConverge;

    @Column(name = "skip_unchanged", nullable = false)
    private boolean skipUnchanged;

    @Column(name = "push_connections", nullable = false)
    private int pushConnections;

    @Column(name = "requested_by", nullable = false)
    private String requestedBy;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "started_at")
    private Instant startedAt;

    @Column(name = "switchover_at")
    private Instant switchoverAt;

    @Column(name = "completed_at")
    private Instant completedAt;

    @Column(name = "ended_at")
    private Instant endedAt;

    @Column(length = MAX_ERROR_LENGTH)
    private String error;

    @Convert(converter = MigrationJson.Timeline.class)
    @Column(nullable = false, length = 4000)
    private List<MigrationJson.Step> timeline = new ArrayList<>();

    @Convert(converter = MigrationJson.Stats.class)
    @Column(nullable = false, length = 4000)
    private MigrationStats stats;

    /** While the job is active: its secret as {@link dev.faultline.security.SecretBox} sealed it; null once it has ended. */
    @Column(length = 256)
    private String secret;

    /** Whether the source's / destination's agent was told to forget the job after it ended. */
    @Column(name = "source_forgotten", nullable = false)
    private boolean sourceForgotten;

    @Column(name = "destination_forgotten", nullable = false)
    private boolean destinationForgotten;

    protected Migration() {
    }

    Migration(UUID regionId, String regionName, long regionBytes, String sourceNode, String destinationNode,
            MigrationOptions options, String secret, String requestedBy, Instant now) {
        this.id = UUID.randomUUID();
        this.regionId = regionId;
        this.regionName = regionName;
        this.activeRegionId = regionId;
        this.sourceNode = sourceNode;
        this.destinationNode = destinationNode;
        this.maxDowntimeMs = options.maxDowntimeMs();
        this.bandwidthLimitBytesPerSec = options.bandwidthLimitBytesPerSec();
        this.maxPrecopyRounds = options.maxPrecopyRounds();
        this.postcopy = options.postcopy();
        this.postcopyAfterMs = options.postcopyAfterMs();
        this.compress = options.compress();
        this.autoConverge = options.autoConverge();
        this.skipUnchanged = options.skipUnchanged();
        this.pushConnections = options.pushConnections();
        this.secret = secret;
        this.requestedBy = requestedBy;
        this.createdAt = now;
        this.stats = MigrationStats.initial(regionBytes);
        this.phase = MigrationPhase.PENDING;
        this.timeline.add(new MigrationJson.Step(MigrationPhase.PENDING, now));
    }

    // --- requests (refused with 409 when they do not fit the phase) ---

    /** start-postcopy: switch over now. */
    void requireStartPostcopy() {
        if (phase != MigrationPhase.PRECOPY) {
            throw wrongPhase("start postcopy", "it can only be started in PRECOPY");
        }
    }

    void requirePausable() {
        if (phase != MigrationPhase.PRECOPY && phase != MigrationPhase.SWITCHOVER && phase != MigrationPhase.POSTCOPY) {
            throw wrongPhase("pause", "only a job in PRECOPY, SWITCHOVER or POSTCOPY can be paused");
        }
    }

    void requireResumable() {
        if (phase != MigrationPhase.PAUSED) {
            throw wrongPhase("resume", "only a PAUSED job can be resumed");
        }
    }

    /** Cancel is refused once the destination may hold the only current copy of some pages. */
    void requireCancellable() {
        if (phase.isFinal() && phase != MigrationPhase.COMPLETED) {
            throw wrongPhase("cancel", "it has already ended");
        }
        if (pastSwitchover()) {
            throw new DomainException(Problem.MIGRATION_PAST_SWITCHOVER, "migration " + id + " is " + describePhase()
                    + ": past switchover the destination runs the region and cancel could lose its writes;"
                    + " resume it if it is paused (recovery, not cancel, is the way on)");
        }
    }

    /** The job was cancelled before switchover: the source region is untouched. */
    void cancel(Instant now) {
        requireCancellable();
        end(MigrationPhase.CANCELLED, now);
    }

    // --- what the agents report ---

    /** The destination agent accepted the job and listens for the source. */
    void destinationReady(String channel, String socket) {
        require(phase == MigrationPhase.PENDING, "set up the destination of");
        this.destinationChannel = channel;
        this.destinationSocket = socket;
    }

    /**
     * Follows the phase the agents report. Moves forward along the happy path (entering every
     * phase on the way, so a switchover that happened between two polls is still on the
     * timeline), pauses and resumes; a report of an earlier phase is stale and ignored. Returns
     * whether the phase changed.
     *
     * @param reportedPausedIn with PAUSED: the phase the agents paused in
     * @param switchedOverAt when the source held its writers, if an agent said
     */
    boolean follow(MigrationPhase reported, MigrationPhase reportedPausedIn, Instant switchedOverAt, Instant now) {
        if (phase.isFinal() || reported == null) {
            return false;
        }
        MigrationPhase before = phase;
        MigrationPhase beforePausedIn = pausedIn;
        switch (reported) {
            case FAILED -> throw new IllegalArgumentException("a failure is recorded with fail()");
            case CANCELLED -> end(MigrationPhase.CANCELLED, now);
            case PAUSED -> {
                MigrationPhase in = reportedPausedIn == null || reportedPausedIn.step() < 0 ? effectivePhase()
                        : reportedPausedIn;
                if (phase == MigrationPhase.PAUSED) {
                    if (in.step() > pausedIn.step()) {
                        pausedIn = in;
                    }
                } else {
                    advanceTo(in, switchedOverAt, now);
                    pausedIn = phase;
                    enter(MigrationPhase.PAUSED, switchedOverAt, now);
                }
            }
            default -> {
                if (reported.step() < effectivePhase().step()) {
                    return false;
                }
                if (phase == MigrationPhase.PAUSED) {
                    MigrationPhase resumed = pausedIn;
                    pausedIn = null;
                    enter(resumed, switchedOverAt, now);
                }
                advanceTo(reported, switchedOverAt, now);
            }
        }
        return phase != before || pausedIn != beforePausedIn;
    }

    /** The job cannot go on; the source keeps its region (the agents guarantee it). */
    void fail(String reason, Instant now) {
        if (!phase.isFinal()) {
            error = reason == null ? "failed" : reason.length() > MAX_ERROR_LENGTH
                    ? reason.substring(0, MAX_ERROR_LENGTH - 1) + "…" : reason;
            end(MigrationPhase.FAILED, now);
        }
    }

    void destinationAttached(UUID regionId) {
        if (regionId != null) {
            destinationRegionId = regionId;
        }
    }

    void recordStats(MigrationStats latest) {
        stats = phase == MigrationPhase.COMPLETED ? latest.completed() : latest;
    }

    void sourceForgotten() {
        require(phase.isFinal(), "forget");
        sourceForgotten = true;
    }

    void destinationForgotten() {
        require(phase.isFinal(), "forget");
        destinationForgotten = true;
    }

    /** Whether the destination runs (or ran) the region: switched over, even if paused since. */
    boolean pastSwitchover() {
        return switchoverAt != null || effectivePhase().step() >= MigrationPhase.SWITCHOVER.step();
    }

    /** The phase on the happy path: the one paused in while PAUSED. */
    MigrationPhase effectivePhase() {
        return phase == MigrationPhase.PAUSED ? pausedIn : phase;
    }

    private void advanceTo(MigrationPhase target, Instant switchedOverAt, Instant now) {
        while (phase.step() >= 0 && phase.step() < target.step()) {
            enter(phase.next(), switchedOverAt, now);
        }
    }

    private void enter(MigrationPhase next, Instant switchedOverAt, Instant now) {
        phase = next;
        timeline.add(new MigrationJson.Step(next, now));
        switch (next) {
            case PRECOPY -> startedAt = startedAt == null ? now : startedAt;
            case SWITCHOVER -> switchoverAt = switchoverAt != null ? switchoverAt
                    : switchedOverAt != null ? switchedOverAt : now;
            case COMPLETED -> end(MigrationPhase.COMPLETED, now);
            default -> {
            }
        }
    }

    private void end(MigrationPhase finalPhase, Instant now) {
        if (phase != finalPhase) {
            phase = finalPhase;
            timeline.add(new MigrationJson.Step(finalPhase, now));
        }
        pausedIn = null;
        activeRegionId = null;
        secret = null;
        endedAt = now;
        if (finalPhase == MigrationPhase.COMPLETED) {
            completedAt = now;
            stats = stats.completed();
        }
    }

    private String describePhase() {
        return phase == MigrationPhase.PAUSED ? "PAUSED in " + pausedIn : phase.name();
    }

    private DomainException wrongPhase(String action, String rule) {
        return new DomainException(Problem.MIGRATION_WRONG_PHASE,
                "cannot " + action + " migration " + id + ": it is " + describePhase() + "; " + rule);
    }

    private void require(boolean allowed, String action) {
        if (!allowed) {
            throw new IllegalStateException("cannot " + action + " migration " + id + " while it is " + describePhase());
        }
    }

    MigrationView view(MigrationStats liveStats) {
        return new MigrationView(id, regionId, regionName, sourceNode, destinationNode, destinationRegionId,
                destinationSocket, phase, pausedIn, options(), createdAt, startedAt, switchoverAt, completedAt, error,
                List.copyOf(timeline), liveStats != null && !phase.isFinal() ? liveStats : stats);
    }

    MigrationOptions options() {
        return new MigrationOptions(maxDowntimeMs, bandwidthLimitBytesPerSec, maxPrecopyRounds, postcopy,
                postcopyAfterMs, compress, autoConverge, skipUnchanged, pushConnections);
    }

    UUID id() {
        return id;
    }

    UUID regionId() {
        return regionId;
    }

    String regionName() {
        return regionName;
    }

    String sourceNode() {
        return sourceNode;
    }

    String destinationNode() {
        return destinationNode;
    }

    String destinationChannel() {
        return destinationChannel;
    }

    MigrationPhase phase() {
        return phase;
    }

    MigrationPhase pausedIn() {
        return pausedIn;
    }

    MigrationStats stats() {
        return stats;
    }

    String secret() {
        return secret;
    }

    Instant createdAt() {
        return createdAt;
    }

    String error() {
        return error;
    }

    Instant endedAt() {
        return endedAt;
    }

    UUID destinationRegionId() {
        return destinationRegionId;
    }

    boolean isSourceForgotten() {
        return sourceForgotten;
    }

    boolean isDestinationForgotten() {
        return destinationForgotten;
    }

    @Override
    public String toString() {
        return "Migration[" + id + " of region " + regionId + " " + sourceNode + "->" + destinationNode + ", "
                + describePhase() + "]";
    }
}
