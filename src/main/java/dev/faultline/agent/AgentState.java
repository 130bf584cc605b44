package dev.faultline.agent;

/** Where the service's link to its agent stands. */
public enum AgentState {
    /** The agent is being started or connected to; requests fail with UNAVAILABLE. */
    STARTING,
    /** The agent answered hello and is pinged regularly; requests are served. */
    READY,
    /** The agent is gone or unreachable; a restart or reconnect is scheduled. */
    DOWN
}
