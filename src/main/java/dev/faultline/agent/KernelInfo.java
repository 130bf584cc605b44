package dev.faultline.agent;

import tools.jackson.databind.JsonNode;

/** The running kernel, as uname(2) reports it. */
public record KernelInfo(String sysname, String release, String machine) {

    static KernelInfo fromAgent(JsonNode node) {
        return new KernelInfo(node.path("sysname").asString(null), node.path("release").asString(null),
                node.path("machine").asString(null));
    }
}
