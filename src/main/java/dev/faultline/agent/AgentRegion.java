package dev.faultline.agent;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A region as the agent reports it (PROTOCOL.md §1.8): one address range of one workload
 * whose uffd the agent holds, with its live statistics.
 */
public record AgentRegion(UUID id, String name, Map<String, String> labels, Owner owner, long start, long length,
        int pageSize, List<String> modes, String source, Backing backing, String state, Instant attachedAt,
        Pages pages, RegionStats stats) {

    public record Owner(Long pid, Long uid, String command) {
    }

    /** @param kind {@code anonymous}, {@code image} or {@code migration} */
    public record Backing(String kind, String path, Long offset, UUID restoreId) {
    }

    public record Pages(long total, long present) {
    }
}
