package dev.faultline.restore;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

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
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;

/** The restore endpoint's contract for the session mode (copy or clone), with the service mocked. */
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

    private static RestoreView view(String mode) {
        return new RestoreView(UUID.randomUUID(), "node-a", "vm", Map.of(), new RestoreView.Image("/images/vm.mem", 4096),
                null, "/run/vm.sock", RestoreState.WAITING, Instant.parse("2026-12-07T06:00:00Z"), null,
                new RestoreView.Options(16, 1000, "auto", mode), List.of(), null, null, null, null,
                new RestoreView.Clones(4096, 4096, 0, 0, List.of()), null);
    }
}
