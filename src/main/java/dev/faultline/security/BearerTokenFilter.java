package dev.faultline.security;

import dev.faultline.web.ProblemKind;
import dev.faultline.web.Problems;
import java.time.Clock;
import java.time.Duration;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.springframework.http.HttpHeaders;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.core.context.SecurityContextHolderStrategy;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Authenticates {@code Authorization: Bearer <token>}. A request without the header goes on
 * anonymously (authorization rules decide); a malformed header or an unknown token is refused
 * at once, so a typo never silently falls back to anonymous access.
 */
class BearerTokenFilter extends OncePerRequestFilter {

    private static final String SCHEME = "Bearer ";

    private final TokenService tokens;
    private final AuthenticationEntryPoint entryPoint;
    private final SecurityContextHolderStrategy contexts = SecurityContextHolder.getContextHolderStrategy();

    /** Failed authentications allowed per source address, and per presented token, in one window. */
    static final int MAX_FAILURES_PER_SOURCE = 20;
    static final int MAX_FAILURES_PER_TOKEN = 10;
    static final Duration FAILURE_WINDOW = Duration.ofMinutes(1);
    /** "flt_" and 8 characters: enough to tell tokens apart, too little to be a secret. */
    private static final int TOKEN_KEY_LENGTH = 12;

    private final Problems problems;
    private final FailedAuthentications bySource;
    private final FailedAuthentications byToken;

    BearerTokenFilter(TokenService tokens, AuthenticationEntryPoint entryPoint, Problems problems, Clock clock) {
        this.tokens = tokens;
        this.entryPoint = entryPoint;
        this.problems = problems;
        this.bySource = new FailedAuthentications(MAX_FAILURES_PER_SOURCE, FAILURE_WINDOW, clock);
        this.byToken = new FailedAuthentications(MAX_FAILURES_PER_TOKEN, FAILURE_WINDOW, clock);
    }

    private static Duration later(Duration a, Duration b) {
        return a == null ? b : b == null || a.compareTo(b) >= 0 ? a : b;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String header = request.getHeader(HttpHeaders.AUTHORIZATION);
        if (header == null) {
            chain.doFilter(request, response);
            return;
        }
        if (!header.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            entryPoint.commence(request, response,
                    new BadCredentialsException("the Authorization header must be 'Bearer <token>'"));
            return;
        }
        String presented = header.substring(SCHEME.length()).strip();
        String source = "source:" + request.getRemoteAddr();
        String token = "token:" + presented.substring(0, Math.min(TOKEN_KEY_LENGTH, presented.length()));
        Optional<TokenPrincipal> principal = tokens.authenticate(presented);
        if (principal.isEmpty()) {
            // A good token always passes, even from a refused source: all local clients share
            // 127.0.0.1, and one misbehaving client must not lock the operator out.
            Duration blocked = later(bySource.blockedFor(source), byToken.blockedFor(token));
            if (blocked != null) {
                long seconds = Math.max(1, blocked.toSeconds());
                response.setHeader(HttpHeaders.RETRY_AFTER, Long.toString(seconds));
                problems.write(request, response, ProblemKind.TOO_MANY_REQUESTS, "too many failed authentications"
                        + " from this address or with this token; retry in " + seconds + " s");
                return;
            }
            bySource.failed(source);
            byToken.failed(token);
            entryPoint.commence(request, response,
                    new BadCredentialsException("the bearer token is unknown, revoked or expired"));
            return;
        }
        SecurityContext context = contexts.createEmptyContext();
        context.setAuthentication(UsernamePasswordAuthenticationToken.authenticated(principal.get(), null,
                List.of(new SimpleGrantedAuthority(principal.get().role().authority()))));
        contexts.setContext(context);
        try {
            chain.doFilter(request, response);
        } finally {
            contexts.clearContext();
        }
    }
}
