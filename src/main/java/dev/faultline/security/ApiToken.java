package dev.faultline.security;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

/**
 * An API token. Only a SHA-256 hash of the secret is stored: tokens are 256 random bits, so a
 * fast hash is as safe as a slow one and keeps each request's lookup cheap.
 */
@Entity
@Table(name = "api_token")
class ApiToken {

    /** Recording every use would turn each read request into a database write. */
    private static final Duration LAST_USED_RESOLUTION = Duration.ofMinutes(1);

    @Id
    private UUID id;

    @Column(nullable = false, unique = true, length = 64)
    private String name;

    @Enumerated(EnumType.STRING)
    @Column(nullable = false, length = 16)
    private Role role;

    @Column(name = "secret_hash", nullable = false, unique = true, length = 64)
    private String secretHash;

    @Column(name = "secret_prefix", nullable = false, length = 16)
    private String secretPrefix;

    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    @Column(name = "created_by", length = 64)
    private String createdBy;

    @Column(name = "expires_at")
    private Instant expiresAt;

    @Column(name = "last_used_at")
    private Instant lastUsedAt;

    protected ApiToken() {
    }

    ApiToken(String name, Role role, String secretHash, String secretPrefix, Instant createdAt, String createdBy,
            Instant expiresAt) {
        this.id = UUID.randomUUID();
        this.name = name;
        this.role = role;
        this.secretHash = secretHash;
        this.secretPrefix = secretPrefix;
        this.createdAt = createdAt;
        this.createdBy = createdBy;
        this.expiresAt = expiresAt;
    }

    boolean isExpired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    /** Returns true when the change needs saving. */
    boolean recordUse(Instant now) {
        if (lastUsedAt != null && Duration.between(lastUsedAt, now).compareTo(LAST_USED_RESOLUTION) < 0) {
            return false;
        }
        lastUsedAt = now;
        return true;
    }

    TokenView view() {
        return new TokenView(id, name, role, secretPrefix, createdAt, createdBy, expiresAt, lastUsedAt);
    }

    UUID id() {
        return id;
    }

    String name() {
        return name;
    }

    Role role() {
        return role;
    }
}
