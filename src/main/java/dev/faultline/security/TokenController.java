package dev.faultline.security;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Future;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/v1/tokens")
@Tag(name = "Tokens", description = "API tokens (admin only)")
class TokenController {

    private final TokenService tokens;

    TokenController(TokenService tokens) {
        this.tokens = tokens;
    }

    record CreateTokenRequest(
            @NotNull @Pattern(regexp = "[a-z0-9][a-z0-9._-]{0,63}",
                    message = "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
            String name,
            @NotNull Role role,
            @Future Instant expiresAt) {
    }

    @PostMapping
    @Operation(summary = "Create a token; the response is the only time its secret is shown")
    ResponseEntity<IssuedToken> create(@Valid @RequestBody CreateTokenRequest request,
            @AuthenticationPrincipal TokenPrincipal caller) {
        IssuedToken issued = tokens.issue(request.name(), request.role(), request.expiresAt(), caller.name());
        return ResponseEntity.created(URI.create("/api/v1/tokens/" + issued.id())).body(issued);
    }

    @GetMapping
    @Operation(summary = "List tokens (without secrets)")
    List<TokenView> list() {
        return tokens.list();
    }

    @DeleteMapping("/{id}")
    @Operation(summary = "Revoke a token; the last admin token cannot be revoked")
    ResponseEntity<Void> revoke(@PathVariable UUID id) {
        tokens.revoke(id);
        return ResponseEntity.noContent().build();
    }
}
