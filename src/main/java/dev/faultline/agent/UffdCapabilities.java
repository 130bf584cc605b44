package dev.faultline.agent;

import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;

/**
 * What userfaultfd offers one process: the features UFFDIO_API grants, the ioctls UFFDIO_API
 * and UFFDIO_REGISTER report, and whether the PAGEMAP_SCAN ioctl exists. The agent and the
 * JVM probe separately, because each process may be granted different things (privileges,
 * sysctls, seccomp).
 *
 * @param source how the uffd was obtained: {@code dev_userfaultfd} or {@code syscall}
 * @param error why userfaultfd is unavailable, or null
 */
public record UffdCapabilities(boolean available, String source, long api, List<String> features,
        List<String> ioctls, boolean pagemapScan, String error) {

    public static UffdCapabilities unavailable(String error) {
        return new UffdCapabilities(false, null, 0, List.of(), List.of(), false, error);
    }

    public boolean has(String feature) {
        return features.contains(feature);
    }

    static UffdCapabilities fromAgent(JsonNode node) {
        return new UffdCapabilities(node.path("available").asBoolean(false), node.path("source").asString(null),
                node.path("api").asLong(0), strings(node.path("features")), strings(node.path("ioctls")),
                node.path("pagemap_scan").asBoolean(false),
                node.path("error").isString() ? node.path("error").asString() : null);
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asString()));
        return List.copyOf(out);
    }
}
