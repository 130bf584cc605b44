package dev.faultline.agent;

/** Who runs the agent. */
public enum AgentMode {
    /** The service starts the bundled agent as its child and restarts it when it dies. */
    EMBEDDED,
    /** An agent run by someone else (systemd, another host's setup) at a configured socket. */
    EXTERNAL
}
