package dev.faultline.restore;

import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.AgentRestore;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A restore session as the API shows it.
 *
 * @param socket the handoff socket to give the workload ({@code FAULTLINE_HANDOFF}) or
 *     Firecracker ({@code mem_backend.backend_path})
 * @param progress pages present / total, 0 to 1 (null until a workload attached)
 */
public record RestoreView(UUID id, String node, String name, Map<String, String> labels, Image image, String socket,
        RestoreState state, Instant createdAt, Instant closedAt, Options options, List<String> regions, String source,
        AgentRegion.Pages pages, Double progress, AgentRestore.WorkingSet workingSet, String error) {

    public record Image(String path, long size) {
    }

    public record Options(int faultAroundPages, long populateDelayMs, String workingSet) {
    }
}
