package dev.faultline.migration;

import dev.faultline.LatencySummary;
import dev.faultline.agent.AgentMigration;
import java.util.function.Function;

/**
 * A job's statistics as the API shows them, named after libvirt/QEMU's migration statistics.
 * Live while the job runs, kept after it ends.
 *
 * @param totalMs since the source started the job
 * @param setupMs from the job's start to the first page sent
 * @param downtimeMs from the source's hold to the destination's first served fault (null before switchover)
 * @param remainingBytes what the destination does not hold yet
 * @param demandLatency how long the destination's faults waited for a page fetched on demand
 * @param blockedNs total time the destination's faulting threads waited for pages
 * @param transferred what was sent, by kind; with {@code compress: zstd} also how many of those pages
 *     travelled compressed ({@code compressedPages}) and the bytes that took ({@code compressedBytes}); with
 *     {@code skipUnchanged} the pages not sent again because their bytes were those last sent
 *     ({@code unchangedPages}, counted per round, not in the other page counts)
 * @param throttle with {@code autoConverge}: how the source throttles its workload; null without the option
 *     (and in statistics stored before it existed)
 * @param pushConnections the connections the source pushes pages on: the job's {@code pushConnections}, or 1
 *     where the destination agent is too old for more; null while no agent has said (and from agents older
 *     than the option, and in statistics stored before it existed)
 */
record MigrationStats(long regionBytes, long totalMs, long setupMs, Long downtimeMs, Transferred transferred,
        long remainingBytes, long dirtyRateBytesPerSec, long rounds, long postcopyRequests, LatencySummary demandLatency,
        long blockedNs, long throughputBytesPerSec, Throttle throttle, Long pushConnections) {

    /**
     * Auto-converge on the source (docs/api-migrations.md).
     *
     * @param state {@code ready} (not throttling), {@code throttling}, {@code stopped} (ended by the switchover
     *     or the end of the job) or {@code unavailable} (the source agent may not stop the workload)
     * @param pct the share of every 100 ms the workload is stopped now, or was when the switchover ended it
     * @param throttledMs how long the throttle has held the workload in all
     */
    record Throttle(String state, long pct, long throttledMs) {
    }

    record Transferred(long precopyBytes, long postcopyBytes, long demandBytes, long precopyPages, long postcopyPages,
            long demandPages, long compressedPages, long compressedBytes, long unchangedPages) {
    }

    /** Before any agent reported: the whole region remains. */
    static MigrationStats initial(long regionBytes) {
        return new MigrationStats(regionBytes, 0, 0, null, new Transferred(0, 0, 0, 0, 0, 0, 0, 0, 0), regionBytes, 0, 0,
                0, new LatencySummary(0, 0L, 0L, null, 0), 0, 0, null, null);
    }

    /**
     * Merges what the two agents reported into this (the previous) view. Each figure is taken from
     * the side that measures it (the source sends pages and tracks dirtying; the destination takes
     * faults and sees the first one served), and kept as it was while the owner is not visible
     * (unreachable, or managed by another service instance, which merges its own side).
     */
    MigrationStats merge(AgentMigration.Stats source, AgentMigration.Stats destination) {
        S src = new S(source, destination);
        S dst = new S(destination, source);
        LatencySummary latency = dst.pick(AgentMigration.Stats::demandLatency);
        Long downtime = dst.pick(AgentMigration.Stats::downtimeMs);
        String throttleState = src.pick(AgentMigration.Stats::throttle);
        // the source's count; the destination reports what the source connected, the same figure
        Long connections = src.pick(AgentMigration.Stats::pushConnections);
        return new MigrationStats(
                src.pick(AgentMigration.Stats::regionBytes, regionBytes),
                Math.max(src.pick(AgentMigration.Stats::totalMs, totalMs), src.other(AgentMigration.Stats::totalMs, 0)),
                src.pick(AgentMigration.Stats::setupMs, setupMs),
                downtime != null ? downtime : downtimeMs,
                new Transferred(
                        src.pick(AgentMigration.Stats::precopyBytes, transferred.precopyBytes()),
                        src.pick(AgentMigration.Stats::postcopyBytes, transferred.postcopyBytes()),
                        dst.pick(AgentMigration.Stats::demandBytes, transferred.demandBytes()),
                        src.pick(AgentMigration.Stats::precopyPages, transferred.precopyPages()),
                        src.pick(AgentMigration.Stats::postcopyPages, transferred.postcopyPages()),
                        dst.pick(AgentMigration.Stats::demandPages, transferred.demandPages()),
                        src.pick(AgentMigration.Stats::compressedPages, transferred.compressedPages()),
                        src.pick(AgentMigration.Stats::compressedBytes, transferred.compressedBytes()),
                        src.pick(AgentMigration.Stats::unchangedPages, transferred.unchangedPages())),
                src.pick(AgentMigration.Stats::remainingBytes, remainingBytes),
                src.pick(AgentMigration.Stats::dirtyRateBytesPerSec, dirtyRateBytesPerSec),
                src.pick(AgentMigration.Stats::rounds, rounds),
                src.pick(AgentMigration.Stats::postcopyRequests, postcopyRequests),
                latency == null ? demandLatency : latency,
                dst.pick(AgentMigration.Stats::blockedNs, blockedNs),
                src.pick(AgentMigration.Stats::throughputBytesPerSec, throughputBytesPerSec),
                throttleState == null ? throttle : new Throttle(throttleState,
                        src.pick(AgentMigration.Stats::throttlePct, throttle == null ? 0 : throttle.pct()),
                        src.pick(AgentMigration.Stats::throttledMs, throttle == null ? 0 : throttle.throttledMs())),
                connections == null ? pushConnections : connections);
    }

    /** Once the destination holds every page, nothing remains, whatever the last sample said. */
    MigrationStats completed() {
        return new MigrationStats(regionBytes, totalMs, setupMs, downtimeMs, transferred, 0, 0, rounds,
                postcopyRequests, demandLatency, blockedNs, throughputBytesPerSec, throttle, pushConnections);
    }

    /**
     * The owner's figure when the owner reported it; the other side's when the owner reported but
     * left it out; the previous one when the owner is not visible (the other side's zero may only
     * mean "not mine to know").
     */
    private record S(AgentMigration.Stats owner, AgentMigration.Stats otherSide) {

        <T> T pick(Function<AgentMigration.Stats, T> field) {
            if (owner == null) {
                return null;
            }
            T mine = field.apply(owner);
            return mine != null ? mine : otherSide == null ? null : field.apply(otherSide);
        }

        long pick(Function<AgentMigration.Stats, Long> field, long previous) {
            Long value = pick(field);
            return value == null ? previous : value;
        }

        long other(Function<AgentMigration.Stats, Long> field, long fallback) {
            Long value = otherSide == null ? null : field.apply(otherSide);
            return value == null ? fallback : value;
        }
    }
}
