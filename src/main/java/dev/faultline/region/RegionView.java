package dev.faultline.region;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A region as the API shows it: what the control plane keeps, plus the agent's live page
 * counts and statistics (null while the agent is unreachable or the region is detached).
 *
 * @param start the region's first address; {@code length} bytes in pages of {@code pageSize}
 */
public record RegionView(UUID id, String node, String name, Map<String, String> labels, Owner owner, long start,
        long length, int pageSize, List<String> modes, String source, Backing backing, RegionState state,
        Instant attachedAt, Instant detachedAt, Pages pages, FaultStats stats,
        @JsonIgnore long version) {

    /** Pages of the region, and how many of them hold data. */
    public record Pages(long total, long present) {
    }

    public record Owner(Long pid, Long uid, String command) {
    }

    /** @param kind {@code anonymous}, {@code image} or {@code migration} */
    public record Backing(String kind, String path, Long offset, UUID restoreId) {
    }

    /** The ETag of this version of the region. */
    public String etag() {
        return "\"" + version + "\"";
    }
}
