package dev.faultline.policy;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The snapshot policy API end to end: real HTTP, real database, the real scheduler ticking. */
class PolicyApiTest extends ServiceTest {

    private static final String BASE = "/api/v1/snapshot-policies";
    private static final String PROBLEMS = "https://faultline.dev/problems/";

    @Test
    void anOperatorCreatesAPolicyAndReadsItBackWithItsEtag() {
        String name = unique("nightly");

        TestApi.Response created = admin().post(BASE, policy(name));

        assertThat(created.status()).as(created.body()).isEqualTo(201);
        JsonNode body = created.json();
        String location = created.headers().firstValue("Location").orElseThrow();
        assertThat(location).isEqualTo(BASE + "/" + body.path("id").asString());
        assertThat(created.headers().firstValue("ETag")).hasValue("\"0\"");
        assertThat(body.path("selector").asString()).as("stored in canonical form").isEqualTo("app=db,tier in (prod,staging)");
        assertThat(body.path("timeZone").asString()).isEqualTo("Europe/Berlin");
        assertThat(body.path("fullEvery").asInt()).isEqualTo(7);
        assertThat(body.at("/retention/maxAge").asString()).isEqualTo("P30D");
        assertThat(body.at("/retention/hourly").asInt()).isZero();
        assertThat(body.path("paused").asBoolean()).isFalse();
        assertThat(body.path("lastFireTime").isNull()).isTrue();
        Instant next = Instant.parse(body.path("nextRunAt").asString());
        assertThat(next.atZone(java.time.ZoneId.of("Europe/Berlin")).getHour()).isEqualTo(3);

        TestApi.Response read = admin().get(location);
        assertThat(read.headers().firstValue("ETag")).hasValue("\"0\"");
        assertThat(read.json().path("name").asString()).isEqualTo(name);
        assertThat(admin().get(BASE).json().findValuesAsString("name")).contains(name);
    }

    @Test
    void anUpdateMustCarryTheCurrentEtagInIfMatch() {
        String location = create(unique("etag"));
        Map<String, Object> changed = policy(unique("renamed"));
        changed.put("schedule", "@hourly");

        TestApi.Response missing = admin().put(location, changed);
        assertThat(missing.status()).isEqualTo(428);
        assertThat(missing.json().path("type").asString()).isEqualTo(PROBLEMS + "precondition-required");

        TestApi.Response wrong = admin().put(location, changed, "If-Match", "\"7\"");
        assertThat(wrong.status()).isEqualTo(412);
        assertThat(wrong.json().path("type").asString()).isEqualTo(PROBLEMS + "precondition-failed");

        TestApi.Response updated = admin().put(location, changed, "If-Match", "\"0\"");
        assertThat(updated.status()).as(updated.body()).isEqualTo(200);
        assertThat(updated.headers().firstValue("ETag")).hasValue("\"1\"");
        assertThat(updated.json().path("schedule").asString()).isEqualTo("@hourly");

        assertThat(admin().put(location, changed, "If-Match", "\"0\"").status()).as("a stale ETag").isEqualTo(412);
        assertThat(admin().put(location, changed, "If-Match", "W/\"1\"").status()).as("weak ETags never match").isEqualTo(412);
        assertThat(admin().put(location, changed, "If-Match", "\"5\", \"1\"").status()).isEqualTo(200);
        assertThat(admin().put(location, changed, "If-Match", "*").status()).isEqualTo(200);
    }

