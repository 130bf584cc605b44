package dev.faultline.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The migration messages as the agent reads and writes them (PROTOCOL.md §1.9, migration_out). */
class AgentMigrationsTest {

    private static final String SECRET = "ab".repeat(32);

    @Test
    void migrationOutCarriesTheOptionsInTheAgentsNamesAndItsToStringHidesTheSecret() {
        AgentMigration.OutRequest request = new AgentMigration.OutRequest(UUID.randomUUID(), UUID.randomUUID(),
                "127.0.0.1:7702", SECRET, 1 << 20, 5, 25, "manual", 1000, "zstd", true, false, 6);

        JsonNode wire = AgentJson.MAPPER.valueToTree(AgentMigrations.toWire(request));

        JsonNode options = wire.path("options");
        assertThat(options.path("compress").asString()).isEqualTo("zstd");
        assertThat(options.path("auto_converge").isBoolean()).as("a JSON boolean, as the agent requires").isTrue();
        assertThat(options.path("auto_converge").asBoolean()).isTrue();
        assertThat(options.path("skip_unchanged").isBoolean()).as("a JSON boolean, as the agent requires").isTrue();
        assertThat(options.path("skip_unchanged").asBoolean()).as("false is sent, not left out").isFalse();
        assertThat(options.path("bandwidth_bytes_per_s").asLong()).isEqualTo(1 << 20);
        assertThat(options.path("max_rounds").asInt()).isEqualTo(5);
        assertThat(options.path("max_downtime_ms").asLong()).isEqualTo(25);
        assertThat(options.path("postcopy").asString()).isEqualTo("manual");
        assertThat(options.path("postcopy_after_ms").asLong()).isEqualTo(1000);
        assertThat(options.path("push_connections").isIntegralNumber()).as("a JSON integer, as the agent requires")
                .isTrue();
        assertThat(options.path("push_connections").asInt()).isEqualTo(6);
        assertThat(wire.path("secret").asString()).as("the agent needs it").isEqualTo(SECRET);
        assertThat(request.toString()).contains("compress=zstd", "autoConverge=true", "skipUnchanged=false",
                        "pushConnections=6")
                .doesNotContain(SECRET);
        assertThat(AgentMigrations.toWire(request).toString()).contains("compress=zstd").doesNotContain(SECRET);
    }

    @Test
    void theSourcesCompressedPagesAndBytesReachTheStatistics() throws Exception {
        String reply = "{\"migration_id\": \"" + UUID.randomUUID() + "\", \"role\": \"source\", \"phase\": \"precopy\","
                + " \"stats\": {\"precopy_pages\": 4096, \"precopy_bytes\": 16777216, \"compressed_pages\": 4000,"
                + " \"compressed_bytes\": 123456, \"tracking\": \"async\"}}";

        AgentMigration.Stats stats = AgentMigrations.toService(
                AgentJson.MAPPER.readValue(reply, MigrationWire.Reply.class)).stats();

        assertThat(stats.compressedPages()).isEqualTo(4000);
        assertThat(stats.compressedBytes()).isEqualTo(123456);
        assertThat(stats.precopyBytes()).as("page bytes, compressed or not").isEqualTo(16L << 20);
    }

    @Test
    void anAgentThatDoesNotCountCompressionLeavesTheFiguresUnknown() throws Exception {
        String reply = "{\"migration_id\": \"" + UUID.randomUUID() + "\", \"role\": \"destination\","
                + " \"phase\": \"postcopy\", \"stats\": {\"demand_pages\": 3}}";

        AgentMigration.Stats stats = AgentMigrations.toService(
                AgentJson.MAPPER.readValue(reply, MigrationWire.Reply.class)).stats();

        assertThat(stats.compressedPages()).isNull();
        assertThat(stats.compressedBytes()).isNull();
        assertThat(stats.throttle()).isNull();
        assertThat(stats.throttlePct()).isNull();
        assertThat(stats.unchangedPages()).isNull();
        assertThat(stats.pushConnections()).as("an agent older than push_connections").isNull();
    }

    @Test
    void skipUnchangedTrueIsSentAsTheAgentsBoolean() {
        AgentMigration.OutRequest request = new AgentMigration.OutRequest(UUID.randomUUID(), UUID.randomUUID(),
                "127.0.0.1:7702", SECRET, 0, 10, 10, "auto", 30_000, "none", false, true, 1);

        JsonNode options = AgentJson.MAPPER.valueToTree(AgentMigrations.toWire(request)).path("options");

        assertThat(options.path("skip_unchanged").isBoolean()).isTrue();
        assertThat(options.path("skip_unchanged").asBoolean()).isTrue();
        assertThat(options.path("push_connections").isIntegralNumber()).isTrue();
        assertThat(options.path("push_connections").asInt()).as("the default is sent, not left out").isEqualTo(1);
    }

    @Test
    void theConnectionsTheSourcePushesOnReachTheStatistics() throws Exception {
        String reply = "{\"migration_id\": \"" + UUID.randomUUID() + "\", \"role\": \"source\", \"phase\": \"precopy\","
                + " \"stats\": {\"precopy_pages\": 4096, \"push_connections\": 4}}";

        AgentMigration.Stats stats = AgentMigrations.toService(
                AgentJson.MAPPER.readValue(reply, MigrationWire.Reply.class)).stats();

        assertThat(stats.pushConnections()).isEqualTo(4);
    }

    @Test
    void theSourcesUnchangedPagesReachTheStatistics() throws Exception {
        String reply = "{\"migration_id\": \"" + UUID.randomUUID() + "\", \"role\": \"source\", \"phase\": \"precopy\","
                + " \"stats\": {\"precopy_pages\": 4096, \"unchanged_pages\": 777}}";

        AgentMigration.Stats stats = AgentMigrations.toService(
                AgentJson.MAPPER.readValue(reply, MigrationWire.Reply.class)).stats();

        assertThat(stats.unchangedPages()).isEqualTo(777);
        assertThat(stats.precopyPages()).as("not counted among the pages sent").isEqualTo(4096);
    }

    @Test
    void theSourcesThrottleReachesTheStatistics() throws Exception {
        String reply = "{\"migration_id\": \"" + UUID.randomUUID() + "\", \"role\": \"source\", \"phase\": \"precopy\","
                + " \"stats\": {\"throttle\": \"throttling\", \"throttle_pct\": 40, \"throttled_ms\": 1234}}";

        AgentMigration.Stats stats = AgentMigrations.toService(
                AgentJson.MAPPER.readValue(reply, MigrationWire.Reply.class)).stats();

        assertThat(stats.throttle()).isEqualTo("throttling");
        assertThat(stats.throttlePct()).isEqualTo(40);
        assertThat(stats.throttledMs()).isEqualTo(1234);
    }
}
