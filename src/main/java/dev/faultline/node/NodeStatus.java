package dev.faultline.node;

import java.util.Optional;

/**
 * Whether a node reports, as the cluster sees it: work for a node that is DOWN is refused or
 * skipped with the reason, rather than recorded to wait for an instance that is gone.
 */
public interface NodeStatus {

    /** Why the node is DOWN, or empty while it reports (and for a null or never-seen node). */
    Optional<String> down(String node);
}
