package dev.faultline.snapshot;

import dev.faultline.PageResponse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.delete;
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
import dev.faultline.web.ProblemKind;
import dev.faultline.web.Problems;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

/** The snapshot endpoints' HTTP contract (status, headers, JSON, problems, roles) with the catalog mocked. */
@WebMvcTest(SnapshotController.class)
@Import({Problems.class, SnapshotControllerTest.Security.class})
class SnapshotControllerTest {

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
    SnapshotService snapshots;

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
    void takingASnapshotAnswers202WithItsLocationAndThePendingSnapshot() throws Exception {
        SnapshotView pending = pending();
        given(snapshots.take(REGION, SnapshotKind.FULL, null, "ci")).willReturn(pending);

        mvc.perform(post("/api/v1/snapshots").header("Authorization", OPERATOR).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"regionId\": \"" + REGION + "\"}"))
                .andExpect(status().isAccepted())
                .andExpect(header().string("Location", "/api/v1/snapshots/" + pending.id()))
                .andExpect(jsonPath("$.state").value("PENDING"))
                .andExpect(jsonPath("$.kind").value("FULL"))
                .andExpect(jsonPath("$.regionLabels.app").value("db"))
                .andExpect(jsonPath("$.pages").isEmpty())
                .andExpect(jsonPath("$.verification.state").value("UNVERIFIED"));
    }

    @Test
    void aRegionIdThatIsNotAUuidIsAValidationProblemNamingTheField() throws Exception {
        mvc.perform(post("/api/v1/snapshots").header("Authorization", OPERATOR).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"regionId\": \"../etc\", \"kind\": \"INCREMENTAL\"}"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType("application/problem+json"))
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/validation"))
                .andExpect(jsonPath("$.errors[0].field").value("regionId"));
        verifyNoInteractions(snapshots);
    }

    @Test
    void listParametersBecomeAFilterAndAPage() throws Exception {
        given(snapshots.list(any(), anyInt(), anyInt())).willReturn(new PageResponse<>(List.of(), 2, 10, 20, 2));
        UUID policy = UUID.randomUUID();

        mvc.perform(get("/api/v1/snapshots").header("Authorization", VIEWER)
                        .param("regionId", REGION.toString()).param("policyId", policy.toString())
                        .param("state", "COMPLETED").param("state", "FAILED").param("kind", "FULL")
                        .param("createdFrom", "2026-01-01T00:00:00Z").param("createdTo", "2026-02-01T00:00:00Z")
                        .param("page", "2").param("size", "10"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.totalItems").value(20))
                .andExpect(jsonPath("$.page").value(2));

        ArgumentCaptor<SnapshotFilter> filter = ArgumentCaptor.forClass(SnapshotFilter.class);
        verify(snapshots).list(filter.capture(), eq(2), eq(10));
        assertThat(filter.getValue()).isEqualTo(new SnapshotFilter(REGION, policy,
                List.of(SnapshotState.COMPLETED, SnapshotState.FAILED), SnapshotKind.FULL,
                Instant.parse("2026-01-01T00:00:00Z"), Instant.parse("2026-02-01T00:00:00Z")));
    }

    @Test
    void badListParametersAreProblemsBeforeAnyQuery() throws Exception {
        mvc.perform(get("/api/v1/snapshots").header("Authorization", VIEWER).param("size", "501"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/validation"))
                .andExpect(jsonPath("$.errors[0].field").value("size"));
        mvc.perform(get("/api/v1/snapshots").header("Authorization", VIEWER).param("state", "GONE"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType("application/problem+json"));
        mvc.perform(get("/api/v1/snapshots").header("Authorization", VIEWER)
                        .param("createdFrom", "2026-02-01T00:00:00Z").param("createdTo", "2026-01-01T00:00:00Z"))
                .andExpect(status().isBadRequest())
                .andExpect(jsonPath("$.detail").value("createdFrom must be before createdTo"));
        verifyNoInteractions(snapshots);
    }

    @Test
    void aViewerReadsSnapshotsButCannotTakeVerifyRestoreOrDeleteThem() throws Exception {
        UUID id = UUID.randomUUID();
        given(snapshots.get(id)).willReturn(pending());

        mvc.perform(get("/api/v1/snapshots/" + id).header("Authorization", VIEWER)).andExpect(status().isOk());
        mvc.perform(post("/api/v1/snapshots").header("Authorization", VIEWER).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"regionId\": \"" + REGION + "\"}"))
                .andExpect(status().isForbidden())
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/forbidden"));
        mvc.perform(post("/api/v1/snapshots/" + id + "/verify").header("Authorization", VIEWER)).andExpect(status().isForbidden());
        mvc.perform(post("/api/v1/snapshots/" + id + "/restore").header("Authorization", VIEWER)).andExpect(status().isForbidden());
        mvc.perform(delete("/api/v1/snapshots/" + id).header("Authorization", VIEWER)).andExpect(status().isForbidden());
    }

    @Test
    void deletingAnswers202WithTheOperationOr204WhenNothingIsLeftToDelete() throws Exception {
        UUID id = UUID.randomUUID();
        SnapshotOperationView op = new SnapshotOperationView(UUID.randomUUID(), id, OperationKind.DELETE,
                OperationState.PENDING, true, null, null, null, "ci", Instant.now(), null, null, null, null, null);
        given(snapshots.delete(id, true, "ci")).willReturn(Optional.of(op));
        UUID gone = UUID.randomUUID();
        given(snapshots.delete(gone, false, "ci")).willReturn(Optional.empty());

        mvc.perform(delete("/api/v1/snapshots/" + id).param("consolidate", "true").header("Authorization", OPERATOR))
                .andExpect(status().isAccepted())
                .andExpect(header().string("Location", "/api/v1/snapshots/" + id + "/operations/" + op.id()))
                .andExpect(jsonPath("$.kind").value("DELETE"))
                .andExpect(jsonPath("$.consolidate").value(true));
        mvc.perform(delete("/api/v1/snapshots/" + gone).header("Authorization", OPERATOR))
                .andExpect(status().isNoContent());
    }

    @Test
    void theCatalogsProblemTypesReachTheCaller() throws Exception {
        UUID id = UUID.randomUUID();
        given(snapshots.delete(eq(id), anyBoolean(), any())).willThrow(new ApiException(
                ProblemKind.SNAPSHOT_HAS_DEPENDENTS, "incremental snapshot(s) x depend on snapshot " + id));

        mvc.perform(delete("/api/v1/snapshots/" + id).header("Authorization", OPERATOR))
                .andExpect(status().isConflict())
                .andExpect(content().contentType("application/problem+json"))
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/snapshot-has-dependents"))
                .andExpect(jsonPath("$.instance").value("/api/v1/snapshots/" + id));
    }

    @Test
    void aRestoreWithoutABodyUsesTheSnapshotsRegionNameAndLabels() throws Exception {
        UUID id = UUID.randomUUID();
        given(snapshots.restore(id, null, null, "copy", "ci")).willReturn(new SnapshotOperationView(UUID.randomUUID(),
                id, OperationKind.RESTORE, OperationState.PENDING, false, "db", Map.of("app", "db"), "copy", "ci",
                Instant.now(), null, null, null, null, null));

        mvc.perform(post("/api/v1/snapshots/" + id + "/restore").header("Authorization", OPERATOR))
                .andExpect(status().isAccepted())
                .andExpect(jsonPath("$.restoreName").value("db"))
                .andExpect(jsonPath("$.restoreMode").value("copy"));
    }

    @Test
    void aRestoreTakesTheSessionModeCloneAndRefusesAnyOther() throws Exception {
        UUID id = UUID.randomUUID();
        given(snapshots.restore(id, null, null, "clone", "ci")).willReturn(new SnapshotOperationView(UUID.randomUUID(),
                id, OperationKind.RESTORE, OperationState.PENDING, false, "db", Map.of(), "clone", "ci",
                Instant.now(), null, null, null, null, null));

        mvc.perform(post("/api/v1/snapshots/" + id + "/restore").header("Authorization", OPERATOR)
                        .contentType(MediaType.APPLICATION_JSON).content("{\"mode\": \"clone\"}"))
                .andExpect(status().isAccepted())
                .andExpect(jsonPath("$.restoreMode").value("clone"));
        mvc.perform(post("/api/v1/snapshots/" + id + "/restore").header("Authorization", OPERATOR)
                        .contentType(MediaType.APPLICATION_JSON).content("{\"mode\": \"fork\"}"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType("application/problem+json"))
                .andExpect(jsonPath("$.errors[0].field").value("mode"));
    }

    private static SnapshotView pending() {
        return new SnapshotView(UUID.randomUUID(), REGION, "db", Map.of("app", "db"), SnapshotKind.FULL, null,
                SnapshotState.PENDING, null, false, "ci", Instant.parse("2026-01-01T00:00:00Z"), null, null, null, null,
                null, null, null, null, new SnapshotView.Verification(VerifiedState.UNVERIFIED, null), null,
                "/data/snapshots/" + REGION + "/x.img", null);
    }
}
