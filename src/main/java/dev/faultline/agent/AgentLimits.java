package dev.faultline.agent;

import tools.jackson.databind.JsonNode;

/**
 * How many clients the agent serves at once on each of its sockets, and the descriptor limit
 * that number was derived from (PROTOCOL.md §1.4).
 *
 * @param maxClients connections per socket (control, general handoff, each session socket);
 *     one more is refused with {@code TOO_MANY_CLIENTS}
 * @param openFiles the agent's RLIMIT_NOFILE after it raised the soft limit to the hard one
 */
public record AgentLimits(long maxClients, long openFiles) {

    /** From the hello reply's {@code limits}; null for an agent older than the field. */
    static AgentLimits fromAgent(JsonNode limits) {
        if (limits == null || !limits.isObject()) {
            return null;
        }
        return new AgentLimits(limits.path("max_clients").asLong(0), limits.path("nofile").asLong(0));
    }
}
