package dev.faultline.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * A property over every endpoint of the OpenAPI document: whatever a client sends (boundary
 * values, wrong types, missing or unknown fields, nulls, oversized strings and label sets,
 * malformed JSON, bad path and query values), the answer is never a 5xx, every 4xx is
 * problem+json, and a 4xx creates nothing: no token, policy, restore session (in the database or
 * on the agent) or migration appears.
 *
 * <p>Requests are generated from the document with a seeded random source: the seed is printed
 * and {@code -Dfaultline.fuzz.seed=N} replays a run; {@code -Dfaultline.fuzz.tries=N} (default
 * 300) bounds it. (jqwik was the first choice; its releases are built on JUnit Platform 1, and
 * this build runs Platform 6, so the generator is this class's own: small, no shrinking, and
 * every failure names the request that caused it.)
 */
class ApiInputPropertyTest extends ServiceTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Server-sent events never end on their own; the stream's bounds are tested in the event tests. */
    private static final String EVENT_STREAM = "/api/v1/events/stream";

    private JsonNode doc;
    private String fuzzToken;
    private String goodImage;

    record Operation(String method, String path, JsonNode spec) {
    }

    record Request(String method, String path, String contentType, String body, String[] headers) {

        @Override
        public String toString() {
            String shown = body == null ? "" : body.length() > 300 ? body.substring(0, 300) + "...(" + body.length() + ")" : body;
            return method + " " + (path.length() > 300 ? path.substring(0, 300) + "..." : path) + " [" + contentType + "] "
                    + shown;
        }
    }

    /** What a 4xx must leave as it was. */
    record Created(int tokens, long policies, int restores, int agentRestores, long migrations) {
    }

    @BeforeEach
    void readTheDocument() throws IOException {
        doc = anonymous().get("/v3/api-docs").json();
        TestApi.Response token = admin().post("/api/v1/tokens", TestApi.map("name",
                "fuzz-" + UUID.randomUUID().toString().substring(0, 8), "role", "ADMIN"));
        assertThat(token.status()).isEqualTo(201);
        fuzzToken = token.json().path("token").asString();
        Path image = Files.createDirectories(DATA_DIR.resolve("images")).resolve("fuzz-" + UUID.randomUUID() + ".img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "1M");
        goodImage = image.toString();
    }

    @Test
    void noGeneratedRequestGetsA5xxAndNoRefusedRequestCreatesAnything() {
        long seed = Long.getLong("faultline.fuzz.seed", System.nanoTime());
        int tries = Integer.getInteger("faultline.fuzz.tries", 300);
        System.out.println("ApiInputPropertyTest: seed " + seed + ", " + tries + " tries (-Dfaultline.fuzz.seed="
                + seed + " replays this run)");
        SplittableRandom random = new SplittableRandom(seed);
        List<Operation> operations = operations();
        assertThat(operations).as("the document lists the API").hasSizeGreaterThan(30);
        List<Operation> withBody = operations.stream().filter(o -> o.spec().has("requestBody")).toList();

        TestApi api = api(fuzzToken);
        Map<String, Integer> outcomes = new java.util.TreeMap<>();
        for (int i = 0; i < tries; i++) {
            // every operation once, then mostly those with a body: they are where input turns into state
            Operation op = i < operations.size() ? operations.get(i) : random.nextInt(3) > 0
                    ? withBody.get(random.nextInt(withBody.size())) : operations.get(random.nextInt(operations.size()));
            Request request = request(op, random);
            TestApi caller = random.nextInt(20) == 0 ? anonymous() : api;
            Created before = created();
            TestApi.Response r = caller.send(request.method(), request.path(), request.body(), request.contentType(),
                    request.headers());
            outcomes.merge(r.status() / 100 + "xx", 1, Integer::sum);
            if (r.status() < 300 && request.method().equals("POST")) {
                outcomes.merge("created " + request.path().replaceAll("\\?.*", ""), 1, Integer::sum);
            }
            String what = "try " + i + " (seed " + seed + "): " + request + " -> " + r.status() + " " + r.body();
            assertThat(r.status()).as(what).isLessThan(500);
            if (r.status() >= 400) {
                assertThat(r.isProblem()).as("problem+json for " + what).isTrue();
                assertThat(r.json().path("status").asInt()).as(what).isEqualTo(r.status());
                assertThat(created()).as("nothing created by " + what).isEqualTo(before);
            } else if (r.status() < 300) {
                undo(request, r);
            }
        }
        System.out.println("ApiInputPropertyTest: outcomes " + outcomes);
        assertThat(outcomes).as("the generator reaches both refusals and successes").containsKeys("2xx", "4xx");
    }

    private List<Operation> operations() {
        List<Operation> ops = new ArrayList<>();
        for (Map.Entry<String, JsonNode> path : doc.path("paths").properties()) {
            if (path.getKey().equals(EVENT_STREAM)) {
                continue;
            }
            for (Map.Entry<String, JsonNode> method : path.getValue().properties()) {
                ops.add(new Operation(method.getKey().toUpperCase(), path.getKey(), method.getValue()));
            }
        }
        return ops;
    }

    /** What a request that succeeded created, removed again so later tries start from the same state. */
    private void undo(Request request, TestApi.Response r) {
        if (!request.method().equals("POST") || r.body() == null || r.body().isEmpty()) {
            return;
        }
        String id = r.json().path("id").asString();
        switch (request.path().replaceAll("\\?.*", "")) {
            case "/api/v1/tokens" -> admin().delete("/api/v1/tokens/" + id);
            case "/api/v1/snapshot-policies" -> admin().delete("/api/v1/snapshot-policies/" + id);
            case "/api/v1/restores" -> admin().delete("/api/v1/restores/" + id);
            default -> {
            }
        }
    }

    private Created created() {
        TestApi api = admin();
        return new Created(api.get("/api/v1/tokens").json().size(),
                api.get("/api/v1/snapshot-policies").json().size(),
                api.get("/api/v1/restores?size=1").json().path("totalItems").asInt(), agent.restores().size(),
                api.get("/api/v1/migrations?size=1").json().path("totalItems").asLong());
    }

    // ---- generation ---------------------------------------------------------------------------

    private Request request(Operation op, SplittableRandom random) {
        String path = op.path();
        StringBuilder query = new StringBuilder();
        List<String> headers = new ArrayList<>();
        for (JsonNode p : op.spec().path("parameters")) {
            JsonNode schema = resolve(p.path("schema"));
            String name = p.path("name").asString();
            switch (p.path("in").asString()) {
                case "path" -> path = path.replace("{" + name + "}", encode(pathValue(schema, random)));
                case "query" -> {
                    if (random.nextInt(3) > 0) {
                        query.append(query.isEmpty() ? "?" : "&").append(encode(name)).append('=')
                                .append(encode(scalarText(schema, random)));
                    }
                }
                case "header" -> {
                    if (random.nextBoolean()) {
                        headers.add(name);
                        headers.add(headerValue(random));
                    }
                }
                default -> {
                }
            }
        }
        if (random.nextInt(10) == 0) {
            headers.add("If-Match");
            headers.add(headerValue(random));
        }
        JsonNode content = op.spec().path("requestBody").path("content");
        String contentType = content.isObject() && !content.isEmpty() ? content.propertyNames().iterator().next()
                : "application/json";
        String body = null;
        if (content.isObject() && !content.isEmpty()) {
            ObjectNode valid = validBody(op);
            body = valid != null && random.nextBoolean()
                    ? JSON.writeValueAsString(mutate(valid, resolve(content.path(contentType).path("schema")), random))
                    : body(resolve(content.path(contentType).path("schema")), random);
            int mangle = random.nextInt(20);
            if (mangle == 0) {
                contentType = "text/plain";
            } else if (mangle == 1) {
                contentType = "application/json; charset=x-unknown";
            }
        } else if (random.nextInt(10) == 0) {
            body = "{\"unexpected\": true}";
        }
        return new Request(op.method(), path + query, contentType, body, headers.toArray(String[]::new));
    }

    /** A body the endpoint accepts, to change one field of: this reaches what lies past the validation. */
    private ObjectNode validBody(Operation op) {
        String unique = UUID.randomUUID().toString().substring(0, 8);
        return switch (op.method() + " " + op.path()) {
            case "POST /api/v1/tokens" -> NODES.objectNode().put("name", "fuzz-" + unique).put("role", "VIEWER");
            case "POST /api/v1/restores" -> {
                ObjectNode body = NODES.objectNode().put("image", goodImage).put("name", "fuzz-" + unique);
                body.putObject("labels").put("app", "fuzz");
                yield body;
            }
            case "POST /api/v1/snapshot-policies", "PUT /api/v1/snapshot-policies/{id}" -> NODES.objectNode()
                    .put("name", "fuzz-" + unique).put("selector", "app=fuzz-matches-nothing")
                    .put("schedule", "@hourly").put("timeZone", "UTC");
            case "PATCH /api/v1/regions/{id}" -> {
                ObjectNode body = NODES.objectNode();
                body.putObject("labels").put("app", "fuzz");
                yield body;
            }
            default -> null;
        };
    }

    /** The valid body as it is (a quarter of the time), or with one field changed, removed or nulled. */
    private JsonNode mutate(ObjectNode valid, JsonNode schema, SplittableRandom random) {
        if (random.nextInt(4) == 0) {
            return valid;
        }
        List<String> fields = new ArrayList<>();
        schema.path("properties").propertyNames().forEach(fields::add);
        if (fields.isEmpty()) {
            return valid;
        }
        String field = fields.get(random.nextInt(fields.size()));
        switch (random.nextInt(5)) {
            case 0 -> valid.remove(field);
            case 1 -> valid.putNull(field);
            default -> valid.set(field, value(schema.path("properties").path(field), random, 1));
        }
        return valid;
    }

    private String body(JsonNode schema, SplittableRandom random) {
        return switch (random.nextInt(14)) {
            case 0 -> "{";
            case 1 -> "";
            case 2 -> "null";
            case 3 -> "[]";
            case 4 -> "[".repeat(5000) + "]".repeat(5000);
            case 5 -> "{\"a\":" + "\"" + "\\u0000".repeat(100) + "\"}";
            case 6 -> "\u00ff\u00fe\u0000garbage";
            default -> JSON.writeValueAsString(value(schema, random, 0));
        };
    }

    /** A value for the schema: usually well-formed with boundary values, sometimes of the wrong kind. */
    private JsonNode value(JsonNode schema, SplittableRandom random, int depth) {
        schema = resolve(schema);
        if (random.nextInt(12) == 0 || depth > 4) {
            return wrongKind(random);
        }
        String type = schema.path("type").asString("");
        if (type.isEmpty() && schema.has("properties")) {
            type = "object";
        }
        return switch (type) {
            case "object" -> object(schema, random, depth);
            case "array" -> {
                ArrayNode array = NODES.arrayNode();
                int n = random.nextInt(4);
                for (int i = 0; i < n; i++) {
                    array.add(value(schema.path("items"), random, depth + 1));
                }
                yield array;
            }
            case "integer", "number" -> number(schema, random);
            case "boolean" -> NODES.booleanNode(random.nextBoolean());
            default -> NODES.stringNode(string(schema, random));
        };
    }

    private ObjectNode object(JsonNode schema, SplittableRandom random, int depth) {
        ObjectNode object = NODES.objectNode();
        List<String> required = new ArrayList<>();
        schema.path("required").forEach(r -> required.add(r.asString()));
        for (Map.Entry<String, JsonNode> p : schema.path("properties").properties()) {
            boolean include = required.contains(p.getKey()) ? random.nextInt(10) > 0 : random.nextInt(3) > 0;
            if (include) {
                object.set(p.getKey(), random.nextInt(15) == 0 ? NODES.nullNode()
                        : value(p.getValue(), random, depth + 1));
            }
        }
        JsonNode additional = schema.path("additionalProperties");
        if (additional.isObject()) { // a map: labels, in this API
            labels(object, random);
        }
        if (random.nextInt(8) == 0) {
            object.put("unknownField" + random.nextInt(100), "x");
        }
        return object;
    }

    /**
     * A label set: valid entries, among them the longest allowed, and most of the time exactly one
     * defect (so it is the defect the service meets, not the first of many).
     */
    private void labels(ObjectNode labels, SplittableRandom random) {
        int n = random.nextInt(8) == 0 ? 64 : random.nextInt(6);
        for (int i = 0; i < n; i++) {
            String key = random.nextInt(4) == 0
                    ? String.format("%03d", i) + "p".repeat(250) + "/" + "n".repeat(63) : "app" + i;
            labels.put(key, random.nextBoolean() ? "v".repeat(63) : "ok");
        }
        String key = "defect" + random.nextInt(1000);
        switch (random.nextInt(9)) {
            case 0 -> labels.putNull(key);
            case 1 -> labels.put(key, "v".repeat(64));
            case 2 -> labels.put(key, "-bad-");
            case 3 -> labels.put("", "ok");
            case 4 -> labels.put("k".repeat(64), "ok");
            case 5 -> labels.put("p".repeat(254) + "/k", "ok");
            case 6 -> labels.put("Bad Key\u00e9", "ok");
            case 7 -> {
                for (int i = labels.size(); i <= 64; i++) {
                    labels.put("more" + i, "ok");
                }
            }
            default -> {
                // no defect: the set is valid
            }
        }
    }

    private JsonNode number(JsonNode schema, SplittableRandom random) {
        long min = schema.path("minimum").asLong(0);
        long max = schema.path("maximum").asLong(Long.MAX_VALUE);
        return switch (random.nextInt(9)) {
            case 0 -> NODES.numberNode(min);
            case 1 -> NODES.numberNode(min - 1);
            case 2 -> NODES.numberNode(max);
            case 3 -> NODES.numberNode(max == Long.MAX_VALUE ? max : max + 1);
            case 4 -> NODES.numberNode(Long.MIN_VALUE);
            case 5 -> NODES.numberNode(new java.math.BigInteger("1" + "0".repeat(40)));
            case 6 -> NODES.numberNode(1.5);
            default -> NODES.numberNode(random.nextLong(-10, 1000));
        };
    }

    private String string(JsonNode schema, SplittableRandom random) {
        List<String> options = new ArrayList<>();
        schema.path("enum").forEach(e -> options.add(e.asString()));
        if (!options.isEmpty() && random.nextInt(4) > 0) {
            return options.get(random.nextInt(options.size()));
        }
        String format = schema.path("format").asString("");
        int maxLength = schema.path("maxLength").asInt(256);
        return switch (random.nextInt(12)) {
            case 0 -> "";
            case 1 -> "x".repeat(maxLength);
            case 2 -> "x".repeat(maxLength + 1);
            case 3 -> "y".repeat(20_000);
            case 4 -> "\u0000\u0001\ud83d\ude00\u202e";
            case 5 -> UUID.randomUUID().toString();
            case 6 -> goodImage;
            case 7 -> random.nextBoolean() ? "node-a" : SECOND_NODE;
            case 8 -> "../../etc/passwd";
            case 9 -> format.equals("date-time") ? "2099-01-01T00:00:00Z" : "* * * * * *";
            case 10 -> "app in (a,b),!tier,x=" + "z".repeat(random.nextInt(100));
            default -> "fuzz-" + random.nextInt(1000);
        };
    }

    private JsonNode wrongKind(SplittableRandom random) {
        return switch (random.nextInt(6)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(true);
            case 2 -> NODES.numberNode(-1);
            case 3 -> NODES.arrayNode().add(1);
            case 4 -> NODES.objectNode().put("nested", "x");
            default -> NODES.stringNode("wrong");
        };
    }

    private String pathValue(JsonNode schema, SplittableRandom random) {
        return switch (random.nextInt(8)) {
            case 0 -> "not-a-uuid";
            case 1 -> "%";
            case 2 -> "x".repeat(2000);
            case 3 -> "..";
            case 4 -> "node-a";
            default -> UUID.randomUUID().toString();
        };
    }

    private String scalarText(JsonNode schema, SplittableRandom random) {
        JsonNode v = value(schema, random, 3);
        return v.isValueNode() ? v.asString() : v.toString();
    }

    private static String headerValue(SplittableRandom random) {
        return switch (random.nextInt(4)) {
            case 0 -> "\"" + random.nextInt() + "\"";
            case 1 -> "*";
            case 2 -> "W/\"1\"";
            default -> "garbage" + "z".repeat(random.nextInt(2000));
        };
    }

    private JsonNode resolve(JsonNode schema) {
        for (int i = 0; i < 5 && schema.has("$ref"); i++) {
            String ref = schema.path("$ref").asString();
            schema = doc.at(ref.substring(1));
        }
        if (schema.has("allOf") && schema.path("allOf").size() == 1) {
            return resolve(schema.path("allOf").get(0));
        }
        return schema;
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
