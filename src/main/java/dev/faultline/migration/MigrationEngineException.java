package dev.faultline.migration;

/** An agent could not do what a migration needed; {@link #reason()} says how to react. */
class MigrationEngineException extends RuntimeException {

    enum Reason {
        /** The agent does not know the job (or the region). */
        NOT_FOUND,
        /** The request does not fit the side's state (exists already, past switchover, region busy). */
        CONFLICT,
        /** The agent refused the request as it is (e.g. a region registered without the hold uffd). */
        REFUSED,
        /** The agent is not reachable now; trying again later may work. */
        UNAVAILABLE,
        /** This service instance does not manage the node. */
        NOT_MANAGED,
        /** The agent failed. */
        FAILED
    }

    private final Reason reason;

    MigrationEngineException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    MigrationEngineException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    Reason reason() {
        return reason;
    }
}
