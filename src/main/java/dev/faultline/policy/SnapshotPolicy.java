package dev.faultline.policy;

import dev.faultline.label.LabelSelector;
import jakarta.persistence.Column;
import jakarta.persistence.Embedded;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.UUID;

/**
 * A snapshot policy: which regions (label selector), when (cron in a time zone), full or
 * incremental (fullEvery), and what to keep (retention).
 *
 * <p>Two instants drive the scheduler. {@code scheduleAnchor}: fire times at or before it never
 * run; it moves to "now" on creation, on resume and when the schedule or zone changes, so none of
 * those replays a fire time from the past. {@code lastFireTime}: the latest fire time claimed;
 * only the repository's claim writes it (an UPDATE conditioned on its previous value), so JPA
 * never overwrites a claim with a stale copy and the claim does not change the ETag.
 */
@Entity
@Table(name = "snapshot_policy")
class SnapshotPolicy {

    @Id
    private UUID id;

    /** The ETag: every change through the API increments it. */
    @Version
    private long version;

    @Column(nullable = false, unique = true, length = 64)
    private String name;

    @Column(nullable = false, length = 1024)
    private String selector;

    @Column(nullable = false, length = 128)
    private String schedule;

    @Column(name = "time_zone", nullable = false, length = 64)
    private String timeZone;

    @Column(name = "full_every", nullable = false)
    private int fullEvery;

    @Embedded
    private RetentionRules retention;

    @Column(nullable = false)
    private boolean paused;

    @Column(name = "require_quiesce", nullable = false)
    private boolean requireQuiesce;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "updated_at", nullable = false)
    private Instant updatedAt;

    @Column(name = "schedule_anchor", nullable = false)
    private Instant scheduleAnchor;

    @Column(name = "last_fire_time", insertable = false, updatable = false)
    private Instant lastFireTime;

    protected SnapshotPolicy() {
    }

    SnapshotPolicy(PolicyRequest request, Instant now) {
        this.id = UUID.randomUUID();
        this.createdAt = now;
        this.scheduleAnchor = now;
        apply(request, now);
    }

    /** Replaces the whole definition (PUT, or PATCH after merging). */
    void apply(PolicyRequest request, Instant now) {
        String newSchedule = request.schedule().strip();
        if (!newSchedule.equals(schedule) || !request.timeZone().equals(timeZone)) {
            scheduleAnchor = now;
        }
        if (paused && !request.paused()) {
            scheduleAnchor = now; // resumed through an update
        }
        name = request.name();
        selector = LabelSelector.parse(request.selector()).toString();
        schedule = newSchedule;
        timeZone = request.timeZone();
        fullEvery = request.fullEvery();
        retention = request.retention().toRules();
        paused = request.paused();
        requireQuiesce = request.requireQuiesce();
        updatedAt = now;
    }

    /** Returns false when already paused (nothing changes, the ETag stays). */
    boolean pause(Instant now) {
        if (paused) {
            return false;
        }
        paused = true;
        updatedAt = now;
        return true;
    }

    /** Returns false when not paused. Fire times missed while paused are not run. */
    boolean resume(Instant now) {
        if (!paused) {
            return false;
        }
        paused = false;
        scheduleAnchor = now;
        updatedAt = now;
        return true;
    }

    Schedule parsedSchedule() {
        return Schedule.of(schedule, timeZone);
    }

    LabelSelector parsedSelector() {
        return LabelSelector.parse(selector);
    }

    /** Fire times after this are due: the later of the anchor and the last claimed fire time. */
    Instant dueAfter() {
        return lastFireTime == null || lastFireTime.isBefore(scheduleAnchor) ? scheduleAnchor : lastFireTime;
    }

    PolicyView view(Instant now) {
        Instant nextRunAt = paused ? null : parsedSchedule().nextFireTimes(later(now, dueAfter()), 1).stream()
                .findFirst().map(ZonedDateTime::toInstant).orElse(null);
        return new PolicyView(id, name, selector, schedule, timeZone, fullEvery, PolicyRequest.RetentionSpec.of(retention),
                paused, requireQuiesce, version, createdAt, updatedAt, lastFireTime, nextRunAt);
    }

    private static Instant later(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    UUID id() {
        return id;
    }

    long version() {
        return version;
    }

    String name() {
        return name;
    }

    int fullEvery() {
        return fullEvery;
    }

    RetentionRules retention() {
        return retention;
    }

    boolean paused() {
        return paused;
    }

    boolean requireQuiesce() {
        return requireQuiesce;
    }

    Instant lastFireTime() {
        return lastFireTime;
    }
}
