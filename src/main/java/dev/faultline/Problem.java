package dev.faultline;

/**
 * Why the service refused or failed a request, in the domain's terms. Each constant has a stable
 * problem {@code type} of the same name in the API ({@code web.ProblemKind}, docs/api-errors.md),
 * which also gives it its HTTP status: the domain says what went wrong, only {@code web/} knows
 * how HTTP shows it.
 */
public enum Problem {
    VALIDATION,
    NOT_FOUND,
    CONFLICT,
    LAST_ADMIN_TOKEN,
    SNAPSHOT_IN_PROGRESS,
    SNAPSHOT_HAS_DEPENDENTS,
    MIGRATION_IN_PROGRESS,
    MIGRATION_WRONG_PHASE,
    MIGRATION_PAST_SWITCHOVER,
    PRECONDITION_FAILED,
    PRECONDITION_REQUIRED,
    IMAGE_NOT_ALLOWED,
    UNPROCESSABLE,
    AGENT_UNAVAILABLE,
    AGENT_ERROR,
    TOO_MANY_REQUESTS
}
