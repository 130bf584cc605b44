package dev.faultline.deploy;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ use only metrics this service
 * really exports: every series name in their queries is in one scrape of /actuator/prometheus,
 * taken while a restored region serves faults, after a snapshot was taken and while a migration
 * runs (its per-job series exist only then), with both nodes' agents READY.
 */
class DashboardMetricsTest extends ServiceTest {

    private static final Path DASHBOARD = Path.of("deploy", "grafana", "faultline.json");
    private static final Path ALERTS = Path.of("deploy", "prometheus", "faultline-alerts.yml");
    private static final JsonMapper JSON = JsonMapper.builder().build();
    /** Series Prometheus makes itself for every target. */
    private static final Set<String> PROMETHEUS_OWN = Set.of("up");
    /** A series name: followed by a label matcher or a range, or one of the prefixes the service's meters use. */
    private static final Pattern SERIES = Pattern.compile(
            "(?<![$\\w])([a-zA-Z_:][a-zA-Z0-9_:]*)(?=\\s*[{\\[])|(?<![$\\w])((?:faultline|jvm|http|process|hikaricp|system|tomcat|executor|logback)_[a-zA-Z0-9_]+)");

    @Test
    void everyMetricTheDashboardAndTheAlertRulesUseIsOneTheServiceExports() throws Exception {
        Map<String, String> used = new LinkedHashMap<>();
        dashboardQueries().forEach((where, expr) -> seriesIn(expr).forEach(s -> used.putIfAbsent(s, where)));
        alertQueries().forEach((where, expr) -> seriesIn(expr).forEach(s -> used.putIfAbsent(s, where)));
        assertThat(used.keySet()).as("series the dashboard and alerts use")
                .contains("faultline_faults_total", "faultline_fault_duration_seconds_bucket", "faultline_region_pages",
                        "faultline_migration_remaining_bytes", "faultline_migration_dirty_rate_bytes_per_second",
                        "faultline_migration_phase", "faultline_snapshot_duration_seconds_bucket",
                        "faultline_snapshot_failures_total", "faultline_agent_up", "faultline_agent_restarts_total",
                        "faultline_agent_ready_total");

        String exposition;
        try (RestoredRegion ignored = RestoredRegion.start(admin(), image());
                NativeTools.Child ledger = new NativeTools.Child(NativeTools.demo().toString(), "ledger", "--socket",
                        agent.status().handoffSocket(), "--size", "4M", "--accounts", "2000", "--rate", "1000",
                        "--name", "dashboard-ledger-" + UUID.randomUUID().toString().substring(0, 8))) {
            String ledgerRegion = JSON.readTree(ledger.awaitLine("region_id")).path("region_id").asString();
            Await.until("the ledger's region", Duration.ofSeconds(15),
                    () -> admin().get("/api/v1/regions/" + ledgerRegion), r -> r.status() == 200);
            takeSnapshotOf(ledgerRegion);
            try (RunningMigration migration = RunningMigration.start(admin(), agent.status().handoffSocket())) {
                exposition = Await.until("the migration's series in the scrape", Duration.ofSeconds(30),
                        () -> admin().get("/actuator/prometheus", "text/plain").body(),
                        m -> m.contains("faultline_migration_phase{migration=\"" + migration.id()
                                + "\",phase=\"PRECOPY\"} 1"));
            }
            assertThat(ledger.terminate()).isZero();
        }
        Set<String> scraped = sampleNames(exposition);
        assertThat(scraped).as("the scrape with a restored region, a snapshot and a migration").contains(
                "faultline_faults_total", "faultline_fault_duration_seconds_bucket", "faultline_region_pages",
                "http_server_requests_seconds_count", "faultline_migration_remaining_bytes",
                "faultline_snapshot_duration_seconds_bucket", "faultline_snapshot_failures_total", "faultline_agent_up");
        assertThat(exposition).as("the snapshot taken is counted")
                .containsPattern("faultline_snapshot_duration_seconds_count\\{kind=\"full\",outcome=\"completed\"\\} [1-9]")
                .contains("faultline_agent_up{node=\"node-a\"} 1").contains("faultline_agent_up{node=\"" + SECOND_NODE + "\"} 1");

        List<String> missing = new ArrayList<>();
        used.forEach((series, where) -> {
            if (!scraped.contains(series) && !PROMETHEUS_OWN.contains(series)) {
                missing.add(series + " (" + where + ")");
            }
        });
        assertThat(missing).as("series used in deploy/ that the service does not export").isEmpty();
    }

