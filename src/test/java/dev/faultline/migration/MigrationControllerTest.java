package dev.faultline.migration;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.faultline.security.Role;
import dev.faultline.security.TokenPrincipal;
import dev.faultline.security.TokenService;
import dev.faultline.web.ApiException;
import dev.faultline.PageResponse;
import dev.faultline.web.ProblemKind;
import dev.faultline.web.Problems;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.ResultActions;

/** The migration endpoints' HTTP contract (docs/api-migrations.md): statuses, JSON, problem types, roles. */
@WebMvcTest(MigrationController.class)
@Import({Problems.class, MigrationControllerTest.Security.class})
class MigrationControllerTest {

    @ComponentScan(basePackages = "dev.faultline.security", useDefaultFilters = false,
            includeFilters = @ComponentScan.Filter(type = FilterType.REGEX, pattern = ".*SecurityConfig"))
    static class Security {
    }

    static final UUID REGION = UUID.fromString("0b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77");
    static final String OPERATOR = "Bearer flt_operator";
    static final String VIEWER = "Bearer flt_viewer";

    @Autowired
    MockMvc mvc;

    @MockitoBean
    MigrationService migrations;

    @MockitoBean
    TokenService tokens;

    @BeforeEach
    void tokens() {
        given(tokens.authenticate("flt_operator"))
                .willReturn(Optional.of(new TokenPrincipal(UUID.randomUUID(), "ci", Role.OPERATOR)));
        given(tokens.authenticate("flt_viewer"))
                .willReturn(Optional.of(new TokenPrincipal(UUID.randomUUID(), "dashboard", Role.VIEWER)));
    }

