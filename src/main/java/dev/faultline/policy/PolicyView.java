package dev.faultline.policy;

import java.time.Instant;
import java.util.UUID;

/**
 * A snapshot policy as the API shows it; {@code version} is also its ETag.
 *
 * @param lastFireTime the latest scheduled time that has run (claimed), null before the first
 * @param nextRunAt the next scheduled time (UTC); null while paused
 */
record PolicyView(
        UUID id,
        String name,
        String selector,
        String schedule,
        String timeZone,
        int fullEvery,
        PolicyRequest.RetentionSpec retention,
        boolean paused,
        boolean requireQuiesce,
        long version,
        Instant createdAt,
        Instant updatedAt,
        Instant lastFireTime,
        Instant nextRunAt) {

    String etag() {
        return "\"" + version + "\"";
    }
}
