package dev.faultline.deploy;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
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
import org.springframework.beans.factory.annotation.Autowired;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ use only metrics this service
 * really exports: every series name in their queries is in a scrape of /actuator/prometheus taken
 * while a restored region serves faults, or, for the per-job series of migrations (exported only
 * while a job runs), is a sample name of one of the service's own Prometheus collectors, spelled
 * as that collector's type makes it ({@code _total} for a counter, {@code _bucket}/{@code _sum}/{@code
 * _count} for a histogram).
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

    @Autowired
    List<MultiCollector> collectors;

    @Test
    void everyMetricTheDashboardAndTheAlertRulesUseIsOneTheServiceExports() throws IOException {
        Map<String, String> used = new LinkedHashMap<>();
        dashboardQueries().forEach((where, expr) -> seriesIn(expr).forEach(s -> used.putIfAbsent(s, where)));
        alertQueries().forEach((where, expr) -> seriesIn(expr).forEach(s -> used.putIfAbsent(s, where)));
        assertThat(used.keySet()).as("series the dashboard and alerts use")
                .contains("faultline_faults_total", "faultline_fault_duration_seconds_bucket", "faultline_region_pages",
                        "faultline_migration_remaining_bytes", "faultline_migration_dirty_rate_bytes_per_second");

        Set<String> scraped;
        try (RestoredRegion ignored = RestoredRegion.start(admin(), image())) {
            scraped = sampleNames(admin().get("/actuator/prometheus", "text/plain").body());
        }
        Set<String> collected = collectorSampleNames();
        assertThat(scraped).as("the scrape with a restored region").contains("faultline_faults_total",
                "faultline_fault_duration_seconds_bucket", "faultline_region_pages", "http_server_requests_seconds_count");

        List<String> missing = new ArrayList<>();
        used.forEach((series, where) -> {
            if (!scraped.contains(series) && !collected.contains(series) && !PROMETHEUS_OWN.contains(series)) {
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

    /** The sample names of the service's own collectors, data or not, as their types spell them. */
    private Set<String> collectorSampleNames() {
        Set<String> names = new TreeSet<>();
        for (MultiCollector collector : collectors) {
            for (MetricSnapshot snapshot : collector.collect()) {
                String name = snapshot.getMetadata().getPrometheusName();
                if (snapshot instanceof CounterSnapshot) {
                    names.add(name + "_total");
                } else if (snapshot instanceof HistogramSnapshot) {
                    names.addAll(List.of(name + "_bucket", name + "_sum", name + "_count"));
                } else {
                    names.add(name);
                }
            }
        }
        assertThat(names).as("the service's collectors").contains("faultline_migration_remaining_bytes");
        return names;
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
}
