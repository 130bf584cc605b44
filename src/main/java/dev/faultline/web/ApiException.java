package dev.faultline.web;

/**
 * An error that the API reports to its caller as problem+json. The detail is shown to the
 * caller, so it must say what went wrong in their terms and never carry secrets.
 */
public class ApiException extends RuntimeException {

    private final ProblemKind kind;

    public ApiException(ProblemKind kind, String detail) {
        super(detail);
        this.kind = kind;
    }

    public ApiException(ProblemKind kind, String detail, Throwable cause) {
        super(detail, cause);
        this.kind = kind;
    }

    public ProblemKind kind() {
        return kind;
    }

    public static ApiException notFound(String what, Object id) {
        return new ApiException(ProblemKind.NOT_FOUND, what + " '" + id + "' does not exist");
    }

    public static ApiException conflict(String detail) {
        return new ApiException(ProblemKind.CONFLICT, detail);
    }
}
