package dev.faultline.migration;

import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** Regions and nodes for migration tests, set by each test. */
class FakeMigrationDirectory implements MigrationDirectory {

    private final Map<UUID, Region> regions = new ConcurrentHashMap<>();
    private final Map<String, Node> nodes = new ConcurrentHashMap<>();

    void reset() {
        regions.clear();
        nodes.clear();
        node("node-a", true);
        node("node-b", true);
    }

    Region region(String name, String node, long length) {
        Region r = new Region(UUID.randomUUID(), node, name, length, 4096, Map.of("app", name), true);
        regions.put(r.id(), r);
        return r;
    }

    void detach(UUID id) {
        Region r = regions.get(id);
        regions.put(id, new Region(r.id(), r.node(), r.name(), r.length(), r.pageSize(), r.labels(), false));
    }

    void node(String name, boolean up) {
        nodes.put(name, new Node(name, up, null));
    }

    @Override
    public Optional<Region> region(UUID id) {
        return Optional.ofNullable(regions.get(id));
    }

    @Override
    public Optional<Node> node(String name) {
        return Optional.ofNullable(nodes.get(name));
    }
}
