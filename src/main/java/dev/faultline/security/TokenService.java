package dev.faultline.security;

import dev.faultline.DomainException;
import dev.faultline.Problem;
import dev.faultline.TokenRevoked;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Issues, checks and revokes API tokens. */
@Service
public class TokenService {

    static final String SECRET_PREFIX = "flt_";
    private static final int SECRET_BYTES = 32;
    private static final int SHOWN_CHARS = SECRET_PREFIX.length() + 8;

    private final ApiTokenRepository tokens;
    private final Clock clock;
    private final ApplicationEventPublisher published;
    private final SecureRandom random = new SecureRandom();

    TokenService(ApiTokenRepository tokens, Clock clock, ApplicationEventPublisher published) {
        this.tokens = tokens;
        this.clock = clock;
        this.published = published;
    }

    @Transactional
    public IssuedToken issue(String name, Role role, Instant expiresAt, String createdBy) {
        return issue(name, role, expiresAt, createdBy, newSecret());
    }

    /** Issues a token whose secret the caller generated with {@link #newSecret()} (and may have stored already). */
    @Transactional
    IssuedToken issue(String name, Role role, Instant expiresAt, String createdBy, String secret) {
        Instant now = clock.instant();
        if (expiresAt != null && !expiresAt.isAfter(now)) {
            throw new DomainException(Problem.UNPROCESSABLE, "expiresAt " + expiresAt + " is not in the future");
        }
        if (tokens.existsByName(name)) {
            throw DomainException.conflict("a token named '" + name + "' already exists");
        }
        ApiToken token = tokens.save(new ApiToken(name, role, hash(secret), secret.substring(0, SHOWN_CHARS), now,
                createdBy, expiresAt));
        return IssuedToken.of(token.view(), secret);
    }

    /** The token's holder, or empty when the secret is unknown or expired. */
    @Transactional
    public Optional<TokenPrincipal> authenticate(String secret) {
        if (secret == null || !secret.startsWith(SECRET_PREFIX)) {
            return Optional.empty();
        }
        Instant now = clock.instant();
        return tokens.findBySecretHash(hash(secret))
                .filter(t -> !t.isExpired(now))
                .map(t -> {
                    if (t.recordUse(now)) {
                        tokens.save(t);
                    }
                    return new TokenPrincipal(t.id(), t.name(), t.role());
                });
    }

    @Transactional(readOnly = true)
    public List<TokenView> list() {
        return tokens.findAllByOrderByCreatedAtAsc().stream().map(ApiToken::view).toList();
    }

    @Transactional(readOnly = true)
    public boolean any() {
        return tokens.count() > 0;
    }

    /** Revokes a token; the last usable admin token cannot be revoked, or nobody could manage tokens. */
    @Transactional
    public void revoke(UUID id) {
        ApiToken token = tokens.findById(id).orElseThrow(() -> DomainException.notFound("token", id));
        Instant now = clock.instant();
        if (token.role() == Role.ADMIN && !token.isExpired(now) && tokens.countActiveAdmins(now) <= 1) {
            throw new DomainException(Problem.LAST_ADMIN_TOKEN,
                    "'" + token.name() + "' is the last admin token; create another admin token first");
        }
        tokens.delete(token);
        published.publishEvent(new TokenRevoked(id));
    }

    String newSecret() {
        byte[] bytes = new byte[SECRET_BYTES];
        random.nextBytes(bytes);
        return SECRET_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
