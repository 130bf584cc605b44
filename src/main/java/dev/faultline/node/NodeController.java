package dev.faultline.node;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.List;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/nodes")
@Tag(name = "Nodes", description = "Agents and the service instances that manage them")
class NodeController {

    private final NodeService nodes;

    NodeController(NodeService nodes) {
        this.nodes = nodes;
    }

    @GetMapping
    @Operation(summary = "Every node, with its agent, page channel address and userfaultfd capabilities")
    List<NodeView> list() {
        return nodes.list();
    }

    @GetMapping("/{name}")
    @Operation(summary = "One node")
    NodeView get(@PathVariable String name) {
        return nodes.get(name);
    }
}