    @Test
    void aMergePatchChangesOnlyWhatItNames() {
        String location = create(unique("patch"));

        TestApi.Response patched = admin().patch(location,
                "{\"retention\": {\"hourly\": 24, \"maxAge\": null}, \"paused\": true}", "If-Match", "\"0\"");

        assertThat(patched.status()).as(patched.body()).isEqualTo(200);
        JsonNode body = patched.json();
        assertThat(body.at("/retention/hourly").asInt()).isEqualTo(24);
        assertThat(body.at("/retention/daily").asInt()).as("untouched").isEqualTo(7);
        assertThat(body.at("/retention/keepLast").asInt()).isEqualTo(3);
        assertThat(body.at("/retention/maxAge").isNull()).as("null removes").isTrue();
        assertThat(body.path("paused").asBoolean()).isTrue();
        assertThat(body.path("selector").asString()).isEqualTo("app=db,tier in (prod,staging)");
        assertThat(patched.headers().firstValue("ETag")).hasValue("\"1\"");

        assertThat(admin().patch(location, "{\"fullEvery\": 2}").status()).isEqualTo(428);
        assertThat(admin().patch(location, "{\"fullEvery\": 2}", "If-Match", "\"0\"").status()).isEqualTo(412);
        TestApi.Response invalid = admin().patch(location,
                "{\"schedule\": \"every day\", \"retention\": {\"maxAge\": \"soon\"}}", "If-Match", "\"1\"");
        assertThat(invalid.status()).isEqualTo(400);
        assertThat(invalid.json().path("errors").findValuesAsString("field"))
                .containsExactlyInAnyOrder("schedule", "retention.maxAge");
        assertThat(admin().patch(location, "[1, 2]", "If-Match", "\"1\"").status()).as("not an object").isEqualTo(400);
        assertThat(admin().patch(location, "null", "If-Match", "\"1\"").status()).isEqualTo(400);
    }

