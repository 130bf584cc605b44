package dev.faultline.node;

import java.util.Set;

/**
 * The nodes whose agents this service instance manages: work recorded for one of them (a
 * snapshot job, a restore session) is this instance's to run.
 */
public interface LocalNodes {

    Set<String> names();

    /** A null node is work recorded before nodes existed: any instance may run it. */
    default boolean manages(String node) {
        return node == null || names().contains(node);
    }
}
