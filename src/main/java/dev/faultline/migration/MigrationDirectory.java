package dev.faultline.migration;

import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/** What a migration needs to know about regions and nodes, read from their features. */
interface MigrationDirectory {

    Optional<Region> region(UUID id);

    Optional<Node> node(String name);

    /**
     * @param attached whether an agent holds the region now (only an attached region can move)
     */
    record Region(UUID id, String node, String name, long length, int pageSize, Map<String, String> labels,
            boolean attached) {
    }

    /** @param pageChannel the address its agent's page channel listens on, when known */
    record Node(String name, boolean up, String pageChannel) {
    }
}