    @Test
    void theDashboardIsGrafanaJsonWithADatasourceForEveryPanelAndTheAlertRulesAreComplete() throws IOException {
        JsonNode dashboard = JSON.readTree(Files.readString(DASHBOARD));
        assertThat(dashboard.path("uid").asString()).isEqualTo("faultline-overview");
        Set<Integer> ids = new TreeSet<>();
        for (JsonNode panel : dashboard.path("panels")) {
            assertThat(ids.add(panel.path("id").asInt())).as("panel ids are unique").isTrue();
            if (!panel.path("type").asString().equals("row")) {
                assertThat(panel.at("/datasource/uid").asString()).as(panel.path("title").asString()).isEqualTo("${datasource}");
                assertThat(panel.path("targets")).as(panel.path("title").asString()).isNotEmpty();
            }
        }

        for (Map<String, Object> rule : alertRules()) {
            assertThat(rule).as("alert rule %s", rule.get("alert")).containsKeys("alert", "expr", "for", "labels", "annotations");
            @SuppressWarnings("unchecked")
            Map<String, Object> labels = (Map<String, Object>) rule.get("labels");
            assertThat(labels.get("severity")).as("severity of %s", rule.get("alert")).isIn("warning", "critical");
            @SuppressWarnings("unchecked")
            Map<String, Object> annotations = (Map<String, Object>) rule.get("annotations");
            assertThat(annotations).containsKeys("summary", "description");
        }
    }

