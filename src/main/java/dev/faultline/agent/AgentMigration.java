package dev.faultline.agent;

import dev.faultline.LatencySummary;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * One agent's side of a migration job, the source's or the destination's, in the service's
 * names and units (the wire's are in {@link MigrationWire}). Each side fills the statistics it
 * knows; the service merges the two.
 *
 * @param role {@code source} or {@code destination}
 * @param phase the service's spelling: PRECOPY, SWITCHOVER, POSTCOPY, COMPLETED, PAUSED, FAILED or
 *     CANCELLED (an agent has no PENDING: a job is pending until an agent accepted it)
 * @param pausedIn while paused: PRECOPY or POSTCOPY
 * @param channel host:port of the destination agent's page channel
 * @param sessionSocket destination only: the handoff socket the destination workload attaches to
 * @param destinationRegionId destination only: the region once the destination workload attached
 * @param switchoverAt when the source held its writers; null before switchover
 * @param needsSecret the agent read the job back from its journal after a restart and waits,
 *     PAUSED, for its secret (migration_resume with the secret)
 */
public record AgentMigration(UUID migrationId, String role, UUID regionId, String regionName, String phase,
        String pausedIn, String error, String channel, String sessionSocket, UUID destinationRegionId,
        Instant switchoverAt, Stats stats, boolean needsSecret) {

    /**
     * Absent fields are null: the reporting side does not know them.
     *
     * @param compressedPages source only: pages that travelled zstd-compressed (a subset of the pages sent)
     * @param compressedBytes source only: the bytes those compressed frames took on the wire
     * @param unchangedPages source only, with skip_unchanged: pages due to be sent again that were not, their
     *     bytes being those last sent (counted each time; not in the other page counts)
     * @param throttle source only, with auto-converge: {@code ready}, {@code throttling}, {@code stopped} or
     *     {@code unavailable} (the workload may not be stopped); null without it
     * @param throttlePct source only: the share of every 100 ms the workload is stopped (or was at the switchover)
     * @param throttledMs source only: how long the throttle held the workload in all
     * @param pushConnections the connections the job's pages are pushed on: on the source those it pushes on (1
     *     when the destination agent takes no more), on the destination those the source connected; null from
     *     an agent older than the option
     */
    public record Stats(Long regionBytes, Long setupMs, Long totalMs, Long downtimeMs, Long precopyBytes,
            Long precopyPages, Long postcopyBytes, Long postcopyPages, Long demandBytes, Long demandPages,
            Long remainingBytes, Long dirtyRateBytesPerSec, Long rounds, Long postcopyRequests,
            LatencySummary demandLatency, Long blockedNs, Long throughputBytesPerSec, Long compressedPages,
            Long compressedBytes, Long unchangedPages, String throttle, Long throttlePct, Long throttledMs,
            Long pushConnections) {
    }

    /** What the destination agent is asked to prepare (migration_in). The secret never appears in toString. */
    public record InRequest(UUID migrationId, String regionName, long length, int pageSize,
            Map<String, String> labels, String secret) {
        @Override
        public String toString() {
            return "InRequest[migrationId=" + migrationId + ", regionName=" + regionName + ", length=" + length
                    + ", pageSize=" + pageSize + ", labels=" + labels + ", secret=<redacted>]";
        }
    }

    /**
     * What the source agent is asked to do (migration_out). The secret never appears in toString.
     *
     * @param destination host:port of the destination's page channel
     * @param bandwidthLimitBytesPerSec page channel limit; 0 = unlimited
     * @param postcopy {@code auto} or {@code manual}
     * @param compress {@code none} or {@code zstd}: page frames compressed on the page channel
     * @param autoConverge throttle the workload while precopy rounds do not converge
     * @param skipUnchanged do not send a page again whose bytes are those last sent (by fingerprint)
     * @param pushConnections 1 to 8: the connections that carry the precopy and background postcopy pages
     */
    public record OutRequest(UUID migrationId, UUID regionId, String destination, String secret,
            long bandwidthLimitBytesPerSec, int maxPrecopyRounds, long maxDowntimeMs, String postcopy,
            long postcopyAfterMs, String compress, boolean autoConverge, boolean skipUnchanged,
            int pushConnections) {
        @Override
        public String toString() {
            return "OutRequest[migrationId=" + migrationId + ", regionId=" + regionId + ", destination="
                    + destination + ", bandwidthLimitBytesPerSec=" + bandwidthLimitBytesPerSec + ", maxPrecopyRounds="
                    + maxPrecopyRounds + ", maxDowntimeMs=" + maxDowntimeMs + ", postcopy=" + postcopy
                    + ", postcopyAfterMs=" + postcopyAfterMs + ", compress=" + compress + ", autoConverge=" + autoConverge
                    + ", skipUnchanged=" + skipUnchanged + ", pushConnections=" + pushConnections
                    + ", secret=<redacted>]";
        }
    }
}
