package dev.faultline.migration;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * How a job migrates (docs/api-migrations.md).
 *
 * @param maxDowntimeMs the longest the source's writers may be held at switchover
 * @param bandwidthLimitBytesPerSec page channel limit; 0 = unlimited
 * @param maxPrecopyRounds precopy passes before switching over (the first full pass is round 1)
 * @param postcopy when to switch over: {@code auto} or only on start-postcopy ({@code manual})
 * @param postcopyAfterMs with {@code auto}: switch over after this long in precopy at the latest
 */
record MigrationOptions(long maxDowntimeMs, long bandwidthLimitBytesPerSec, int maxPrecopyRounds, Postcopy postcopy,
        long postcopyAfterMs) {

    static final MigrationOptions DEFAULTS = new MigrationOptions(10, 0, 10, Postcopy.AUTO, 30_000);

    enum Postcopy {
        AUTO, MANUAL;

        @JsonValue
        String json() {
            return name().toLowerCase(Locale.ROOT);
        }

        @JsonCreator
        static Postcopy of(String value) {
            for (Postcopy p : values()) {
                if (p.json().equals(value)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("postcopy must be auto or manual, not '" + value + "'");
        }
    }
}