    @Test
    void anInvalidPolicyIsRefusedWithEveryBadFieldNamed() {
        Map<String, Object> bad = map("name", "Not A Name", "selector", "tier in ()", "schedule", "61 * * * *",
                "timeZone", "Mars/Olympus_Mons", "fullEvery", 0, "retention", map("daily", -1, "maxAge", "-1d"));

        TestApi.Response r = admin().post(BASE, bad);

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("type").asString()).isEqualTo(PROBLEMS + "validation");
        assertThat(r.json().path("errors").findValuesAsString("field")).containsExactlyInAnyOrder("name", "selector",
                "schedule", "timeZone", "fullEvery", "retention.daily", "retention.maxAge");
        assertThat(message(r.json(), "schedule")).startsWith("is not a valid cron expression");
        assertThat(message(r.json(), "timeZone")).startsWith("must be an IANA time zone");
        assertThat(message(r.json(), "selector")).isEqualTo("at position 9: 'in' needs at least one value");
        assertThat(message(r.json(), "retention.maxAge")).isEqualTo("must be at least one second");
        assertThat(admin().post(BASE, map("name", unique("empty"))).json().path("errors").findValuesAsString("field"))
                .containsExactlyInAnyOrder("selector", "schedule", "timeZone");
    }

    @Test
    void aPolicyNameIsTakenOnce() {
        String name = unique("twice");
        create(name);

        TestApi.Response again = admin().post(BASE, policy(name));

        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().path("type").asString()).isEqualTo(PROBLEMS + "conflict");
        assertThat(again.json().path("detail").asString()).contains(name);
    }

    @Test
    void thePreviewListsTheNextRunsInThePolicysZoneAndUtcAndARetentionDryRun() {
        Map<String, Object> ny = policy(unique("preview"));
        ny.put("timeZone", "America/New_York");
        String location = create(ny);

        TestApi.Response r = admin().get(location + "/preview?count=3");

        assertThat(r.status()).isEqualTo(200);
        JsonNode preview = r.json();
        assertThat(preview.path("timeZone").asString()).isEqualTo("America/New_York");
        assertThat(preview.path("nextRuns")).hasSize(3);
        for (JsonNode run : preview.path("nextRuns")) {
            OffsetDateTime local = OffsetDateTime.parse(run.path("at").asString());
            assertThat(local.getHour()).isEqualTo(3);
            assertThat(local.toInstant()).isEqualTo(Instant.parse(run.path("utc").asString()));
        }
        assertThat(preview.at("/retention/snapshots")).isEmpty();
        assertThat(preview.at("/retention/prune").asLong()).isZero();
        assertThat(admin().get(location + "/preview?count=0").status()).isEqualTo(400);
        assertThat(admin().get(location + "/preview?count=101").status()).isEqualTo(400);
    }

    @Test
    void pausingAndResumingAreIdempotentAndShowInTheNextRun() {
        String location = create(unique("pause"));

        TestApi.Response paused = admin().post(location + "/pause", map());
        assertThat(paused.json().path("paused").asBoolean()).isTrue();
        assertThat(paused.json().path("nextRunAt").isNull()).isTrue();
        assertThat(paused.headers().firstValue("ETag")).hasValue("\"1\"");
        assertThat(admin().post(location + "/pause", map()).headers().firstValue("ETag")).as("nothing changed").hasValue("\"1\"");

        TestApi.Response resumed = admin().post(location + "/resume", map());
        assertThat(resumed.json().path("paused").asBoolean()).isFalse();
        assertThat(resumed.json().path("nextRunAt").isNull()).isFalse();
        assertThat(resumed.headers().firstValue("ETag")).hasValue("\"2\"");
    }

    @Test
    void theRunningSchedulerRecordsEachFireTimeEvenWhenNoRegionMatches() {
        Map<String, Object> everySecond = policy(unique("tick"));
        everySecond.put("schedule", "* * * * * *");
        String location = create(everySecond);

        await().atMost(Duration.ofSeconds(20)).until(() -> admin().get(location + "/runs").json().path("totalItems").asLong() > 0);

        JsonNode run = admin().get(location + "/runs").json().path("items").get(0);
        assertThat(run.path("skippedReason").asString()).isEqualTo("no ATTACHED region matches the selector");
        assertThat(admin().get(location).json().path("lastFireTime").asString()).isEqualTo(run.path("fireTime").asString());
        assertThat(admin().get(location).headers().firstValue("ETag")).as("running does not change the ETag").hasValue("\"0\"");
        assertThat(admin().delete(location).status()).as("stop it firing every second").isEqualTo(204);
    }

    @Test
    void deletingAPolicyChecksIfMatchWhenSentAndThenItIsGone() {
        String location = create(unique("gone"));

        assertThat(admin().send("DELETE", location, null, null, "If-Match", "\"9\"").status()).isEqualTo(412);
        assertThat(admin().delete(location).status()).isEqualTo(204);

        TestApi.Response after = admin().get(location);
        assertThat(after.status()).isEqualTo(404);
        assertThat(after.json().path("type").asString()).isEqualTo(PROBLEMS + "not-found");
        assertThat(admin().delete(location).status()).isEqualTo(404);
        assertThat(admin().get(BASE + "/" + UUID.randomUUID() + "/preview").status()).isEqualTo(404);
    }

    @Test
    void aViewerReadsPoliciesButCannotChangeThem() {
        String location = create(unique("ro"));
        TestApi viewer = api(admin().post("/api/v1/tokens", map("name", unique("viewer"), "role", "VIEWER")).json()
                .path("token").asString());

        assertThat(viewer.get(BASE).status()).isEqualTo(200);
        assertThat(viewer.get(location).status()).isEqualTo(200);
        assertThat(viewer.get(location + "/preview").status()).isEqualTo(200);
        assertThat(viewer.get(location + "/runs").status()).isEqualTo(200);
        TestApi.Response create = viewer.post(BASE, policy(unique("nope")));
        assertThat(create.status()).isEqualTo(403);
        assertThat(create.json().path("type").asString()).isEqualTo(PROBLEMS + "forbidden");
        assertThat(viewer.put(location, policy(unique("nope")), "If-Match", "*").status()).isEqualTo(403);
        assertThat(viewer.patch(location, "{\"paused\": true}", "If-Match", "*").status()).isEqualTo(403);
        assertThat(viewer.post(location + "/pause", map()).status()).isEqualTo(403);
        assertThat(viewer.delete(location).status()).isEqualTo(403);
    }

    private String create(String name) {
        return create(policy(name));
    }

    private String create(Map<String, Object> policy) {
        TestApi.Response r = admin().post(BASE, policy);
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.headers().firstValue("Location").orElseThrow();
    }

    private static Map<String, Object> policy(String name) {
        return map("name", name, "selector", "app=db, tier in (prod, staging)", "schedule", "0 3 * * *",
                "timeZone", "Europe/Berlin", "fullEvery", 7,
                "retention", map("keepLast", 3, "daily", 7, "maxAge", "30d", "keepVerified", 2));
    }

    private static String message(JsonNode problem, String field) {
        for (JsonNode error : problem.path("errors")) {
            if (error.path("field").asString().equals(field)) {
                return error.path("message").asString();
            }
        }
        throw new AssertionError("no error for " + field + " in " + problem);
    }

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }
}
