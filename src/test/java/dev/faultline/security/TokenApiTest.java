package dev.faultline.security;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

class TokenApiTest extends ServiceTest {

    @Test
    void theFirstStartWritesAnAdminTokenReadableOnlyByTheServiceUser() throws Exception {
        var file = DATA_DIR.resolve("admin-token");

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(adminToken()).startsWith("flt_").hasSizeGreaterThan(40);
        JsonNode me = admin().get("/api/v1/whoami").json();
        assertThat(me.path("role").asString()).isEqualTo("ADMIN");
        assertThat(me.path("name").asString()).isEqualTo("admin");
    }

    @Test
    void aRequestWithoutATokenGets401ProblemJson() {
        TestApi.Response r = anonymous().get("/api/v1/host");

        assertThat(r.status()).isEqualTo(401);
        assertThat(r.isProblem()).as("content type %s", r.contentType()).isTrue();
        assertThat(r.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/unauthorized");
        assertThat(r.json().path("status").asInt()).isEqualTo(401);
        assertThat(r.json().path("instance").asString()).isEqualTo("/api/v1/host");
        assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    }

    @Test
    void anUnknownTokenOrAnotherSchemeIsRefusedRatherThanTreatedAsAnonymous() {
        TestApi.Response unknown = api("flt_" + "x".repeat(43)).get("/api/v1/host");
        assertThat(unknown.status()).isEqualTo(401);
        assertThat(unknown.json().path("detail").asString()).contains("unknown, revoked or expired");

        TestApi.Response basic = anonymous().withHeader("/actuator/health", "Authorization", "Basic YWRtaW46YWRtaW4=");
        assertThat(basic.status()).isEqualTo(401);
        assertThat(basic.isProblem()).isTrue();
    }

    @Test
    void anAdminIssuesATokenWhoseSecretIsShownOnlyOnce() {
        String name = unique("ci");
        TestApi.Response created = admin().post("/api/v1/tokens", map("name", name, "role", "OPERATOR"));

        assertThat(created.status()).isEqualTo(201);
        String secret = created.json().path("token").asString();
        assertThat(secret).startsWith("flt_");
        assertThat(created.headers().firstValue("Location")).hasValue("/api/v1/tokens/" + created.json().path("id").asString());

        TestApi.Response list = admin().get("/api/v1/tokens");
        assertThat(list.body()).contains(name).doesNotContain(secret);
        JsonNode listed = findByName(list.json(), name);
        assertThat(listed.has("token")).isFalse();
        assertThat(listed.path("prefix").asString()).isEqualTo(secret.substring(0, 12));
        assertThat(api(secret).get("/api/v1/whoami").json().path("role").asString()).isEqualTo("OPERATOR");
    }

    @Test
    void aViewerReadsButCannotManageTokensOrChangeAnything() {
        String viewer = issue(unique("viewer"), "VIEWER");

        assertThat(api(viewer).get("/api/v1/host").status()).isEqualTo(200);
        TestApi.Response list = api(viewer).get("/api/v1/tokens");
        assertThat(list.status()).isEqualTo(403);
        assertThat(list.isProblem()).isTrue();
        assertThat(list.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/forbidden");
        assertThat(api(viewer).post("/api/v1/tokens", map("name", unique("x"), "role", "ADMIN")).status()).isEqualTo(403);
        assertThat(api(viewer).post("/api/v1/host", map()).status()).as("changes need OPERATOR").isEqualTo(403);
    }

    @Test
    void aRevokedTokenStopsWorkingAtOnce() {
        TestApi.Response created = admin().post("/api/v1/tokens", map("name", unique("temp"), "role", "VIEWER"));
        String secret = created.json().path("token").asString();
        assertThat(api(secret).get("/api/v1/host").status()).isEqualTo(200);

        assertThat(admin().delete("/api/v1/tokens/" + created.json().path("id").asString()).status()).isEqualTo(204);

        assertThat(api(secret).get("/api/v1/host").status()).isEqualTo(401);
        assertThat(admin().delete("/api/v1/tokens/" + created.json().path("id").asString()).status()).isEqualTo(404);
    }

    @Test
    void theLastAdminTokenCannotBeRevoked() {
        String me = admin().get("/api/v1/whoami").json().path("tokenId").asString();
        for (JsonNode t : admin().get("/api/v1/tokens").json()) {
            if (t.path("role").asString().equals("ADMIN") && !t.path("id").asString().equals(me)) {
                assertThat(admin().delete("/api/v1/tokens/" + t.path("id").asString()).status()).isEqualTo(204);
            }
        }

        TestApi.Response r = admin().delete("/api/v1/tokens/" + me);

        assertThat(r.status()).isEqualTo(409);
        assertThat(r.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/last-admin-token");
        assertThat(admin().get("/api/v1/whoami").status()).isEqualTo(200);
    }

    @Test
    void invalidFieldsAreListedInTheProblem() {
        TestApi.Response r = admin().post("/api/v1/tokens", map("name", "Not Valid!", "expiresAt", "2001-01-01T00:00:00Z"));

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/validation");
        assertThat(r.json().path("errors").findValuesAsString("field")).containsExactlyInAnyOrder("name", "role", "expiresAt");
    }

    @Test
    void aDuplicateNameIsAConflictAndMalformedJsonIsABadRequest() {
        String name = unique("dup");
        issue(name, "VIEWER");

        TestApi.Response dup = admin().post("/api/v1/tokens", map("name", name, "role", "VIEWER"));
        assertThat(dup.status()).isEqualTo(409);
        assertThat(dup.json().path("detail").asString()).contains(name);

        TestApi.Response bad = admin().post("/api/v1/tokens", "{\"name\": ");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.isProblem()).isTrue();
        TestApi.Response badRole = admin().post("/api/v1/tokens", map("name", unique("r"), "role", "ROOT"));
        assertThat(badRole.status()).isEqualTo(400);
    }

    @Test
    void anUnknownApiPathIsA404ProblemNotTheWebUi() {
        TestApi.Response r = admin().get("/api/v1/no-such-thing");

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.isProblem()).isTrue();
        assertThat(r.json().path("type").asString()).isEqualTo("https://faultline.dev/problems/not-found");
    }

    @Test
    void healthIsOpenWhileTheRestOfActuatorNeedsAnAdmin() {
        assertThat(anonymous().get("/actuator/health").status()).isEqualTo(200);
        assertThat(anonymous().get("/actuator/health").json().has("components")).as("no details for anonymous").isFalse();
        assertThat(admin().get("/actuator/health").json().at("/components/agent/status").asString()).isEqualTo("UP");
        assertThat(anonymous().get("/actuator/metrics").status()).isEqualTo(401);
        assertThat(api(issue(unique("v"), "OPERATOR")).get("/actuator/metrics").status()).isEqualTo(403);
        assertThat(admin().get("/actuator/metrics").status()).isEqualTo(200);
    }

    private String issue(String name, String role) {
        TestApi.Response r = admin().post("/api/v1/tokens", map("name", name, "role", role));
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return r.json().path("token").asString();
    }

    private static JsonNode findByName(JsonNode tokens, String name) {
        for (JsonNode t : tokens) {
            if (t.path("name").asString().equals(name)) {
                return t;
            }
        }
        throw new AssertionError("no token named " + name + " in " + tokens);
    }

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }
}
