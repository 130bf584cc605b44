package dev.faultline.security;

import java.time.Instant;
import java.util.UUID;

/** A token just created: the only time its secret is shown. */
public record IssuedToken(UUID id, String name, Role role, String prefix, Instant createdAt, String createdBy,
        Instant expiresAt, String token) {

    static IssuedToken of(TokenView view, String secret) {
        return new IssuedToken(view.id(), view.name(), view.role(), view.prefix(), view.createdAt(), view.createdBy(),
                view.expiresAt(), secret);
    }
}
