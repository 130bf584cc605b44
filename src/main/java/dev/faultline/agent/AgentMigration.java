package dev.faultline.agent;

import java.util.List;
import java.util.Map;

/**
 * A migration as one agent reports it (PROTOCOL.md §1.9): its own side of the job, the source's
 * or the destination's. Each side fills the statistics it knows; the service merges the two.
 *
 * @param role {@code source} or {@code destination}
 * @param phase {@code precopy}, {@code switchover}, {@code postcopy}, {@code completed},
 *     {@code paused}, {@code failed} or {@code cancelled}
 * @param pausedIn while paused: {@code precopy} or {@code postcopy}
 * @param channel host:port of the destination agent's page channel
 * @param session destination only: the restore-like session the destination workload attaches to
 * @param destinationRegionId destination only: the region once the destination workload attached
 */
public record AgentMigration(String migrationId, String role, String regionId, String regionName, String phase,
        String pausedIn, String error, String channel, AgentRestore session, String destinationRegionId,
        Stats stats) {

    /** Absent fields are null: the reporting side does not know them. */
    public record Stats(Long regionBytes, Long setupMs, Long totalMs, Long downtimeMs, Long switchoverAtMs,
            Long precopyBytes, Long precopyPages, Long postcopyBytes, Long postcopyPages, Long demandBytes,
            Long demandPages, Long remainingBytes, Long dirtyRateBytesPerS, Long rounds, Long postcopyRequests,
            Latency demandLatency, Long blockedNs, Long throughputBytesPerS) {
    }

    public record Latency(long count, long p50Ns, long p99Ns, long maxNs) {
    }

    public record ListReply(List<AgentMigration> migrations) {
    }

    /** What migration_in takes (to the destination agent). The secret never appears in toString. */
    public record InRequest(String migrationId, String regionName, long length, int pageSize,
            Map<String, String> labels, String secret) {
        @Override
        public String toString() {
            return "InRequest[migrationId=" + migrationId + ", regionName=" + regionName + ", length=" + length
                    + ", pageSize=" + pageSize + ", labels=" + labels + ", secret=<redacted>]";
        }
    }

    /** What migration_out takes (to the source agent). The secret never appears in toString. */
    public record OutRequest(String migrationId, String regionId, String destination, String secret,
            Options options) {
        @Override
        public String toString() {
            return "OutRequest[migrationId=" + migrationId + ", regionId=" + regionId + ", destination="
                    + destination + ", options=" + options + ", secret=<redacted>]";
        }
    }

    /** @param postcopy {@code auto} or {@code manual} */
    public record Options(long bandwidthBytesPerS, int maxRounds, long maxDowntimeMs, String postcopy,
            long postcopyAfterMs) {
    }

    /** migration_resume; {@code destination} (optional) points the source at a new page channel address. */
    public record ResumeRequest(String migrationId, String destination) {
    }

    /** The request of migration_get, switchover, pause, cancel and delete. */
    public record Ref(String migrationId) {
    }
}
