package dev.faultline.snapshot;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.MessageType;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * The snapshot engine of the agent (native-agent/PROTOCOL.md §1.10). Every call blocks until the
 * agent replied: takes, verifications, consolidations and restores are deferred replies that
 * may take minutes for a large region, so they get explicit timeouts instead of the client's
 * default. Agent errors become {@link SnapshotEngineException}s whose message says what the agent
 * said, prefixed by what was being done.
 */
class AgentSnapshotEngine implements SnapshotEngine {

    /** A capture writes the whole region once; 30 minutes is ~20 GiB at a slow disk's 12 MB/s. */
    static final Duration LONG_CALL = Duration.ofMinutes(30);
    static final Duration SHORT_CALL = Duration.ofSeconds(30);
    /** How long a workload may take to finish its in-flight I/O before the snapshot goes on without. */
    static final Duration QUIESCE_TIMEOUT = Duration.ofSeconds(5);

    private final AgentClient agent;

    AgentSnapshotEngine(AgentClient agent) {
        this.agent = agent;
    }

    @Override
    public TakeResult take(TakeRequest request) {
        try {
            Files.createDirectories(request.path().getParent());
        } catch (IOException e) {
            throw new SnapshotEngineException("cannot create " + request.path().getParent() + ": " + e, e);
        }
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("snapshot_id", request.snapshotId().toString());
        payload.put("region_id", request.regionId());
        payload.put("path", request.path().toString());
        payload.put("kind", request.kind().name().toLowerCase(Locale.ROOT));
        if (request.parent() != null) {
            payload.put("parent", Map.of("snapshot_id", request.parent().snapshotId().toString(),
                    "path", request.parent().path().toString()));
        }
        // asked only when required: a workload without a handler answers "no" and the catalog fails the take
        payload.put("quiesce", request.requireQuiesce());
        payload.put("quiesce_timeout_ms", QUIESCE_TIMEOUT.toMillis());
        JsonNode r = call("taking snapshot " + request.snapshotId(), MessageType.SNAPSHOT_TAKE, payload, LONG_CALL);
        JsonNode stall = r.path("writer_stall");
        return new TakeResult(r.path("size_bytes").asLong(), r.path("pages_total").asLong(),
                r.path("pages_present").asLong(), r.path("pages_zero").asLong(), r.path("checksum").asString(),
                quiesce(r.path("quiesced")),
                stall.isObject() ? new WriterStall(stall.path("max_us").asLong(), stall.path("p999_us").asLong(),
                        stall.path("count").asLong()) : null);
    }

    @Override
    public Verification verify(Image image) {
        try {
            JsonNode r = agent.call(MessageType.SNAPSHOT_VERIFY, Map.of("path", image.path().toString()), LONG_CALL);
            return new Verification(r.path("intact").asBoolean(), r.path("detail").asString());
        } catch (AgentException e) {
            if ("NOT_FOUND".equals(e.code())) {
                return new Verification(false, "the image is missing: " + e.getMessage());
            }
            throw failure("verifying snapshot " + image.snapshotId(), e);
        }
    }

    @Override
    public Consolidation consolidate(Image parent, Image child) {
        JsonNode r = call("consolidating snapshot " + parent.snapshotId() + " into " + child.snapshotId(),
                MessageType.SNAPSHOT_CONSOLIDATE, Map.of("parent_path", parent.path().toString(),
                        "child_path", child.path().toString()), LONG_CALL);
        return new Consolidation(r.path("size_bytes").asLong(), r.path("checksum").asString());
    }

    @Override
    public void delete(Image image) {
        call("deleting snapshot " + image.snapshotId(), MessageType.SNAPSHOT_DELETE,
                Map.of("path", image.path().toString()), SHORT_CALL);
    }

    @Override
    public String restore(RestoreRequest request) {
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("chain", request.chain().stream().map(i -> i.path().toString()).toList());
        payload.put("mode", "lazy");
        if (request.name() != null) {
            payload.put("name", request.name());
        }
        payload.put("labels", request.labels() == null ? Map.of() : request.labels());
        JsonNode r = call("restoring snapshot " + request.snapshotId(), MessageType.SNAPSHOT_RESTORE, payload,
                LONG_CALL);
        return r.path("id").asString();
    }

    private JsonNode call(String what, MessageType type, Object payload, Duration timeout) {
        try {
            return agent.call(type, payload, timeout);
        } catch (AgentException e) {
            throw failure(what, e);
        }
    }

    private static SnapshotEngineException failure(String what, AgentException e) {
        String why = switch (e.code()) {
            case AgentException.UNAVAILABLE -> "the agent is not available: " + e.getMessage();
            case AgentException.TIMEOUT -> "the agent did not answer in time: " + e.getMessage();
            case "NO_SPACE" -> "not enough disk space: " + e.getMessage();
            case "PERMISSION_DENIED" -> "the agent may not use this path (faultline.snapshots.dir is its"
                    + " --allow-snapshot-dir): " + e.getMessage();
            default -> e.getMessage();
        };
        return new SnapshotEngineException(what + " failed: " + why, e);
    }

    private static Quiesce quiesce(JsonNode q) {
        if (!q.isString()) {
            return null;
        }
        return switch (q.asString()) {
            case "yes" -> Quiesce.YES;
            case "timeout" -> Quiesce.TIMEOUT;
            default -> Quiesce.NO;
        };
    }
}
