package dev.faultline;

/**
 * A request the domain refuses (a state transition its rules forbid, something that does not
 * exist, an agent that cannot do it). Entities and services throw it; the one
 * {@code @RestControllerAdvice} in {@code web/} turns it into problem+json with the type of its
 * {@link Problem}. The detail is shown to the caller, so it says what went wrong in their terms
 * and never carries secrets.
 */
public class DomainException extends RuntimeException {

    private final Problem kind;

    public DomainException(Problem kind, String detail) {
        super(detail);
        this.kind = kind;
    }

    public DomainException(Problem kind, String detail, Throwable cause) {
        super(detail, cause);
        this.kind = kind;
    }

    public Problem kind() {
        return kind;
    }

    public static DomainException notFound(String what, Object id) {
        return new DomainException(Problem.NOT_FOUND, what + " '" + id + "' does not exist");
    }

    public static DomainException conflict(String detail) {
        return new DomainException(Problem.CONFLICT, detail);
    }
}
