package dev.faultline.snapshot;

import dev.faultline.LatencySummary;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The port through which the snapshot catalog drives the agent's snapshot engine. The catalog
 * owns what exists and in which state; the engine owns the bytes. Each call blocks until the
 * agent is done (jobs run on their own threads, see {@link SnapshotJobs}) and throws
 * {@link SnapshotEngineException} with a message fit for an operator when it cannot do the work.
 *
 * <p>What the catalog relies on:
 * <ul>
 * <li>{@link #take} writes under a temporary name, fsyncs and renames when complete; when it
 *     fails, no image and no temporary file remain.
 * <li>{@link #delete} is idempotent: a missing image is success. It also removes a temporary
 *     file an interrupted take may have left.
 * <li>{@link #consolidate} replaces the child's image atomically with one that holds the parent's
 *     pages the child did not change, so the child no longer needs the parent. Doing it twice is
 *     harmless (the child's pages win).
 * <li>{@link #restore} starts serving a restore session from the chain and returns its id at once;
 *     it does not wait for a workload to attach.
 * </ul>
 *
 * <p>There is one engine per node ({@link SnapshotEngines}): a snapshot's jobs run on its
 * region's node. {@link UnavailableSnapshotEngine} stands in for an agent that does not speak the
 * snapshot messages.
 */
public interface SnapshotEngine {

    /** Takes a snapshot of a region into {@code request.path()}. */
    TakeResult take(TakeRequest request);

    /** Re-reads an image and checks every page checksum. */
    Verification verify(Image image);

    /** Folds {@code parent} into {@code child}, see above. */
    Consolidation consolidate(Image parent, Image child);

    /** Removes an image, see above. */
    void delete(Image image);

    /** Opens a restore session serving the chain under {@code request.sessionId()}; returns that id. */
    UUID restore(RestoreRequest request);

    /** A snapshot's image file. */
    record Image(UUID snapshotId, Path path) {
    }

    /**
     * @param parent the image an incremental snapshot is based on; null for a full one
     * @param requireQuiesce the engine should fail the take rather than write an image that was
     *     not quiesced (the catalog also fails it when the result says it was not)
     */
    record TakeRequest(UUID snapshotId, UUID regionId, SnapshotKind kind, Path path, Image parent,
            boolean requireQuiesce) {
    }

    /**
     * @param quiesced null when the engine did not ask the workload
     * @param writerStall how long writers to not-yet-saved pages were held; null when not measured
     */
    record TakeResult(long sizeBytes, long pagesTotal, long pagesPresent, long pagesZero, String checksum,
            Quiesce quiesced, LatencySummary writerStall) {
    }

    /** @param detail what was found, e.g. the first page whose checksum did not match */
    record Verification(boolean intact, String detail) {
    }

    /** The child's image after consolidation. */
    record Consolidation(long sizeBytes, String checksum) {
    }

    /**
     * @param sessionId the id the session gets (the catalog's, so the restore feature can record it)
     * @param chain the full image first, then each incremental up to the snapshot restored
     * @param mode the session's mode, {@code copy} or {@code clone}
     * @param verify every page of the chain read and checked before the session opens (the agent
     *     serves the chain straight from its files and otherwise checks each page as it is served)
     */
    record RestoreRequest(UUID sessionId, UUID snapshotId, List<Image> chain, String name, Map<String, String> labels,
            String mode, boolean verify) {
    }
}
