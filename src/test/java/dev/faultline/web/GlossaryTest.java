package dev.faultline.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The OpenAPI document speaks the glossary of docs/architecture.md: every REST name the glossary
 * gives is a property of the document, none of the names it forbids is, latencies are one
 * LatencySummary, ids are UUIDs and units are the glossary's.
 */
class GlossaryTest extends ServiceTest {

    private static final Path ARCHITECTURE = Path.of("docs", "architecture.md");
    private static final Pattern NAME = Pattern.compile("`([A-Za-z][A-Za-z0-9]*)`");
    private static final Pattern SNAKE_NAME = Pattern.compile("`([a-z][a-z0-9_]*)`");
    private static final Path ANSIBLE_MODULES = Path.of("ansible", "ansible_collections", "faultline", "memory",
            "plugins", "modules");
    /**
     * The glossary's exceptions to "an id is a UUID": an event's id is its position in the log
     * (the SSE cursor), and its subject is a node's name for node events.
     */
    private static final Set<String> NOT_UUIDS = Set.of("EventView.id", "EventView.subjectId");
    /** The schema every latency refers to. */
    private static final String LATENCY_SUMMARY = "LatencySummary";

    private JsonNode doc;
    /** Every property name of every schema, with the schemas that have it. */
    private final Map<String, Set<String>> properties = new TreeMap<>();

    @BeforeEach
    void readTheDocument() {
        TestApi.Response response = anonymous().get("/v3/api-docs");
        assertThat(response.status()).isEqualTo(200);
        doc = response.json();
        doc.path("components").path("schemas").properties().forEach(schema -> collect(schema.getKey(),
                schema.getValue()));
    }

    @Test
    void everyNameTheGlossaryGivesForRestIsAPropertyOfTheDocument() throws IOException {
        List<Row> rows = glossary();
        assertThat(rows).as("glossary rows in %s", ARCHITECTURE).hasSizeGreaterThan(5);
        Set<String> missing = new TreeSet<>();
        for (Row row : rows) {
            for (String name : row.rest()) {
                if (!properties.containsKey(name) && !LATENCY_SUMMARY.equals(name)) {
                    missing.add(row.concept() + ": " + name);
                }
            }
        }
        assertThat(missing).as("glossary names the OpenAPI document lacks").isEmpty();
    }

    @Test
    void noNameTheGlossaryForbidsAppearsInTheDocument() throws IOException {
        Set<String> forbidden = new TreeSet<>();
        glossary().forEach(row -> forbidden.addAll(row.never()));
        assertThat(forbidden).isNotEmpty();
        Map<String, Set<String>> found = new TreeMap<>();
        forbidden.stream().filter(properties::containsKey).forEach(name -> found.put(name, properties.get(name)));
        assertThat(found).as("forbidden synonyms and the schemas using them").isEmpty();
    }

    @Test
    void faultDemandAndWriterStallLatenciesAreOneLatencySummaryInNanoseconds() {
        JsonNode summary = doc.at("/components/schemas/" + LATENCY_SUMMARY + "/properties");
        assertThat(summary.isObject()).as("schema %s", LATENCY_SUMMARY).isTrue();
        assertThat(new TreeSet<>(summary.propertyNames())).containsExactlyInAnyOrder("count", "p50Ns", "p99Ns",
                "p999Ns", "maxNs");
        for (String latency : List.of("latency", "demandLatency", "writerStall")) {
            assertThat(properties.get(latency)).as("schemas with %s", latency).isNotEmpty();
            for (String schema : properties.get(latency)) {
                JsonNode property = doc.at("/components/schemas/" + schema + "/properties/" + latency);
                assertThat(ref(property)).as("%s.%s", schema, latency)
                        .isEqualTo("#/components/schemas/" + LATENCY_SUMMARY);
            }
        }
    }

