package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.agent.AgentRegion;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class RegionTest {

    private static final Instant T0 = Instant.parse("2026-11-24T10:00:00Z");
    private static final UUID ID = UUID.randomUUID();

    @Test
    void aNewRegionTakesTheWorkloadsLabelsAndTheAgentsGeometry() {
        Region region = Region.attached("node-a", reported("ATTACHED", Map.of("app", "db")), T0);

        RegionView view = region.view(null);
        assertThat(view.state()).isEqualTo(RegionState.ATTACHED);
        assertThat(view.labels()).containsEntry("app", "db");
        assertThat(view.backing().kind()).isEqualTo("image");
        assertThat(view.modes()).containsExactly("missing");
        assertThat(view.start()).isEqualTo(0x7f0000000000L);
    }

    @Test
    void laterReportsNeverOverwriteLabelsTheControlPlaneOwns() {
        Region region = Region.attached("node-a", reported("ATTACHED", Map.of("app", "db")), T0);
        region.relabel(Map.of("app", "db", "tier", "gold"));

        region.observe(reported("ATTACHED", Map.of("app", "other")), T0);

        assertThat(region.labels()).containsEntry("tier", "gold").containsEntry("app", "db");
    }

    @Test
    void aDetachRequestedByTheApiStaysDetachingUntilTheAgentReleasesTheRegion() {
        Region region = Region.attached("node-a", reported("ATTACHED", Map.of()), T0);
        region.detaching();

        assertThat(region.observe(reported("ATTACHED", Map.of()), T0)).isFalse();
        assertThat(region.state()).as("an agent report racing the request does not undo it").isEqualTo(RegionState.DETACHING);

        region.observe(reported("DETACHED", Map.of()), T0.plusSeconds(3));
        assertThat(region.state()).isEqualTo(RegionState.DETACHED);
        assertThat(region.view(null).detachedAt()).isEqualTo(T0.plusSeconds(3));
    }

    @Test
    void aRegionReRegisteredAfterAnAgentRestartIsAttachedAgain() {
        Region region = Region.attached("node-a", reported("ATTACHED", Map.of()), T0);
        region.markDetached(T0.plusSeconds(1));

        assertThat(region.observe(reported("ATTACHED", Map.of()), T0.plusSeconds(2))).isTrue();

        assertThat(region.state()).isEqualTo(RegionState.ATTACHED);
        assertThat(region.view(null).detachedAt()).isNull();
    }

    private static AgentRegion reported(String state, Map<String, String> labels) {
        return new AgentRegion(ID, "demo", labels, new AgentRegion.Owner(42L, 0L, "demo"), 0x7f0000000000L, 1 << 20,
                4096, List.of("missing"), "libfaultline",
                new AgentRegion.Backing("image", "/images/demo.img", 0L, null), state, T0,
                new AgentRegion.Pages(256, 10), null);
    }
}
