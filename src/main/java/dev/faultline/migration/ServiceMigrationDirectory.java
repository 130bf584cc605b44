package dev.faultline.migration;

import dev.faultline.node.NodeService;
import dev.faultline.node.NodeView;
import dev.faultline.region.RegionService;
import dev.faultline.region.RegionState;
import dev.faultline.DomainException;
import java.util.Optional;
import java.util.UUID;
import org.springframework.stereotype.Component;

/** The directory over the region and node features. */
@Component
class ServiceMigrationDirectory implements MigrationDirectory {

    private final RegionService regions;
    private final NodeService nodes;

    ServiceMigrationDirectory(RegionService regions, NodeService nodes) {
        this.regions = regions;
        this.nodes = nodes;
    }

    @Override
    public Optional<Region> region(UUID id) {
        return regions.find(id).map(r -> new Region(r.id(), r.node(), r.name(), r.length(), r.pageSize(), r.labels(),
                r.state() == RegionState.ATTACHED));
    }

    @Override
    public Optional<Node> node(String name) {
        NodeView node;
        try {
            node = nodes.get(name);
        } catch (DomainException notFound) {
            return Optional.empty();
        }
        return Optional.of(new Node(node.name(), node.state() == NodeView.State.UP,
                node.pageChannel() == null ? null : node.pageChannel().address()));
    }
}
