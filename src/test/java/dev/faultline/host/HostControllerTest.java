package dev.faultline.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.BDDMockito.given;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.faultline.agent.AgentMode;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.AgentStatus;
import dev.faultline.agent.KernelInfo;
import dev.faultline.agent.UffdCapabilities;
import dev.faultline.security.Role;
import dev.faultline.security.TokenPrincipal;
import dev.faultline.security.TokenService;
import dev.faultline.web.Problems;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Fast slice test of the host endpoint's JSON shape and its security, with the services mocked. */
@WebMvcTest(HostController.class)
@Import({Problems.class, HostControllerTest.Security.class})
class HostControllerTest {

    @ComponentScan(basePackages = "dev.faultline.security", useDefaultFilters = false,
            includeFilters = @ComponentScan.Filter(type = FilterType.REGEX, pattern = ".*SecurityConfig"))
    static class Security {
    }

    @Autowired
    MockMvc mvc;

    @MockitoBean
    HostService hosts;

    @MockitoBean
    TokenService tokens;

    @Test
    void theHostIsServedAsJsonToAViewer() throws Exception {
        given(tokens.authenticate("flt_viewer")).willReturn(Optional.of(new TokenPrincipal(UUID.randomUUID(), "v", Role.VIEWER)));
        KernelInfo kernel = new KernelInfo("Linux", "6.18.0", "x86_64");
        UffdCapabilities uffd = new UffdCapabilities(true, "dev_userfaultfd", 0xAA, List.of("wp_async", "move"),
                List.of("register", "copy"), true, null);
        given(hosts.host()).willReturn(new HostInfo("node-a", HostService.view(kernel), HostService.view(uffd),
                HostService.view(new AgentStatus(AgentState.READY, AgentMode.EMBEDDED, "/run/a.sock", 42L, "0.1.0", 1,
                        0, Instant.parse("2026-01-01T00:00:00Z"), "gone once", kernel, uffd, "/run/h.sock", "node-a",
                        "127.0.0.1:7411"))));

        mvc.perform(get("/api/v1/host").header("Authorization", "Bearer flt_viewer"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.hostname").value("node-a"))
                .andExpect(jsonPath("$.kernel.release").value("6.18.0"))
                .andExpect(jsonPath("$.userfaultfd.features[0]").value("wp_async"))
                .andExpect(jsonPath("$.userfaultfd.api").value(0xAA))
                .andExpect(jsonPath("$.userfaultfd.pagemapScan").value(true))
                .andExpect(jsonPath("$.agent.state").value("READY"))
                .andExpect(jsonPath("$.agent.mode").value("EMBEDDED"))
                .andExpect(jsonPath("$.agent.since").value("2026-01-01T00:00:00Z"))
                .andExpect(jsonPath("$.agent.kernel.machine").value("x86_64"))
                .andExpect(jsonPath("$.agent.userfaultfd.ioctls[1]").value("copy"))
                .andExpect(jsonPath("$.agent.pageChannel").value("127.0.0.1:7411"));
    }

    /** The names the API had while it showed the agent's own records; the UI's host page reads them. */
    @Test
    void theHostShowsTheSameFieldsAsBeforeItHadItsOwnTypes() throws Exception {
        given(tokens.authenticate("flt_viewer")).willReturn(Optional.of(new TokenPrincipal(UUID.randomUUID(), "v", Role.VIEWER)));
        KernelInfo kernel = new KernelInfo("Linux", "6.18.0", "x86_64");
        UffdCapabilities uffd = new UffdCapabilities(true, "syscall", 0xAA, List.of(), List.of(), false, "none");
        given(hosts.host()).willReturn(new HostInfo("node-a", HostService.view(kernel), HostService.view(uffd),
                HostService.view(new AgentStatus(AgentState.DOWN, AgentMode.EXTERNAL, "/run/a.sock", 7L, "0.1.0", 1, 3,
                        Instant.parse("2026-01-01T00:00:00Z"), "exited", kernel, uffd, "/run/h.sock", "node-a", "x:1"))));

        String body = mvc.perform(get("/api/v1/host").header("Authorization", "Bearer flt_viewer"))
                .andExpect(status().isOk()).andReturn().getResponse().getContentAsString();
        JsonNode host = JsonMapper.builder().build().readTree(body);

        assertThat(host.propertyNames())
                .containsExactly("hostname", "kernel", "userfaultfd", "agent");
        assertThat(host.get("kernel").propertyNames())
                .containsExactly("sysname", "release", "machine");
        assertThat(host.get("userfaultfd").propertyNames())
                .containsExactly("available", "source", "api", "features", "ioctls", "pagemapScan", "error");
        assertThat(host.get("agent").propertyNames()).containsExactly("state", "mode",
                "socket", "pid", "version", "protocol", "restarts", "since", "lastError", "kernel", "userfaultfd",
                "handoffSocket", "node", "pageChannel", "limits");
        assertThat(host.at("/agent/mode").asString()).isEqualTo("EXTERNAL");
        assertThat(host.at("/agent/state").asString()).isEqualTo("DOWN");
    }

    @Test
    void withoutATokenTheAnswerIsA401Problem() throws Exception {
        mvc.perform(get("/api/v1/host"))
                .andExpect(status().isUnauthorized())
                .andExpect(content().contentType("application/problem+json"))
                .andExpect(header().string("WWW-Authenticate", "Bearer realm=\"faultline\""))
                .andExpect(jsonPath("$.type").value("https://faultline.dev/problems/unauthorized"));
    }
}