    @Test
    void everyIdIsAUuidAndEveryUnitIsTheGlossarys() {
        List<String> wrong = new ArrayList<>();
        doc.path("components").path("schemas").properties().forEach(schema -> schema.getValue().path("properties")
                .properties().forEach(p -> {
                    String name = p.getKey();
                    boolean isId = (name.equals("id") || name.endsWith("Id"))
                            && !NOT_UUIDS.contains(schema.getKey() + "." + name);
                    if (isId && !"uuid".equals(p.getValue().path("format").asString(""))) {
                        wrong.add(schema.getKey() + "." + name + " is not format uuid");
                    }
                    if (name.matches(".*(Us|PerS|Micros|Nanos|Millis|Secs)$")) {
                        wrong.add(schema.getKey() + "." + name + " has a unit the glossary does not use");
                    }
                }));
        assertThat(wrong).isEmpty();
    }

    @Test
    void migrationPhasesAreSpelledAsTheGlossarySpellsThem() {
        List<String> phases = new ArrayList<>();
        doc.at("/components/schemas/MigrationView/properties/phase/enum").forEach(p -> phases.add(p.asString()));
        assertThat(phases).containsExactly("PENDING", "PRECOPY", "SWITCHOVER", "POSTCOPY", "COMPLETED", "PAUSED",
                "FAILED", "CANCELLED");
    }

    private void collect(String schema, JsonNode node) {
        node.path("properties").properties().forEach(p -> properties.computeIfAbsent(p.getKey(),
                k -> new TreeSet<>()).add(schema));
    }

    private static String ref(JsonNode property) {
        if (property.has("$ref")) {
            return property.path("$ref").asString();
        }
        // a nullable reference is written as oneOf/anyOf/allOf [ref, null]
        for (String combinator : List.of("allOf", "oneOf", "anyOf")) {
            for (JsonNode option : property.path(combinator)) {
                if (option.has("$ref")) {
                    return option.path("$ref").asString();
                }
            }
        }
        return property.toString();
    }

    /**
     * The collection's modules use every name the glossary gives for Ansible, as an option or a
     * documented return value (the text of plugins/modules; what they return is the REST JSON in
     * snake_case, which the collection's unit tests cover).
     */
    @Test
    void everyNameTheGlossaryGivesForAnsibleIsUsedByTheCollection() throws IOException {
        StringBuilder modules = new StringBuilder();
        try (var files = Files.list(ANSIBLE_MODULES)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".py")).toList()) {
                modules.append(Files.readString(file)).append('\n');
            }
        }
        assertThat(modules).as("modules in %s", ANSIBLE_MODULES).isNotEmpty();
        Set<String> missing = new TreeSet<>();
        for (Row row : glossary()) {
            for (String name : row.ansible()) {
                if (!Pattern.compile("(?<![A-Za-z0-9_])" + Pattern.quote(name) + "(?![A-Za-z0-9_])").matcher(modules).find()) {
                    missing.add(row.concept() + ": " + name);
                }
            }
        }
        assertThat(missing).as("glossary names the Ansible modules never use").isEmpty();
    }

    /** One row of the glossary table: its concept, the REST, Ansible and forbidden names. */
    record Row(String concept, Set<String> rest, Set<String> ansible, Set<String> never) {
    }

    /** The table under "## Glossary" in docs/architecture.md. */
    static List<Row> glossary() throws IOException {
        List<String> lines = Files.readAllLines(ARCHITECTURE);
        List<Row> rows = new ArrayList<>();
        boolean inGlossary = false;
        for (String line : lines) {
            if (line.startsWith("## ")) {
                inGlossary = line.startsWith("## Glossary");
                continue;
            }
            if (!inGlossary || !line.startsWith("|") || line.startsWith("|---") || line.startsWith("| concept")) {
                continue;
            }
            String[] cells = line.split("\\|", -1);
            // | concept | REST and UI | Ansible | agent wire | unit | never |
            assertThat(cells).as("glossary row %s", line).hasSize(8);
            rows.add(new Row(cells[1].strip(), names(cells[2]), snakeNames(cells[3]), names(cells[6])));
        }
        return rows;
    }

    private static Set<String> snakeNames(String cell) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = SNAKE_NAME.matcher(cell);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static Set<String> names(String cell) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = NAME.matcher(cell);
        while (m.find()) {
            String name = m.group(1);
            // enum values (PENDING) are checked on their own; a schema name stands for its shape
            if (!name.equals(name.toUpperCase(java.util.Locale.ROOT))) {
                names.add(name);
            }
        }
        return names;
    }
}
