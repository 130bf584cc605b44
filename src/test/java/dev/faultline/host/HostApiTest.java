package dev.faultline.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.ServiceTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

class HostApiTest extends ServiceTest {

    @Test
    void theHostShowsTheKernelsUserfaultfdFeaturesAndAReadyAgent() throws Exception {
        JsonNode host = admin().get("/api/v1/host").json();
        String release = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();

        assertThat(host.at("/kernel/release").asString()).isEqualTo(release);
        assertThat(host.at("/agent/state").asString()).isEqualTo("READY");
        assertThat(host.at("/agent/kernel/release").asString()).isEqualTo(release);
        assertThat(host.at("/userfaultfd/available").asBoolean()).as("JVM probe: %s", host.at("/userfaultfd/error")).isTrue();
        assertThat(strings(host.at("/userfaultfd/ioctls"))).contains("register", "api", "copy", "zeropage", "wake");
        if (atLeast(release, 6, 8)) { // WP_ASYNC came in 6.7, MOVE in 6.8
            assertThat(strings(host.at("/userfaultfd/features"))).contains("wp_async", "move", "wp_unpopulated", "poison");
            assertThat(strings(host.at("/userfaultfd/ioctls"))).contains("move", "writeprotect", "continue", "poison");
            assertThat(host.at("/userfaultfd/pagemapScan").asBoolean()).isTrue();
        }
    }

    @Test
    void theJvmAndTheAgentProbeTheSameGrantWhenTheyRunAsTheSameUser() {
        JsonNode host = admin().get("/api/v1/host").json();

        assertThat(strings(host.at("/agent/userfaultfd/features"))).isEqualTo(strings(host.at("/userfaultfd/features")));
        assertThat(strings(host.at("/agent/userfaultfd/ioctls")))
                .containsExactlyInAnyOrderElementsOf(strings(host.at("/userfaultfd/ioctls")));
        assertThat(host.at("/agent/userfaultfd/pagemapScan").asBoolean()).isEqualTo(host.at("/userfaultfd/pagemapScan").asBoolean());
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asString()));
        return out;
    }

    static boolean atLeast(String release, int major, int minor) {
        String[] parts = release.split("[.-]");
        int ma = Integer.parseInt(parts[0]);
        int mi = Integer.parseInt(parts[1]);
        return ma > major || (ma == major && mi >= minor);
    }
}
