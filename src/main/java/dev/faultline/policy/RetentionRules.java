package dev.faultline.policy;

import jakarta.persistence.Column;
import jakarta.persistence.Embeddable;
import java.time.Duration;

/**
 * What a policy keeps of each region's snapshots (all counts 0 and no max age: everything).
 *
 * @param keepLast the newest N
 * @param hourly the newest in each of the last N hours that have a snapshot (likewise daily,
 *     weekly by ISO week, monthly), in the policy's time zone
 * @param maxAgeSeconds nothing older, except what {@code keepVerified} or a dependency keeps; null: no limit
 * @param keepVerified a floor: the newest N VERIFIED snapshots are kept whatever the other rules say
 */
@Embeddable
record RetentionRules(
        @Column(name = "keep_last", nullable = false) int keepLast,
        @Column(name = "keep_hourly", nullable = false) int hourly,
        @Column(name = "keep_daily", nullable = false) int daily,
        @Column(name = "keep_weekly", nullable = false) int weekly,
        @Column(name = "keep_monthly", nullable = false) int monthly,
        @Column(name = "max_age_seconds") Long maxAgeSeconds,
        @Column(name = "keep_verified", nullable = false) int keepVerified) {

    static final RetentionRules KEEP_EVERYTHING = new RetentionRules(0, 0, 0, 0, 0, null, 0);

    boolean hasCountRules() {
        return keepLast > 0 || hourly > 0 || daily > 0 || weekly > 0 || monthly > 0;
    }

    Duration maxAge() {
        return maxAgeSeconds == null ? null : Duration.ofSeconds(maxAgeSeconds);
    }
}
