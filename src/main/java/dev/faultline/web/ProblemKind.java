package dev.faultline.web;

import dev.faultline.Problem;
import java.net.URI;
import org.springframework.http.HttpStatus;

/**
 * Every kind of error the API returns, each with a stable {@code type} URI (RFC 9457). Clients
 * branch on the type, never on the human-readable detail. docs/api-errors.md lists them.
 */
public enum ProblemKind {
    BAD_REQUEST(HttpStatus.BAD_REQUEST, "bad-request", "Bad request"),
    VALIDATION(HttpStatus.BAD_REQUEST, "validation", "Invalid request"),
    UNAUTHORIZED(HttpStatus.UNAUTHORIZED, "unauthorized", "Authentication required"),
    FORBIDDEN(HttpStatus.FORBIDDEN, "forbidden", "Not allowed"),
    NOT_FOUND(HttpStatus.NOT_FOUND, "not-found", "Not found"),
    METHOD_NOT_ALLOWED(HttpStatus.METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
    NOT_ACCEPTABLE(HttpStatus.NOT_ACCEPTABLE, "not-acceptable", "Not acceptable"),
    CONFLICT(HttpStatus.CONFLICT, "conflict", "Conflict"),
    LAST_ADMIN_TOKEN(HttpStatus.CONFLICT, "last-admin-token", "Last admin token"),
    SNAPSHOT_IN_PROGRESS(HttpStatus.CONFLICT, "snapshot-in-progress", "Snapshot in progress"),
    SNAPSHOT_HAS_DEPENDENTS(HttpStatus.CONFLICT, "snapshot-has-dependents", "Snapshot has dependents"),
    MIGRATION_IN_PROGRESS(HttpStatus.CONFLICT, "migration-in-progress", "Migration in progress"),
    MIGRATION_WRONG_PHASE(HttpStatus.CONFLICT, "migration-wrong-phase", "Not possible in this migration phase"),
    MIGRATION_PAST_SWITCHOVER(HttpStatus.CONFLICT, "migration-past-switchover", "Migration is past switchover"),
    PRECONDITION_FAILED(HttpStatus.PRECONDITION_FAILED, "precondition-failed", "Precondition failed"),
    PRECONDITION_REQUIRED(HttpStatus.PRECONDITION_REQUIRED, "precondition-required", "Precondition required"),
    IMAGE_NOT_ALLOWED(HttpStatus.UNPROCESSABLE_CONTENT, "image-not-allowed", "Image outside the allowed directories"),
    PAYLOAD_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE, "payload-too-large", "Request body too large"),
    TOO_MANY_REQUESTS(HttpStatus.TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
    UNSUPPORTED_MEDIA_TYPE(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type"),
    UNPROCESSABLE(HttpStatus.UNPROCESSABLE_CONTENT, "unprocessable", "Request cannot be carried out"),
    AGENT_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE, "agent-unavailable", "Agent unavailable"),
    AGENT_ERROR(HttpStatus.BAD_GATEWAY, "agent-error", "Agent refused the request"),
    INTERNAL(HttpStatus.INTERNAL_SERVER_ERROR, "internal", "Internal error");

    private static final String BASE = "https://faultline.dev/problems/";

    private final HttpStatus status;
    private final URI type;
    private final String title;

    ProblemKind(HttpStatus status, String slug, String title) {
        this.status = status;
        this.type = URI.create(BASE + slug);
        this.title = title;
    }

    public HttpStatus status() {
        return status;
    }

    public URI type() {
        return type;
    }

    public String title() {
        return title;
    }

    /** The kind with the type of the domain's problem: the same name, so the API's types stay as they are. */
    public static ProblemKind of(Problem problem) {
        return valueOf(problem.name());
    }

    /** The generic kind for a status raised by the framework rather than by our code. */
    static ProblemKind forStatus(int status) {
        for (ProblemKind kind : values()) {
            if (kind.status.value() == status) {
                return kind;
            }
        }
        return status >= 500 ? INTERNAL : BAD_REQUEST;
    }
}