    @Test
    void creatingAJobAnswers202WithItsLocationAndTheDocumentedShape() throws Exception {
        MigrationView job = job(MigrationPhase.PENDING);
        given(migrations.create(REGION, "node-b", MigrationOptions.DEFAULTS, "ci")).willReturn(job);

        create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\"}")
                .andExpect(status().isAccepted())
                .andExpect(header().string("Location", "/api/v1/migrations/" + job.id()))
                .andExpect(jsonPath("$.phase").value("PENDING"))
                .andExpect(jsonPath("$.pausedIn").value(Matchers.nullValue()))
                .andExpect(jsonPath("$.destinationRegionId").value(Matchers.nullValue()))
                .andExpect(jsonPath("$.options.postcopy").value("auto"))
                .andExpect(jsonPath("$.options.maxDowntimeMs").value(10))
                .andExpect(jsonPath("$.options.bandwidthLimitBytesPerSec").value(0))
                .andExpect(jsonPath("$.options.maxPrecopyRounds").value(10))
                .andExpect(jsonPath("$.options.postcopyAfterMs").value(30000))
                .andExpect(jsonPath("$.options.compress").value("none"))
                .andExpect(jsonPath("$.options.autoConverge").value(false))
                .andExpect(jsonPath("$.options.skipUnchanged").value(true))
                .andExpect(jsonPath("$.options.pushConnections").value(1))
                .andExpect(jsonPath("$.stats.throttle").value(Matchers.nullValue()))
                .andExpect(jsonPath("$.stats.pushConnections").value(Matchers.nullValue()))
                .andExpect(jsonPath("$.timeline[0].phase").value("PENDING"))
                .andExpect(jsonPath("$.timeline[0].at").value("2026-11-24T20:00:00Z"))
                .andExpect(jsonPath("$.stats.regionBytes").value(1 << 20))
                .andExpect(jsonPath("$.stats.downtimeMs").value(Matchers.nullValue()))
                .andExpect(jsonPath("$.stats.transferred.precopyBytes").value(0))
                .andExpect(jsonPath("$.stats.transferred.compressedPages").value(0))
                .andExpect(jsonPath("$.stats.transferred.compressedBytes").value(0))
                .andExpect(jsonPath("$.stats.transferred.unchangedPages").value(0))
                .andExpect(jsonPath("$.stats.demandLatency.p99Ns").value(0))
                .andExpect(jsonPath("$.stats.throughputBytesPerSec").value(0))
                .andExpect(jsonPath("$.secret").doesNotExist());
    }

    @Test
    void optionsAreReadWithTheirDefaults() throws Exception {
        MigrationOptions manual = new MigrationOptions(25, 1 << 20, 10, MigrationOptions.Postcopy.MANUAL, 30_000,
                MigrationOptions.Compress.NONE, false, true, 1);
        given(migrations.create(REGION, "node-b", manual, "ci")).willReturn(job(MigrationPhase.PENDING));

        create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\", \"options\": {\"maxDowntimeMs\": 25,"
                + " \"bandwidthLimitBytesPerSec\": 1048576, \"postcopy\": \"manual\"}}")
                .andExpect(status().isAccepted());
        verify(migrations).create(REGION, "node-b", manual, "ci");
    }

    @Test
    void badOptionsAreValidationProblemsNamingEachField() throws Exception {
        create("{\"regionId\": \"../etc\", \"destinationNode\": \"\", \"options\": {\"maxDowntimeMs\": 0,"
                + " \"bandwidthLimitBytesPerSec\": -1, \"maxPrecopyRounds\": 0, \"postcopy\": \"sometimes\","
                + " \"postcopyAfterMs\": -5, \"compress\": \"gzip\", \"autoConverge\": \"yes\","
                + " \"skipUnchanged\": \"no\", \"pushConnections\": 0}}")
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType("application/problem+json"))
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/validation"))
                .andExpect(jsonPath("$.errors[*].field").value(Matchers.containsInAnyOrder("regionId",
                        "destinationNode", "options.maxDowntimeMs", "options.bandwidthLimitBytesPerSec",
                        "options.maxPrecopyRounds", "options.postcopy", "options.postcopyAfterMs",
                        "options.compress", "options.autoConverge", "options.skipUnchanged",
                        "options.pushConnections")));
        for (String notABoolean : new String[] {"\"true\"", "1", "{}"}) {
            create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\","
                    + " \"options\": {\"autoConverge\": " + notABoolean + "}}")
                    .andExpect(status().isBadRequest())
                    .andExpect(jsonPath("$.errors[0].field").value("options.autoConverge"))
                    .andExpect(jsonPath("$.errors[0].message").value("must be true or false"));
            create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\","
                    + " \"options\": {\"skipUnchanged\": " + notABoolean + "}}")
                    .andExpect(status().isBadRequest())
                    .andExpect(jsonPath("$.errors[0].field").value("options.skipUnchanged"))
                    .andExpect(jsonPath("$.errors[0].message").value("must be true or false"));
        }
        // the agent's bounds and its JSON integer: nothing out of range, no string, no fraction, no 2.0
        for (String notAConnectionCount : new String[] {"0", "9", "-1", "\"x\"", "\"2\"", "1.5", "2.0", "true", "[2]",
                "99999999999999999999999"}) {
            create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\","
                    + " \"options\": {\"pushConnections\": " + notAConnectionCount + "}}")
                    .andExpect(status().isBadRequest())
                    .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/validation"))
                    .andExpect(jsonPath("$.errors[0].field").value("options.pushConnections"))
                    .andExpect(jsonPath("$.errors[0].message").value("must be a whole number from 1 to 8"));
        }
        create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\","
                + " \"options\": {\"compress\": \"ZSTD\"}}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("options.compress"))
                .andExpect(jsonPath("$.errors[0].message").value("must be none or zstd"));
        create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\","
                + " \"options\": {\"maxDowntime\": 5}}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("options.knownFieldsOnly"))
                .andExpect(jsonPath("$.errors[0].message").value(Matchers.containsString("unknown fields")));
        create("{\"regionId\": \"" + REGION + "\"}")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("destinationNode"));
        create("{\"regionId\": ")
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/bad-request"));
        verifyNoInteractions(migrations);
    }

    @Test
    void zstdCompressionIsAskedForByName() throws Exception {
        acceptedWith("{\"compress\": \"zstd\"}", new MigrationOptions(10, 0, 10, MigrationOptions.Postcopy.AUTO,
                30_000, MigrationOptions.Compress.ZSTD, false, true, 1));
    }

    @Test
    void autoConvergeIsAskedForWithABoolean() throws Exception {
        acceptedWith("{\"autoConverge\": true}", new MigrationOptions(10, 0, 10, MigrationOptions.Postcopy.AUTO,
                30_000, MigrationOptions.Compress.NONE, true, true, 1));
    }

    @Test
    void autoConvergeFalseOrNullIsTheDefault() throws Exception {
        acceptedWith("{\"autoConverge\": null, \"maxDowntimeMs\": 11}", new MigrationOptions(11, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 1));
        acceptedWith("{\"autoConverge\": false, \"maxDowntimeMs\": 12}", new MigrationOptions(12, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 1));
    }

    @Test
    void skipUnchangedIsTrueUnlessFalseIsSent() throws Exception {
        acceptedWith("{\"skipUnchanged\": null, \"maxDowntimeMs\": 13}", new MigrationOptions(13, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 1));
        acceptedWith("{\"skipUnchanged\": true, \"maxDowntimeMs\": 14}", new MigrationOptions(14, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 1));
        acceptedWith("{\"skipUnchanged\": false, \"maxDowntimeMs\": 15}", new MigrationOptions(15, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, false, 1));
    }

    @Test
    void pushConnectionsAreOneUnlessANumberFromOneToEightIsSent() throws Exception {
        acceptedWith("{\"pushConnections\": null, \"maxDowntimeMs\": 16}", new MigrationOptions(16, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 1));
        acceptedWith("{\"pushConnections\": 1, \"maxDowntimeMs\": 17}", new MigrationOptions(17, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 1));
        acceptedWith("{\"pushConnections\": 4, \"maxDowntimeMs\": 18}", new MigrationOptions(18, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 4));
        acceptedWith("{\"pushConnections\": 8, \"maxDowntimeMs\": 19}", new MigrationOptions(19, 0, 10,
                MigrationOptions.Postcopy.AUTO, 30_000, MigrationOptions.Compress.NONE, false, true, 8));
    }

    @Test
    void manualPostcopyKeepsTheTimeoutAFormSendsAlong() throws Exception {
        acceptedWith("{\"postcopy\": \"manual\", \"postcopyAfterMs\": 1000}", new MigrationOptions(10, 0, 10,
                MigrationOptions.Postcopy.MANUAL, 1000, MigrationOptions.Compress.NONE, false, true, 1));
    }

    /** A create with these options is accepted and reaches the service as {@code expected}. */
    private void acceptedWith(String options, MigrationOptions expected) throws Exception {
        given(migrations.create(REGION, "node-b", expected, "ci")).willReturn(job(MigrationPhase.PENDING));

        create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\", \"options\": " + options + "}")
                .andExpect(status().isAccepted());
        verify(migrations).create(REGION, "node-b", expected, "ci");
    }

    @Test
    void theJobsStateMachineProblemsReachTheCaller() throws Exception {
        UUID id = UUID.randomUUID();
        given(migrations.create(any(), any(), any(), any())).willThrow(new ApiException(
                ProblemKind.MIGRATION_IN_PROGRESS, "region " + REGION + " is already being migrated"));
        given(migrations.startPostcopy(id)).willThrow(new ApiException(ProblemKind.MIGRATION_WRONG_PHASE, "PENDING"));
        given(migrations.cancel(id)).willThrow(new ApiException(ProblemKind.MIGRATION_PAST_SWITCHOVER, "POSTCOPY"));
        given(migrations.get(id)).willThrow(ApiException.notFound("migration", id));

        create("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\"}")
                .andExpect(status().isConflict())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/migration-in-progress"));
        action(id, "start-postcopy").andExpect(status().isConflict())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/migration-wrong-phase"))
                .andExpect(jsonPath("$.instance").value("/api/v1/migrations/" + id + "/start-postcopy"));
        action(id, "cancel").andExpect(status().isConflict())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/migration-past-switchover"));
        mvc.perform(get("/api/v1/migrations/" + id).header("Authorization", VIEWER))
                .andExpect(status().isNotFound())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/not-found"));
    }

    @Test
    void actionsAnswer202WithTheJob() throws Exception {
        MigrationView paused = job(MigrationPhase.PAUSED);
        given(migrations.pause(paused.id())).willReturn(paused);
        given(migrations.resume(paused.id())).willReturn(job(MigrationPhase.PRECOPY));

        action(paused.id(), "pause").andExpect(status().isAccepted())
                .andExpect(header().string("Location", "/api/v1/migrations/" + paused.id()))
                .andExpect(jsonPath("$.phase").value("PAUSED"))
                .andExpect(jsonPath("$.pausedIn").value("PRECOPY"));
        action(paused.id(), "resume").andExpect(status().isAccepted());
    }

    @Test
    void listParametersBecomeAFilterAndAPage() throws Exception {
        given(migrations.list(any(), any(), eq(1), eq(5))).willReturn(new PageResponse<>(List.of(), 1, 5, 6, 2));

        mvc.perform(get("/api/v1/migrations").header("Authorization", VIEWER).param("phase", "PRECOPY")
                        .param("regionId", REGION.toString()).param("page", "1").param("size", "5"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.totalItems").value(6))
                .andExpect(jsonPath("$.totalPages").value(2));
        verify(migrations).list(MigrationPhase.PRECOPY, REGION, 1, 5);

        mvc.perform(get("/api/v1/migrations").header("Authorization", VIEWER).param("phase", "FLYING"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType("application/problem+json"));
        mvc.perform(get("/api/v1/migrations").header("Authorization", VIEWER).param("size", "0"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.errors[0].field").value("size"));
    }

    @Test
    void aViewerWatchesJobsButCannotStartOrSteerThem() throws Exception {
        UUID id = UUID.randomUUID();
        given(migrations.get(id)).willReturn(job(MigrationPhase.PRECOPY));

        mvc.perform(get("/api/v1/migrations/" + id).header("Authorization", VIEWER)).andExpect(status().isOk());
        mvc.perform(post("/api/v1/migrations").header("Authorization", VIEWER).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"regionId\": \"" + REGION + "\", \"destinationNode\": \"node-b\"}"))
                .andExpect(status().isForbidden())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/forbidden"));
        for (String action : List.of("start-postcopy", "pause", "resume", "cancel")) {
            mvc.perform(post("/api/v1/migrations/" + id + "/" + action).header("Authorization", VIEWER))
                    .andExpect(status().isForbidden());
        }
        mvc.perform(get("/api/v1/migrations")).andExpect(status().isUnauthorized());
    }

    private ResultActions create(String body) throws Exception {
        return mvc.perform(post("/api/v1/migrations").header("Authorization", OPERATOR)
                .contentType(MediaType.APPLICATION_JSON).content(body));
    }

    private ResultActions action(UUID id, String action) throws Exception {
        return mvc.perform(post("/api/v1/migrations/" + id + "/" + action).header("Authorization", OPERATOR));
    }

    private static MigrationView job(MigrationPhase phase) {
        Instant at = Instant.parse("2026-11-24T20:00:00Z");
        return new MigrationView(UUID.randomUUID(), REGION, "demo", "node-a", "node-b", null, null, phase,
                phase == MigrationPhase.PAUSED ? MigrationPhase.PRECOPY : null, MigrationOptions.DEFAULTS, at, null,
                null, null, null, List.of(new MigrationJson.Step(MigrationPhase.PENDING, at)),
                MigrationStats.initial(1 << 20));
    }
}
