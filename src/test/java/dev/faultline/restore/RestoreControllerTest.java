package dev.faultline.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.faultline.PageResponse;
import dev.faultline.security.Role;
import dev.faultline.security.TokenPrincipal;
import dev.faultline.security.TokenService;
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
import org.springframework.data.domain.Pageable;
import org.springframework.data.domain.Sort;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

/** The restore endpoints' contract (the session mode, the list's paging and filters), with the service mocked. */
@WebMvcTest(RestoreController.class)
@Import({Problems.class, RestoreControllerTest.Security.class})
class RestoreControllerTest {

    @ComponentScan(basePackages = "dev.faultline.security", useDefaultFilters = false,
            includeFilters = @ComponentScan.Filter(type = FilterType.REGEX, pattern = ".*SecurityConfig"))
    static class Security {
    }

    static final String OPERATOR = "Bearer flt_operator";

    @Autowired
    MockMvc mvc;

    @MockitoBean
    RestoreService restores;

    @MockitoBean
    TokenService tokens;

    @BeforeEach
    void tokens() {
        given(tokens.authenticate("flt_operator"))
                .willReturn(Optional.of(new TokenPrincipal(UUID.randomUUID(), "ci", Role.OPERATOR)));
    }

    @Test
    void aModeOtherThanCopyOrCloneIsAValidationProblemAndNothingIsCreated() throws Exception {
        mvc.perform(post("/api/v1/restores").header("Authorization", OPERATOR).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"image\": \"/images/vm.mem\", \"name\": \"vm\", \"mode\": \"fork\"}"))
                .andExpect(status().isBadRequest())
                .andExpect(content().contentType("application/problem+json"))
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/validation"))
                .andExpect(jsonPath("$.errors[0].field").value("mode"));
        verifyNoInteractions(restores);
    }

    @Test
    void theModeDefaultsToCopyAndCloneIsPassedOn() throws Exception {
        given(restores.create(any())).willReturn(view("clone"));

        mvc.perform(post("/api/v1/restores").header("Authorization", OPERATOR).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"image\": \"/images/vm.mem\", \"name\": \"vm\", \"mode\": \"clone\"}"))
                .andExpect(status().isCreated())
                .andExpect(jsonPath("$.options.mode").value("clone"))
                .andExpect(jsonPath("$.clones.sharedBytes").value(4096));
        mvc.perform(post("/api/v1/restores").header("Authorization", OPERATOR).contentType(MediaType.APPLICATION_JSON)
                        .content("{\"image\": \"/images/vm.mem\", \"name\": \"vm\"}"))
                .andExpect(status().isCreated());
        ArgumentCaptor<RestoreService.Options> options = ArgumentCaptor.forClass(RestoreService.Options.class);
        verify(restores, org.mockito.Mockito.times(2)).create(options.capture());
        org.assertj.core.api.Assertions.assertThat(options.getAllValues()).extracting(RestoreService.Options::mode)
                .containsExactly("clone", "copy");
    }

    @Test
    void theListPassesPageSizeSortAndFiltersToTheDatabaseQuery() throws Exception {
        UUID snapshot = UUID.randomUUID();
        given(restores.list(any(), any())).willReturn(new PageResponse<>(List.of(view("copy")), 2, 10, 21, 3));

        mvc.perform(get("/api/v1/restores").header("Authorization", OPERATOR).param("state", "WAITING,ACTIVE")
                        .param("name", "vm").param("node", "node-a").param("snapshotId", snapshot.toString())
                        .param("sort", "name,asc").param("page", "2").param("size", "10"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.items[0].name").value("vm"))
                .andExpect(jsonPath("$.totalItems").value(21))
                .andExpect(jsonPath("$.totalPages").value(3));
        ArgumentCaptor<RestoreFilter> filter = ArgumentCaptor.forClass(RestoreFilter.class);
        ArgumentCaptor<Pageable> page = ArgumentCaptor.forClass(Pageable.class);
        verify(restores).list(filter.capture(), page.capture());
        assertThat(filter.getValue()).isEqualTo(new RestoreFilter(List.of(RestoreState.WAITING, RestoreState.ACTIVE),
                "vm", "node-a", snapshot));
        assertThat(page.getValue().getPageNumber()).isEqualTo(2);
        assertThat(page.getValue().getPageSize()).isEqualTo(10);
        assertThat(page.getValue().getSort()).isEqualTo(Sort.by("name").ascending().and(Sort.by("id").ascending()));
    }

    @Test
    void withoutParametersTheFirstFiftyNewestFirst() throws Exception {
        given(restores.list(any(), any())).willReturn(new PageResponse<>(List.of(), 0, 50, 0, 0));

        mvc.perform(get("/api/v1/restores").header("Authorization", OPERATOR)).andExpect(status().isOk());

        ArgumentCaptor<Pageable> page = ArgumentCaptor.forClass(Pageable.class);
        verify(restores).list(eq(new RestoreFilter(null, null, null, null)), page.capture());
        assertThat(page.getValue().getPageSize()).isEqualTo(50);
        assertThat(page.getValue().getSort()).isEqualTo(Sort.by("createdAt").descending().and(Sort.by("id").descending()));
    }

    @Test
    void badPagingSortingOrFilteringIsAValidationProblemNamingTheParameter() throws Exception {
        String[][] bad = {{"size", "0"}, {"size", "501"}, {"page", "-1"}, {"state", "SLEEPING"},
                {"sort", "imagePath"}, {"sort", "name,up"}, {"sort", "name,asc,desc"}, {"snapshotId", "nope"},
                {"page", "x"}};
        for (String[] p : bad) {
            mvc.perform(get("/api/v1/restores").header("Authorization", OPERATOR).param(p[0], p[1]))
                    .andExpect(status().isBadRequest())
                    .andExpect(content().contentType("application/problem+json"))
                    .andExpect(jsonPath("$.type", org.hamcrest.Matchers.oneOf("https://faultline.dev/problems/validation",
                            "https://faultline.dev/problems/bad-request"))) // a value of the wrong type: bad-request
                    .andDo(r -> assertThat(r.getResponse().getContentAsString()).as("%s=%s", p[0], p[1])
                            .contains(p[0]).doesNotContain("Exception"));
        }
        verifyNoInteractions(restores);
    }

    private static RestoreView view(String mode) {
        return new RestoreView(UUID.randomUUID(), "node-a", "vm", Map.of(), new RestoreView.Image("/images/vm.mem", 4096),
                null, "/run/vm.sock", RestoreState.WAITING, Instant.parse("2026-12-07T06:00:00Z"), null,
                new RestoreView.Options(16, 1000, "auto", mode), List.of(), null, null, null, null,
                new RestoreView.Clones(4096, 4096, 0, 0, List.of()), null, new RestoreView.Timing(4L, 5L, null));
    }
}
