package dev.faultline.snapshot;

import dev.faultline.agent.AgentException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import org.springframework.stereotype.Component;

/**
 * How long snapshots take and why they fail, for Prometheus ({@code /actuator/prometheus}):
 * <ul>
 * <li>{@code faultline_snapshot_duration_seconds} (histogram; {@code kind} full|incremental,
 *     {@code outcome} completed|failed): from the job's start to its end, free-space check and
 *     agent capture included;
 * <li>{@code faultline_snapshot_failures_total} ({@code kind}, {@code reason}): failed takes by
 *     reason class ({@link Reason}), so an alert can tell a full disk from an agent that is down.
 * </ul>
 * Every series exists from the start at 0, so {@code rate()} and {@code increase()} see the first
 * failure. Tags are bounded enums: never a region or snapshot id.
 */
@Component
class SnapshotMetrics {

    static final String DURATION = "faultline.snapshot.duration";
    static final String FAILURES = "faultline.snapshot.failures";

    /** Why a take failed, as classes an operator acts on differently. */
    enum Reason {
        /** The node's agent was down, restarting, or did not answer in time. */
        AGENT_UNAVAILABLE,
        /** Too little space for the image (the service's min-free-space check or the agent's ENOSPC). */
        NO_SPACE,
        /** The policy requires quiesce and the workload did not quiesce. */
        NOT_QUIESCED,
        /** The service or its node went away while the take ran. */
        INTERRUPTED,
        /** The agent refused or failed the capture for another reason (its code is in the snapshot's error). */
        AGENT_ERROR,
        OTHER;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Upper bounds of the duration histogram: a small region takes well under a second, 20 GiB minutes. */
    private static final Duration[] BUCKETS = {Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10),
        Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofMinutes(5),
        Duration.ofMinutes(10), Duration.ofMinutes(30)};

    private final Map<SnapshotKind, Timer> completed = new EnumMap<>(SnapshotKind.class);
    private final Map<SnapshotKind, Timer> failedDuration = new EnumMap<>(SnapshotKind.class);
    private final Map<SnapshotKind, Map<Reason, Counter>> failures = new EnumMap<>(SnapshotKind.class);

    SnapshotMetrics(MeterRegistry registry) {
        for (SnapshotKind kind : SnapshotKind.values()) {
            completed.put(kind, timer(registry, kind, "completed"));
            failedDuration.put(kind, timer(registry, kind, "failed"));
            Map<Reason, Counter> byReason = new EnumMap<>(Reason.class);
            for (Reason reason : Reason.values()) {
                byReason.put(reason, Counter.builder(FAILURES)
                        .description("Snapshot takes that failed, by reason class")
                        .tag("kind", kind.name().toLowerCase(Locale.ROOT)).tag("reason", reason.tag())
                        .register(registry));
            }
            failures.put(kind, byReason);
        }
    }

    private static Timer timer(MeterRegistry registry, SnapshotKind kind, String outcome) {
        return Timer.builder(DURATION)
                .description("How long snapshot takes ran, from the job's start to its end")
                .tag("kind", kind.name().toLowerCase(Locale.ROOT)).tag("outcome", outcome)
                .serviceLevelObjectives(BUCKETS)
                .register(registry);
    }

    void completed(SnapshotKind kind, Duration took) {
        completed.get(kind).record(took);
    }

    /** @param took null when the take never ran here (interrupted by a restart): only counted */
    void failed(SnapshotKind kind, Duration took, Reason reason) {
        if (took != null) {
            failedDuration.get(kind).record(took);
        }
        failures.get(kind).get(reason).increment();
    }

    /** The reason class of a take's failure, from the exception and its causes. */
    static Reason classify(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof AgentException agent) {
                return switch (agent.code()) {
                    case AgentException.UNAVAILABLE, AgentException.TIMEOUT -> Reason.AGENT_UNAVAILABLE;
                    case "NO_SPACE" -> Reason.NO_SPACE;
                    default -> Reason.AGENT_ERROR;
                };
            }
        }
        String message = failure.getMessage() == null ? "" : failure.getMessage();
        if (message.contains("min-free-space")) {
            return Reason.NO_SPACE;
        }
        if (message.contains("not quiesced")) {
            return Reason.NOT_QUIESCED;
        }
        if (message.contains("cannot run here") || message.contains("is not available")) {
            return Reason.AGENT_UNAVAILABLE;
        }
        return Reason.OTHER;
    }
}
