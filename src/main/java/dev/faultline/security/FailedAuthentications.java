package dev.faultline.security;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts failed authentications per key (a source address, or the presented token's first
 * characters) in fixed windows; a key with too many failures in its window is refused at once
 * until the window ends. Token secrets are 256 random bits, so this is not what keeps them from
 * being guessed: it keeps a misbehaving client from hammering the token table and the log.
 */
final class FailedAuthentications {

    /** Keys remembered at most: a flood of new sources cannot grow the map without bound. */
    static final int MAX_KEYS = 10_000;

    private final int maxFailures;
    private final Duration window;
    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    private record Window(Instant start, int failures) {
    }

    FailedAuthentications(int maxFailures, Duration window, Clock clock) {
        this.maxFailures = maxFailures;
        this.window = window;
        this.clock = clock;
    }

    /** How long {@code key} stays refused, or null when it may try. */
    Duration blockedFor(String key) {
        Window w = windows.get(key);
        if (w == null || w.failures() < maxFailures) {
            return null;
        }
        Duration left = Duration.between(clock.instant(), w.start().plus(window));
        return left.isNegative() || left.isZero() ? null : left;
    }

    void failed(String key) {
        Instant now = clock.instant();
        if (windows.size() >= MAX_KEYS) {
            windows.values().removeIf(w -> !w.start().plus(window).isAfter(now));
            if (windows.size() >= MAX_KEYS) {
                return; // every slot is busy failing: those keys stay counted, a new one is not
            }
        }
        windows.merge(key, new Window(now, 1), (old, one) -> old.start().plus(window).isAfter(now)
                ? new Window(old.start(), old.failures() + 1) : one);
    }
}
