package dev.faultline.node;

import java.time.Instant;
import java.util.List;

/**
 * A node as the API shows it (docs/api-migrations.md).
 *
 * @param local whether this service instance manages the node's agent
 * @param state {@code UP} while its instance heartbeats, else {@code DOWN}
 * @param capabilities userfaultfd features the node's agent was granted, and {@code pagemap_scan}
 */
public record NodeView(String name, boolean local, State state, Instant lastHeartbeat, Agent agent,
        PageChannel pageChannel, List<String> capabilities) {

    public enum State {
        UP, DOWN
    }

    public record Agent(String state, String version, Long pid) {
    }

    public record PageChannel(String address) {
    }
}
