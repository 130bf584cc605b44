package dev.faultline;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Waits for a condition that another process brings about (an agent report, a sync) by
 * checking it until a deadline. The check is the synchronisation: the wait ends as soon as
 * it holds, and a timeout fails with what was last seen.
 */
public final class Await {

    private Await() {
    }

    public static <T> T until(String what, Duration timeout, Supplier<T> probe, java.util.function.Predicate<T> done) {
        long deadline = System.nanoTime() + timeout.toNanos();
        T last = probe.get();
        while (!done.test(last)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what + "; last seen: " + last);
            }
            LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
            last = probe.get();
        }
        return last;
    }
}
