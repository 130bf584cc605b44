package dev.faultline.security;

/** What a token may do. Each role includes the ones below it. */
public enum Role {
    /** Read everything. */
    VIEWER,
    /** Also act: take snapshots, start migrations, change regions and policies. */
    OPERATOR,
    /** Also manage tokens and read the service's own internals (Actuator). */
    ADMIN;

    String authority() {
        return "ROLE_" + name();
    }
}
