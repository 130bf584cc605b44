package dev.faultline.restore;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A restore session as the API shows it.
 *
 * @param snapshotId the snapshot the session serves (restored through {@code POST /snapshots/{id}/restore});
 *     its {@code image} is then the agent's flat copy of the snapshot's chain. Null for an image's session.
 * @param socket the handoff socket to give the workload ({@code FAULTLINE_HANDOFF}) or
 *     Firecracker ({@code mem_backend.backend_path})
 * @param progress pages present / total, 0 to 1 (null until a workload attached)
 */
public record RestoreView(UUID id, String node, String name, Map<String, String> labels, Image image, UUID snapshotId,
        String socket,
        RestoreState state, Instant createdAt, Instant closedAt, Options options, List<UUID> regions, String source,
        Pages pages, Double progress, WorkingSet workingSet, Clones clones, String error, Timing timing) {

    /**
     * Restore-to-run, as the agent measured it: milliseconds from the request to the first
     * workload registered, to the first fault served, and to COMPLETE; null until it happened,
     * and after an agent restart (the agent does not keep them).
     */
    public record Timing(Long registeredMs, Long firstFaultMs, Long completeMs) {
    }

    public record Image(String path, long size) {
    }

    /** Pages of the session's region, and how many of them hold data. */
    public record Pages(long total, long present) {
    }

    /** @param mode {@code off}, {@code record}, {@code replay} or {@code auto} */
    public record WorkingSet(String mode, String file, long recordedPages, long replayedPages) {
    }

    /** @param mode {@code copy} (pages copied into each workload) or {@code clone} (one shared copy) */
    public record Options(int faultAroundPages, long populateDelayMs, String workingSet, String mode) {
    }

    /**
     * Mode clone: the image's one copy in memory and what each clone holds beside it.
     *
     * @param sharedBytes size of the shared copy
     * @param sharedResidentBytes memory the shared copy holds now (zero pages take none)
     * @param privateBytes pages the clones wrote (their own copies), summed
     * @param pssBytes the clones' proportional set size over their regions, summed
     */
    public record Clones(long sharedBytes, long sharedResidentBytes, long privateBytes, long pssBytes,
            List<Clone> clones) {
    }

    /** One clone: the pages of the shared copy it maps, and the pages it wrote. */
    public record Clone(UUID regionId, long pid, long sharedBytes, long privateBytes, long pssBytes) {
    }
}
