package dev.faultline;

/**
 * How long something waited, summarised the one way the whole service shows latencies: fault
 * latency of a region, demand-fetch latency of a migration, writer stalls of a snapshot. Every
 * figure is in nanoseconds (docs/architecture.md, glossary). A percentile the measuring side
 * does not compute is null rather than guessed: regions and migrations report p50 and p99,
 * snapshot writer stalls report p99.9.
 *
 * @param count how many waits were measured
 * @param maxNs the longest one
 */
public record LatencySummary(long count, Long p50Ns, Long p99Ns, Long p999Ns, long maxNs) {

    /** Nothing measured yet. */
    public static final LatencySummary NONE = new LatencySummary(0, null, null, null, 0);
}
