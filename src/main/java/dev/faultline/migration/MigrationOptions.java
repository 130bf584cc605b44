package dev.faultline.migration;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a job migrates (docs/api-migrations.md).
 *
 * @param maxDowntimeMs the longest the source's writers may be held at switchover
 * @param bandwidthLimitBytesPerSec page channel limit; 0 = unlimited
 * @param maxPrecopyRounds precopy passes before switching over (the first full pass is round 1)
 * @param postcopy when to switch over: {@code auto} or only on start-postcopy ({@code manual})
 * @param postcopyAfterMs with {@code auto}: switch over after this long in precopy at the latest
 * @param compress whether the source compresses page frames on the page channel ({@code zstd}) or not
 * @param autoConverge with {@code auto}: whether the source may throttle its workload (stop it for a growing
 *     share of every 100 ms) while precopy rounds do not converge, so that the switchover fits the downtime
 * @param skipUnchanged whether the source leaves out a page due to be sent again whose bytes are those it last
 *     sent (by a seeded XXH3-128 fingerprint: fast, not collision resistant); false sends every written page again
 * @param pushConnections how many TCP connections carry the precopy and background postcopy pages, 1 to 8: the
 *     page channel plus {@code pushConnections - 1} more (demand requests keep their own connection); a
 *     destination agent too old for more takes one, and the statistics' {@code pushConnections} says so
 */
record MigrationOptions(long maxDowntimeMs, long bandwidthLimitBytesPerSec, int maxPrecopyRounds, Postcopy postcopy,
        long postcopyAfterMs, Compress compress, boolean autoConverge, boolean skipUnchanged, int pushConnections) {

    /** The agent's bounds for pushConnections (PROTOCOL.md, migration_out). */
    static final int MIN_PUSH_CONNECTIONS = 1;
    static final int MAX_PUSH_CONNECTIONS = 8;

    static final MigrationOptions DEFAULTS = new MigrationOptions(10, 0, 10, Postcopy.AUTO, 30_000, Compress.NONE,
            false, true, 1);

    enum Postcopy {
        AUTO, MANUAL;

        @JsonValue
        String json() {
            return name().toLowerCase(Locale.ROOT);
        }

        @JsonCreator
        static Postcopy of(String value) {
            return lowerCase(Postcopy.class, "postcopy", value);
        }
    }

    /**
     * Page frames on the page channel: sent as they are, or as zstd frames where that is smaller
     * (pays on links slower than the compressor; PROTOCOL.md, migration_out).
     */
    enum Compress {
        NONE, ZSTD;

        @JsonValue
        String json() {
            return name().toLowerCase(Locale.ROOT);
        }

        @JsonCreator
        static Compress of(String value) {
            return lowerCase(Compress.class, "compress", value);
        }
    }

    /**
     * The constant of {@code type} an option names in lower case (its JSON form); any other value
     * is refused naming the option and what it takes, e.g. "postcopy must be auto or manual".
     */
    private static <E extends Enum<E>> E lowerCase(Class<E> type, String option, String value) {
        E[] constants = type.getEnumConstants();
        for (E e : constants) {
            if (e.name().toLowerCase(Locale.ROOT).equals(value)) {
                return e;
            }
        }
        String allowed = Arrays.stream(constants).map(e -> e.name().toLowerCase(Locale.ROOT))
                .collect(Collectors.joining(" or "));
        throw new IllegalArgumentException(option + " must be " + allowed + ", not '" + value + "'");
    }
}
