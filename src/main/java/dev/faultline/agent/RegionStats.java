package dev.faultline.agent;

import java.util.List;

/**
 * Fault statistics of one region since it attached (PROTOCOL.md §1.8). Latencies are in
 * nanoseconds, measured from the read() of a fault event to the ioctl that woke the thread.
 */
public record RegionStats(Faults faults, Events events, Installed installed, long zeroPages, long bytesInstalled,
        Latency latencyNs, long blockedNs, Retries retries) {

    public record Faults(long missing, long wp, long minor) {
    }

    public record Events(long remove, long unmap, long remap, long fork) {
    }

    /** Pages installed, by the path that installed them. */
    public record Installed(long demand, long faultAround, long prefetch, long background) {
    }

    /** @param buckets bucket i counts latencies in [2^i, 2^(i+1)) ns */
    public record Latency(long count, long sum, long max, long p50, long p99, List<Long> buckets) {
    }

    public record Retries(long eexist, long eagain) {
    }
}
