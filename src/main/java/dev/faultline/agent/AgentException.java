package dev.faultline.agent;

/**
 * A control request that did not succeed. {@link #code()} is the agent's stable error code
 * (PROTOCOL.md §1.5) when the agent answered with an error frame, or one of the client-side
 * codes {@code UNAVAILABLE} (no connection, or it broke) and {@code TIMEOUT}.
 */
public class AgentException extends RuntimeException {

    public static final String UNAVAILABLE = "UNAVAILABLE";
    public static final String TIMEOUT = "TIMEOUT";

    private final String code;

    public AgentException(String code, String message) {
        super(message);
        this.code = code;
    }

    public AgentException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public String code() {
        return code;
    }

    public boolean isUnavailable() {
        return UNAVAILABLE.equals(code) || TIMEOUT.equals(code);
    }
}
