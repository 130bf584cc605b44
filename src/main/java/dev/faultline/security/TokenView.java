package dev.faultline.security;

import java.time.Instant;
import java.util.UUID;

/**
 * A token as the API shows it: never the secret, only its first characters so an operator can
 * tell tokens apart.
 */
public record TokenView(UUID id, String name, Role role, String prefix, Instant createdAt, String createdBy,
        Instant expiresAt, Instant lastUsedAt) {
}
