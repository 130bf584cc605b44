package dev.faultline.policy;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.springframework.scheduling.support.CronExpression;

/**
 * A policy's cron expression in its time zone. Accepted forms: the standard 5 fields (minute
 * hour day-of-month month day-of-week), Spring's 6 fields (seconds first), and the macros
 * {@code @yearly @annually @monthly @weekly @daily @midnight @hourly}. Fire times are Spring's
 * {@link CronExpression} evaluated in the zone, DST included: a local time that does not exist on
 * the spring-forward day is skipped that day, and one that occurs twice on the fall-back day fires
 * twice (two distinct instants).
 */
final class Schedule {

    private static final Set<String> ZONES = ZoneId.getAvailableZoneIds();
    /** The first look-back when searching the latest fire time; doubled until one is found. */
    private static final Duration FIRST_WINDOW = Duration.ofMinutes(1);

    private final CronExpression cron;
    private final ZoneId zone;

    private Schedule(CronExpression cron, ZoneId zone) {
        this.cron = cron;
        this.zone = zone;
    }

    /** Throws IllegalArgumentException saying what is wrong with the expression or the zone. */
    static Schedule of(String expression, String zoneId) {
        return new Schedule(parseCron(expression), parseZone(zoneId));
    }

    ZoneId zone() {
        return zone;
    }

    /** The first {@code count} fire times strictly after {@code after}. */
    List<ZonedDateTime> nextFireTimes(Instant after, int count) {
        List<ZonedDateTime> times = new ArrayList<>(count);
        ZonedDateTime t = after.atZone(zone);
        while (times.size() < count && (t = cron.next(t)) != null) {
            times.add(t);
        }
        return times;
    }

    /**
     * The latest fire time in {@code (after, upTo]}, or empty. Searching back from {@code upTo}
     * in a doubling window keeps this cheap after a long outage of a frequent schedule, where
     * walking forward from {@code after} would visit every missed fire time.
     */
    Optional<Instant> latestFireTime(Instant after, Instant upTo) {
        if (!after.isBefore(upTo)) {
            return Optional.empty();
        }
        Duration window = FIRST_WINDOW;
        while (true) {
            Instant from = upTo.minus(window);
            if (from.isBefore(after)) {
                from = after;
            }
            ZonedDateTime candidate = cron.next(from.atZone(zone));
            if (candidate != null && !candidate.toInstant().isAfter(upTo)) {
                ZonedDateTime next;
                while ((next = cron.next(candidate)) != null && !next.toInstant().isAfter(upTo)) {
                    candidate = next;
                }
                return Optional.of(candidate.toInstant());
            }
            if (from.equals(after)) {
                return Optional.empty();
            }
            window = window.multipliedBy(2);
        }
    }

    static CronExpression parseCron(String expression) {
        if (expression == null || expression.isBlank()) {
            throw new IllegalArgumentException("must not be blank");
        }
        String text = expression.strip();
        if (text.startsWith("@")) {
            if (!CronExpression.isValidExpression(text)) {
                throw new IllegalArgumentException("unknown macro '" + text
                        + "'; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly");
            }
            return CronExpression.parse(text);
        }
        int fields = text.split("\\s+").length;
        if (fields != 5 && fields != 6) {
            throw new IllegalArgumentException("has " + fields + " fields; expected 5 (minute hour day-of-month month"
                    + " day-of-week), 6 (second first) or a macro such as @daily");
        }
        try {
            return CronExpression.parse(fields == 5 ? "0 " + text : text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("is not a valid cron expression: " + e.getMessage(), e);
        }
    }

    static ZoneId parseZone(String zoneId) {
        if (zoneId == null || !ZONES.contains(zoneId)) {
            throw new IllegalArgumentException("must be an IANA time zone such as Europe/Berlin or UTC");
        }
        return ZoneId.of(zoneId);
    }
}
