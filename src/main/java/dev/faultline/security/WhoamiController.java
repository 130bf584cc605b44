package dev.faultline.security;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.UUID;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
@Tag(name = "Tokens")
class WhoamiController {

    record Whoami(UUID tokenId, String name, Role role) {
    }

    @GetMapping("/api/v1/whoami")
    @Operation(summary = "The calling token's name and role (the UI uses it to sign in)")
    Whoami whoami(@AuthenticationPrincipal TokenPrincipal caller) {
        return new Whoami(caller.tokenId(), caller.name(), caller.role());
    }
}
