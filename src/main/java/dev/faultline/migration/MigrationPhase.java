package dev.faultline.migration;

/**
 * The phases of a migration job (docs/api-migrations.md). The happy path is PENDING, PRECOPY,
 * SWITCHOVER, POSTCOPY, COMPLETED; PAUSED remembers the phase it paused in; COMPLETED, FAILED
 * and CANCELLED are final.
 */
enum MigrationPhase {
    PENDING, PRECOPY, SWITCHOVER, POSTCOPY, COMPLETED, PAUSED, FAILED, CANCELLED;

    boolean isFinal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }

    /** Position on the happy path; -1 for PAUSED, FAILED and CANCELLED. */
    int step() {
        return switch (this) {
            case PENDING -> 0;
            case PRECOPY -> 1;
            case SWITCHOVER -> 2;
            case POSTCOPY -> 3;
            case COMPLETED -> 4;
            default -> -1;
        };
    }

    MigrationPhase next() {
        return switch (this) {
            case PENDING -> PRECOPY;
            case PRECOPY -> SWITCHOVER;
            case SWITCHOVER -> POSTCOPY;
            case POSTCOPY -> COMPLETED;
            default -> throw new IllegalStateException(this + " has no next phase");
        };
    }
}
