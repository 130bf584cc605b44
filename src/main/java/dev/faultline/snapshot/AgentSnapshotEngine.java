package dev.faultline.snapshot;

import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentSnapshots;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.UUID;

/**
 * The snapshot engine of one node's agent ({@link AgentSnapshots}), in the catalog's terms.
 * Agent errors become {@link SnapshotEngineException}s whose message says what the agent said,
 * prefixed by what was being done.
 */
class AgentSnapshotEngine implements SnapshotEngine {

    /** How long a workload may take to finish its in-flight I/O before the snapshot goes on without. */
    static final Duration QUIESCE_TIMEOUT = Duration.ofSeconds(5);

    private final AgentSnapshots agent;

    AgentSnapshotEngine(AgentSnapshots agent) {
        this.agent = agent;
    }

    @Override
    public TakeResult take(TakeRequest request) {
        try {
            Files.createDirectories(request.path().getParent());
        } catch (IOException e) {
            throw new SnapshotEngineException("cannot create " + request.path().getParent() + ": " + e, e);
        }
        // asked only when required: a workload without a handler answers "no" and the catalog fails the take
        AgentSnapshots.Taken r;
        try {
            r = agent.take(new AgentSnapshots.TakeRequest(request.snapshotId(), request.regionId(),
                    AgentSnapshots.Kind.valueOf(request.kind().name()), request.path(), image(request.parent()),
                    request.requireQuiesce(), QUIESCE_TIMEOUT));
        } catch (AgentException e) {
            throw failure("taking snapshot " + request.snapshotId(), e);
        }
        return new TakeResult(r.sizeBytes(), r.pagesTotal(), r.pagesPresent(), r.pagesZero(), r.checksum(),
                r.quiesced() == null ? null : Quiesce.valueOf(r.quiesced().name()), r.writerStall());
    }

    @Override
    public Verification verify(Image image) {
        try {
            AgentSnapshots.Verified r = agent.verify(image(image));
            return new Verification(r.intact(), r.detail());
        } catch (AgentException e) {
            if ("NOT_FOUND".equals(e.code())) {
                return new Verification(false, "the image is missing: " + e.getMessage());
            }
            throw failure("verifying snapshot " + image.snapshotId(), e);
        }
    }

    @Override
    public Consolidation consolidate(Image parent, Image child) {
        try {
            AgentSnapshots.Consolidated r = agent.consolidate(image(parent), image(child));
            return new Consolidation(r.sizeBytes(), r.checksum());
        } catch (AgentException e) {
            throw failure("consolidating snapshot " + parent.snapshotId() + " into " + child.snapshotId(), e);
        }
    }

    @Override
    public void delete(Image image) {
        try {
            agent.delete(image(image));
        } catch (AgentException e) {
            throw failure("deleting snapshot " + image.snapshotId(), e);
        }
    }

    @Override
    public UUID restore(RestoreRequest request) {
        try {
            return agent.restore(request.sessionId(), request.snapshotId(),
                    request.chain().stream().map(AgentSnapshotEngine::image).toList(), request.name(), request.labels(),
                    request.mode(), request.verify());
        } catch (AgentException e) {
            throw failure("restoring snapshot " + request.snapshotId(), e);
        }
    }

    private static AgentSnapshots.Image image(Image image) {
        return image == null ? null : new AgentSnapshots.Image(image.snapshotId(), image.path());
    }

    static SnapshotEngineException failure(String what, AgentException e) {
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
}
