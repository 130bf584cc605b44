package dev.faultline.host;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/host")
@Tag(name = "Host", description = "This host's kernel, userfaultfd features and agent")
class HostController {

    private final HostService hosts;

    HostController(HostService hosts) {
        this.hosts = hosts;
    }

    @GetMapping
    @Operation(summary = "Kernel, the userfaultfd features the JVM and the agent were granted, and the agent's state")
    HostInfo host() {
        return hosts.host();
    }
}
