package dev.faultline.agent;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A restore session as the agent reports it (PROTOCOL.md §1.8).
 *
 * @param snapshotId the snapshot a session opened by snapshot_restore serves; null for an image's
 * @param labels the labels the restored region gets
 */
public record AgentRestore(UUID id, String name, Image image, String socket, String state, Instant createdAt,
        Options options, List<UUID> regions, String source, AgentRegion.Pages pages, WorkingSet workingSet,
        String error, UUID snapshotId, Map<String, String> labels, String mode,
        @JsonProperty("clone") Clone cloneUsage, Timing timing) {

    /**
     * Restore-to-run (PROTOCOL.md §1.8): milliseconds from the restore request to the first region
     * registered, the first fault served and COMPLETE; each null until it happened (or after an
     * agent restart).
     */
    public record Timing(Long registeredMs, Long firstFaultMs, Long completeMs) {
    }

    /** Mode clone: the image's shared copy and what each clone holds (PROTOCOL.md §1.8). */
    public record Clone(String memory, SharedCopy sharedCopy, List<Usage> clones, long privateBytes, long pssBytes) {
    }

    /** @param sessions clone sessions of this agent using the copy */
    public record SharedCopy(long bytes, long residentBytes, long pageSize, int sessions, long fillUs) {
    }

    public record Usage(UUID region, long pid, long sharedBytes, long privateBytes, long pssBytes) {
    }

    public record Image(String path, long size) {
    }

    /** @param workingSet {@code off}, {@code record}, {@code replay} or {@code auto} */
    public record Options(int faultAroundPages, long populateDelayMs, String workingSet) {
    }

    public record WorkingSet(String mode, String file, long recordedPages, long replayedPages) {
    }

    /** What restore_create takes. {@code id} is the service's own id for the session. */
    public record CreateRequest(UUID id, String name, Map<String, String> labels, String image, long imageOffset,
            int faultAroundPages, long populateDelayMs, String workingSet, String mode) {
    }
}
