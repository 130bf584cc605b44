package dev.faultline.migration;

import dev.faultline.agent.AgentMigration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The port through which migration jobs drive the agents, one node at a time, as the control
 * messages of native-agent/PROTOCOL.md §1.9 do. The
 * job table owns which jobs exist and their phase; the agents own the pages, the page channel
 * and the statistics. Each call returns at once with the side's current state, or throws
 * {@link MigrationEngineException}.
 *
 * <p>{@link AgentMigrationEngine} implements it over the agents this instance manages; a node
 * managed by another service instance is {@link #manages not managed} here, and that instance
 * drives its side.
 */
interface MigrationEngine {

    /** Whether this service instance manages the node's agent. */
    boolean manages(String node);

    /** The nodes this service instance manages. */
    List<String> managedNodes();

    /** Destination: stage pages for an incoming job and open the session its workload attaches to. */
    Side migrateIn(String node, InRequest request);

    /** Source: start sending the region to {@code request.destination()}. */
    Side migrateOut(String node, OutRequest request);

    /** The side's current state; empty when the agent does not know the job. */
    Optional<Side> get(String node, UUID migrationId);

    /** Every job the agent knows. */
    List<Side> list(String node);

    /** Source: hold the writers and switch over now (PRECOPY only). */
    Side switchover(String node, UUID migrationId);

    Side pause(String node, UUID migrationId);

    /**
     * @param destination source only: the destination's page channel, when it moved; else null
     * @param secret the job's secret, for an agent that read the job back after a restart
     *     ({@link Side#needsSecret}); null to leave it as it is
     */
    Side resume(String node, UUID migrationId, String destination, String secret);

    /** Source: only before switchover (CONFLICT after). Destination: drops its staging and session. */
    Side cancel(String node, UUID migrationId);

    /** Forget an ended job; a job the agent does not know is already forgotten. */
    void delete(String node, UUID migrationId);

    /** The secret is 64 hex characters; toString never shows it. */
    record InRequest(UUID migrationId, String regionName, long length, int pageSize, Map<String, String> labels,
            String secret) {
        @Override
        public String toString() {
            return "InRequest[" + migrationId + ", region " + regionName + ", " + length + " bytes]";
        }
    }

    record OutRequest(UUID migrationId, UUID regionId, String destination, String secret, MigrationOptions options) {
        @Override
        public String toString() {
            return "OutRequest[" + migrationId + ", region " + regionId + " to " + destination + ", " + options + "]";
        }
    }

    /**
     * One agent's side of a job.
     *
     * @param phase never PENDING
     * @param channel the destination's page channel address
     * @param socket destination: where its workload attaches
     * @param switchedOverAt when the source held its writers (null before)
     * @param needsSecret the agent restarted and waits, PAUSED, for the job's secret
     */
    record Side(UUID migrationId, String role, MigrationPhase phase, MigrationPhase pausedIn, String error,
            String channel, String socket, UUID destinationRegionId, Instant switchedOverAt,
            AgentMigration.Stats stats, boolean needsSecret) {

        /** What one agent reported; its phase is never PENDING (the adapter refuses unknown phases). */
        static Side of(AgentMigration m) {
            return new Side(m.migrationId(), m.role(), MigrationPhase.valueOf(m.phase()),
                    m.pausedIn() == null ? null : MigrationPhase.valueOf(m.pausedIn()), m.error(), m.channel(),
                    m.sessionSocket(), m.destinationRegionId(), m.switchoverAt(), m.stats(), m.needsSecret());
        }
    }
}
