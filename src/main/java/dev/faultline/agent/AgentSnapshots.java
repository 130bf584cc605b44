package dev.faultline.agent;

import dev.faultline.LatencySummary;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import tools.jackson.databind.JsonNode;

/**
 * One node's snapshot engine (PROTOCOL.md §1.10, messages 0x40–0x44), in the service's types.
 * Every call blocks until the agent replied: takes, verifications, consolidations and restores
 * are deferred replies that may take minutes for a large region, so they get explicit timeouts
 * instead of the client's default. Failures are {@link AgentException}s with the agent's code.
 */
public final class AgentSnapshots {

    /** A capture writes the whole region once; 30 minutes is ~20 GiB at a slow disk's 12 MB/s. */
    static final Duration LONG_CALL = Duration.ofMinutes(30);
    static final Duration SHORT_CALL = Duration.ofSeconds(30);

    private final AgentClient agent;

    AgentSnapshots(AgentClient agent) {
        this.agent = agent;
    }

    public enum Kind {
        FULL, INCREMENTAL
    }

    /** What the workload answered when asked to quiesce. */
    public enum Quiesced {
        YES, NO, TIMEOUT
    }

    /** An image file of a snapshot. */
    public record Image(UUID snapshotId, Path path) {
    }

    /**
     * @param parent the image an incremental snapshot is based on; null for a full one
     * @param quiesce ask the workload to quiesce first, waiting at most {@code quiesceTimeout}
     */
    public record TakeRequest(UUID snapshotId, UUID regionId, Kind kind, Path path, Image parent, boolean quiesce,
            Duration quiesceTimeout) {
    }

    /**
     * @param quiesced null when the workload was not asked
     * @param writerStall how long writers to not-yet-saved pages were held; null when not measured
     */
    public record Taken(long sizeBytes, long pagesTotal, long pagesPresent, long pagesZero, String checksum,
            Quiesced quiesced, LatencySummary writerStall) {
    }

    /** @param detail what was found, e.g. the first page whose checksum did not match */
    public record Verified(boolean intact, String detail) {
    }

    public record Consolidated(long sizeBytes, String checksum) {
    }

    /** snapshot_take: writes the region's pages into {@code request.path()}. */
    public Taken take(TakeRequest request) {
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("snapshot_id", request.snapshotId().toString());
        payload.put("region_id", request.regionId().toString());
        payload.put("path", request.path().toString());
        payload.put("kind", request.kind().name().toLowerCase(Locale.ROOT));
        if (request.parent() != null) {
            payload.put("parent", Map.of("snapshot_id", request.parent().snapshotId().toString(),
                    "path", request.parent().path().toString()));
        }
        payload.put("quiesce", request.quiesce());
        payload.put("quiesce_timeout_ms", request.quiesceTimeout().toMillis());
        JsonNode r = agent.call(MessageType.SNAPSHOT_TAKE, payload, LONG_CALL);
        return new Taken(r.path("size_bytes").asLong(), r.path("pages_total").asLong(),
                r.path("pages_present").asLong(), r.path("pages_zero").asLong(), r.path("checksum").asString(),
                quiesced(r.path("quiesced")), writerStall(r.path("writer_stall")));
    }

    /** snapshot_verify: re-reads an image and checks every page checksum. */
    public Verified verify(Image image) {
        JsonNode r = agent.call(MessageType.SNAPSHOT_VERIFY, Map.of("path", image.path().toString()), LONG_CALL);
        return new Verified(r.path("intact").asBoolean(), r.path("detail").asString());
    }

    /** snapshot_consolidate: folds {@code parent} into {@code child}. */
    public Consolidated consolidate(Image parent, Image child) {
        JsonNode r = agent.call(MessageType.SNAPSHOT_CONSOLIDATE, Map.of("parent_path", parent.path().toString(),
                "child_path", child.path().toString()), LONG_CALL);
        return new Consolidated(r.path("size_bytes").asLong(), r.path("checksum").asString());
    }

    /** snapshot_delete: removes an image (and a temporary file a broken take left). */
    public void delete(Image image) {
        agent.call(MessageType.SNAPSHOT_DELETE, Map.of("path", image.path().toString()), SHORT_CALL);
    }

    /**
     * snapshot_restore: opens a lazy restore session serving the chain (the full image first)
     * straight from its files
     * under the service's {@code sessionId}; the agent keeps {@code snapshotId} with the session
     * and reports it, so a session the service did not record can be adopted with its snapshot.
     * Returns the session's id once it is open.
     */
    /**
     * @param restoreMode the session's mode: {@code copy} or {@code clone} (PROTOCOL.md §2.6)
     * @param verify read and check every page of the chain before the session opens
     */
    public UUID restore(UUID sessionId, UUID snapshotId, List<Image> chain, String name, Map<String, String> labels,
            String restoreMode, boolean verify) {
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("id", sessionId.toString());
        payload.put("snapshot_id", snapshotId.toString());
        payload.put("restore_mode", restoreMode);
        payload.put("chain", chain.stream().map(i -> i.path().toString()).toList());
        payload.put("mode", "lazy");
        if (verify) {
            payload.put("verify", true);
        }
        if (name != null) {
            payload.put("name", name);
        }
        payload.put("labels", labels == null ? Map.of() : labels);
        JsonNode r = agent.call(MessageType.SNAPSHOT_RESTORE, payload, LONG_CALL);
        return UUID.fromString(r.path("id").asString());
    }

    private static Quiesced quiesced(JsonNode q) {
        if (!q.isString()) {
            return null;
        }
        return switch (q.asString()) {
            case "yes" -> Quiesced.YES;
            case "timeout" -> Quiesced.TIMEOUT;
            default -> Quiesced.NO;
        };
    }

    /** The wire's {@code writer_stall} is in microseconds with p99.9 only; the service's unit is ns. */
    static LatencySummary writerStall(JsonNode stall) {
        if (!stall.isObject()) {
            return null;
        }
        return new LatencySummary(stall.path("count").asLong(), null, null, stall.path("p999_us").asLong() * 1000,
                stall.path("max_us").asLong() * 1000);
    }
}