    /** Panel title -> PromQL of each of its queries, and the region variable's query. */
    private static Map<String, String> dashboardQueries() throws IOException {
        JsonNode dashboard = JSON.readTree(Files.readString(DASHBOARD));
        Map<String, String> queries = new LinkedHashMap<>();
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                queries.put("panel '" + panel.path("title").asString() + "' " + target.path("refId").asString(),
                        target.path("expr").asString());
            }
        }
        for (JsonNode variable : dashboard.at("/templating/list")) {
            if (variable.path("type").asString().equals("query")) {
                queries.put("variable " + variable.path("name").asString(), variable.path("definition").asString());
            }
        }
        assertThat(queries).as("queries of %s", DASHBOARD).isNotEmpty();
        return queries;
    }

    private static Map<String, String> alertQueries() throws IOException {
        Map<String, String> queries = new LinkedHashMap<>();
        for (Map<String, Object> rule : alertRules()) {
            queries.put("alert " + rule.get("alert"), String.valueOf(rule.get("expr")));
        }
        return queries;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> alertRules() throws IOException {
        Map<String, Object> file = new Yaml().load(Files.readString(ALERTS));
        List<Map<String, Object>> rules = new ArrayList<>();
        for (Map<String, Object> group : (List<Map<String, Object>>) file.get("groups")) {
            rules.addAll((List<Map<String, Object>>) group.get("rules"));
        }
        assertThat(rules).as("rules of %s", ALERTS).isNotEmpty();
        return rules;
    }

    static Set<String> seriesIn(String promql) {
        // label values and matchers are strings: leave them out
        String code = promql.replaceAll("\"[^\"]*\"", "\"\"");
        Set<String> names = new TreeSet<>();
        Matcher m = SERIES.matcher(code);
        while (m.find()) {
            names.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
        names.removeAll(Set.of("by", "without", "on", "ignoring", "group_left", "group_right", "offset"));
        return names;
    }

    private static Set<String> sampleNames(String exposition) {
        Set<String> names = new TreeSet<>();
        for (String line : exposition.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    /** A full snapshot of the region through the API; it must complete. */
    private void takeSnapshotOf(String regionId) {
        TestApi.Response r = admin().post("/api/v1/snapshots", map("regionId", regionId, "kind", "FULL"));
        assertThat(r.status()).as("%s", r.body()).isEqualTo(202);
        String location = r.headers().firstValue("Location").orElseThrow();
        JsonNode s = Await.until("the snapshot to end", Duration.ofSeconds(60), () -> admin().get(location).json(),
                j -> j.path("state").asString().equals("COMPLETED") || j.path("state").asString().equals("FAILED"));
        assertThat(s.path("state").asString()).as("%s", s).isEqualTo("COMPLETED");
    }

    private static Path image() throws IOException {
        Path image = Files.createDirectories(DATA_DIR.resolve("images")).resolve("dashboard.img");
        if (!Files.exists(image)) {
            NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "4M",
                    "--seed", "3");
        }
        return image;
    }

    /** The demo workload restored from an image, holding its region: its fault series are in the scrape. */
    private record RestoredRegion(NativeTools.Child demo) implements AutoCloseable {

        static RestoredRegion start(TestApi api, Path image) {
            String name = "dashboard-" + UUID.randomUUID().toString().substring(0, 8);
            TestApi.Response session = api.post("/api/v1/restores", map("image", image.toString(), "name", name,
                    "workingSet", "off"));
            assertThat(session.status()).as("restore session: %s", session.body()).isEqualTo(201);
            NativeTools.Child demo = new NativeTools.Child(NativeTools.demo().toString(), "restore",
                    "--socket", session.json().path("socket").asString(), "--size", "4M", "--seed", "3",
                    "--pattern", "random", "--hold", "--name", name);
            try {
                String regionId = JSON.readTree(demo.awaitLine("region_id")).path("region_id").asString();
                Await.until("the region's fault statistics to be exported", Duration.ofSeconds(15),
                        () -> api.get("/actuator/prometheus", "text/plain").body(),
                        metrics -> metrics.contains("faultline_faults_total{") && metrics.contains(regionId));
                return new RestoredRegion(demo);
            } catch (RuntimeException | AssertionError e) {
                demo.close();
                throw e;
            }
        }

        @Override
        public void close() {
            try {
                demo.terminate();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                demo.close();
            }
        }
    }

    /**
     * The migration demo's source on the primary node, migrating to the second node with a manual
     * switchover, so it stays in PRECOPY until it is cancelled on close.
     */
    private record RunningMigration(NativeTools.Child source, String id, TestApi api)
            implements AutoCloseable {

        static RunningMigration start(TestApi api, String handoffSocket) {
            String name = "dashboard-mig-" + UUID.randomUUID().toString().substring(0, 8);
            NativeTools.Child source = new NativeTools.Child(NativeTools.demo().toString(), "mig-source",
                    "--socket", handoffSocket, "--size", "16M", "--name", name, "--threads", "1");
            try {
                String regionId = JSON.readTree(source.awaitLine("region_id")).path("region_id").asString();
                Await.until("the source region to be listed", Duration.ofSeconds(15),
                        () -> api.get("/api/v1/regions/" + regionId), r -> r.status() == 200);
                TestApi.Response created = api.post("/api/v1/migrations", map("regionId", regionId,
                        "destinationNode", SECOND_NODE, "options", map("postcopy", "manual")));
                assertThat(created.status()).as(created.body()).isEqualTo(202);
                String location = created.headers().firstValue("Location").orElseThrow();
                JsonNode job = Await.until("the migration's precopy", Duration.ofSeconds(30),
                        () -> api.get(location).json(), j -> !j.path("phase").asString().equals("PENDING"));
                assertThat(job.path("phase").asString()).as("%s", job).isEqualTo("PRECOPY");
                return new RunningMigration(source, job.path("id").asString(), api);
            } catch (RuntimeException | AssertionError e) {
                source.close();
                throw e;
            }
        }

        @Override
        public void close() {
            try {
                api.post("/api/v1/migrations/" + id + "/cancel", map());
                source.terminate();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                source.close();
            }
        }
    }
}
