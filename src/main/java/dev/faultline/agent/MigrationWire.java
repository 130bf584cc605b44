package dev.faultline.agent;

import java.util.List;
import java.util.Map;

/**
 * The migration messages as they are on the wire (PROTOCOL.md §1.9, snake_case through
 * {@link AgentJson}). {@link AgentMigrations} maps them to and from the service's names: the
 * wire's {@code bandwidth_bytes_per_s} is the bandwidth limit, its lower-case phases are the
 * service's upper-case ones, its ids are UUIDs, its {@code demand_latency} a LatencySummary.
 */
final class MigrationWire {

    private MigrationWire() {
    }

    record Reply(String migrationId, String role, String regionId, String regionName, String phase, String pausedIn,
            String error, String channel, AgentRestore session, String destinationRegionId, Stats stats,
            Boolean needsSecret) {
    }

    record Stats(Long regionBytes, Long setupMs, Long totalMs, Long downtimeMs, Long switchoverAtMs,
            Long precopyBytes, Long precopyPages, Long postcopyBytes, Long postcopyPages, Long demandBytes,
            Long demandPages, Long remainingBytes, Long dirtyRateBytesPerS, Long rounds, Long postcopyRequests,
            Latency demandLatency, Long blockedNs, Long throughputBytesPerS, Long compressedPages,
            Long compressedBytes, Long unchangedPages, String throttle, Long throttlePct, Long throttledMs,
            Long pushConnections) {
    }

    record Latency(long count, long p50Ns, long p99Ns, long maxNs) {
    }

    record ListReply(List<Reply> migrations) {
    }

    /** migration_in (to the destination agent). The secret never appears in toString. */
    record InRequest(String migrationId, String regionName, long length, int pageSize, Map<String, String> labels,
            String secret) {
        @Override
        public String toString() {
            return "InRequest[migrationId=" + migrationId + ", regionName=" + regionName + ", length=" + length
                    + ", pageSize=" + pageSize + ", labels=" + labels + ", secret=<redacted>]";
        }
    }

    /** migration_out (to the source agent). The secret never appears in toString. */
    record OutRequest(String migrationId, String regionId, String destination, String secret, Options options) {
        @Override
        public String toString() {
            return "OutRequest[migrationId=" + migrationId + ", regionId=" + regionId + ", destination="
                    + destination + ", options=" + options + ", secret=<redacted>]";
        }
    }

    record Options(long bandwidthBytesPerS, int maxRounds, long maxDowntimeMs, String postcopy,
            long postcopyAfterMs, String compress, boolean autoConverge, boolean skipUnchanged,
            int pushConnections) {
    }

    /** migration_resume; the secret (null: not sent) never appears in toString. */
    record ResumeRequest(String migrationId, String destination, String secret) {
        @Override
        public String toString() {
            return "ResumeRequest[migrationId=" + migrationId + ", destination=" + destination + ", secret="
                    + (secret == null ? "null" : "<redacted>") + "]";
        }
    }

    record Ref(String migrationId) {
    }
}
