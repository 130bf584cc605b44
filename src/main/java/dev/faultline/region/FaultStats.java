package dev.faultline.region;

import dev.faultline.LatencySummary;
import dev.faultline.agent.RegionStats;
import java.util.List;

/**
 * A region's fault statistics since it attached, as the API shows them (the agent's
 * {@link RegionStats} mapped into the glossary's names and units, docs/architecture.md).
 *
 * @param latency fault latency: from the read() of a fault event to the ioctl that woke the thread
 * @param latencyBuckets the same latencies as a log2 histogram: bucket i counts [2^i, 2^(i+1)) ns
 * @param blockedNs total time faulting threads waited
 */
public record FaultStats(Faults faults, Events events, Installed installed, long zeroPages, long bytesInstalled,
        LatencySummary latency, List<Long> latencyBuckets, long blockedNs, Retries retries) {

    public record Faults(long missing, long wp, long minor) {
    }

    public record Events(long remove, long unmap, long remap, long fork) {
    }

    /** Pages installed, by the path that installed them. */
    public record Installed(long demand, long faultAround, long prefetch, long background) {
    }

    public record Retries(long eexist, long eagain) {
    }

    static FaultStats of(RegionStats s) {
        if (s == null) {
            return null;
        }
        RegionStats.Latency l = s.latencyNs();
        return new FaultStats(
                s.faults() == null ? null : new Faults(s.faults().missing(), s.faults().wp(), s.faults().minor()),
                s.events() == null ? null : new Events(s.events().remove(), s.events().unmap(), s.events().remap(),
                        s.events().fork()),
                s.installed() == null ? null : new Installed(s.installed().demand(), s.installed().faultAround(),
                        s.installed().prefetch(), s.installed().background()),
                s.zeroPages(), s.bytesInstalled(),
                l == null ? LatencySummary.NONE : new LatencySummary(l.count(), l.p50(), l.p99(), null, l.max()),
                l == null || l.buckets() == null ? List.of() : List.copyOf(l.buckets()), s.blockedNs(),
                s.retries() == null ? null : new Retries(s.retries().eexist(), s.retries().eagain()));
    }
}
