package dev.faultline.agent;

import dev.faultline.LatencySummary;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * One node's side of migration jobs (PROTOCOL.md §1.9, messages 0x30–0x38), in the service's
 * names: phases upper-case, ids UUIDs, bandwidth as {@code bandwidthLimitBytesPerSec}, demand
 * latency a {@link LatencySummary}. Failures are {@link AgentException}s with the agent's code;
 * a reply this service cannot read is an {@link AgentException} with code {@link #UNREADABLE}.
 */
public final class AgentMigrations {

    /** The client-side code of a reply that does not parse or names an unknown phase. */
    public static final String UNREADABLE = "UNREADABLE_REPLY";

    private final AgentClient agent;

    AgentMigrations(AgentClient agent) {
        this.agent = agent;
    }

    /** migration_in, to the destination: prepares a region and a page channel for the job. */
    public AgentMigration migrateIn(AgentMigration.InRequest r) {
        return call(MessageType.MIGRATION_IN, new MigrationWire.InRequest(r.migrationId().toString(), r.regionName(),
                r.length(), r.pageSize(), r.labels(), r.secret()));
    }

    /** migration_out, to the source: starts sending the region to the destination's page channel. */
    public AgentMigration migrateOut(AgentMigration.OutRequest r) {
        return call(MessageType.MIGRATION_OUT, toWire(r));
    }

    static MigrationWire.OutRequest toWire(AgentMigration.OutRequest r) {
        return new MigrationWire.OutRequest(r.migrationId().toString(), r.regionId().toString(), r.destination(),
                r.secret(), new MigrationWire.Options(r.bandwidthLimitBytesPerSec(), r.maxPrecopyRounds(),
                        r.maxDowntimeMs(), r.postcopy(), r.postcopyAfterMs(), r.compress(), r.autoConverge(),
                        r.skipUnchanged(), r.pushConnections()));
    }

    /** migration_get; an agent that does not know the job answers NOT_FOUND. */
    public AgentMigration get(UUID migrationId) {
        return call(MessageType.MIGRATION_GET, ref(migrationId));
    }

    /** migration_list: every job this agent holds (in memory only: none after a restart). */
    public List<AgentMigration> list() {
        MigrationWire.ListReply reply = read(MessageType.MIGRATION_LIST, Map.of(), MigrationWire.ListReply.class);
        return reply.migrations() == null ? List.of()
                : reply.migrations().stream().map(AgentMigrations::toService).toList();
    }

    public AgentMigration switchover(UUID migrationId) {
        return call(MessageType.MIGRATION_SWITCHOVER, ref(migrationId));
    }

    public AgentMigration pause(UUID migrationId) {
        return call(MessageType.MIGRATION_PAUSE, ref(migrationId));
    }

    /**
     * migration_resume; {@code destination} (optional) points the source at a new page channel
     * address; {@code secret} (optional) gives a job an agent read back after a restart its secret.
     */
    public AgentMigration resume(UUID migrationId, String destination, String secret) {
        return call(MessageType.MIGRATION_RESUME,
                new MigrationWire.ResumeRequest(migrationId.toString(), destination, secret));
    }

    public AgentMigration cancel(UUID migrationId) {
        return call(MessageType.MIGRATION_CANCEL, ref(migrationId));
    }

    /** migration_delete: forgets a finished job. */
    public void delete(UUID migrationId) {
        agent.call(MessageType.MIGRATION_DELETE, ref(migrationId));
    }

    private static MigrationWire.Ref ref(UUID migrationId) {
        return new MigrationWire.Ref(migrationId.toString());
    }

    private AgentMigration call(MessageType type, Object payload) {
        return toService(read(type, payload, MigrationWire.Reply.class));
    }

    private <T> T read(MessageType type, Object payload, Class<T> reply) {
        try {
            return agent.call(type, payload, reply);
        } catch (AgentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new AgentException(UNREADABLE, "the agent answered " + type.name().toLowerCase(Locale.ROOT)
                    + " with a reply this service cannot read: " + e.getMessage(), e);
        }
    }

    static AgentMigration toService(MigrationWire.Reply m) {
        String phase = phase(m, m.phase());
        if (phase == null) {
            throw new AgentException(UNREADABLE, "the agent reported migration " + m.migrationId()
                    + " without a phase");
        }
        MigrationWire.Stats s = m.stats();
        Long switchoverAtMs = s == null ? null : s.switchoverAtMs();
        try {
            return new AgentMigration(UUID.fromString(m.migrationId()), m.role(), uuid(m.regionId()), m.regionName(),
                    phase, phase(m, m.pausedIn()), m.error(), m.channel(),
                    m.session() == null ? null : m.session().socket(), uuid(m.destinationRegionId()),
                    switchoverAtMs == null || switchoverAtMs <= 0 ? null : Instant.ofEpochMilli(switchoverAtMs),
                    s == null ? null : new AgentMigration.Stats(s.regionBytes(), s.setupMs(), s.totalMs(),
                            s.downtimeMs(), s.precopyBytes(), s.precopyPages(), s.postcopyBytes(), s.postcopyPages(),
                            s.demandBytes(), s.demandPages(), s.remainingBytes(), s.dirtyRateBytesPerS(), s.rounds(),
                            s.postcopyRequests(), latency(s.demandLatency()), s.blockedNs(),
                            s.throughputBytesPerS(), s.compressedPages(), s.compressedBytes(), s.unchangedPages(),
                            s.throttle(), s.throttlePct(), s.throttledMs(), s.pushConnections()),
                    Boolean.TRUE.equals(m.needsSecret()));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new AgentException(UNREADABLE, "the agent reported migration " + m.migrationId()
                    + " with an id that is not a UUID: " + e.getMessage(), e);
        }
    }

    private static final List<String> PHASES = List.of("PRECOPY", "SWITCHOVER", "POSTCOPY", "COMPLETED", "PAUSED",
            "FAILED", "CANCELLED");

    /** The wire's lower-case phase in the service's spelling; null for null. */
    private static String phase(MigrationWire.Reply m, String wire) {
        if (wire == null) {
            return null;
        }
        String phase = wire.toUpperCase(Locale.ROOT);
        if (!PHASES.contains(phase)) {
            throw new AgentException(UNREADABLE, "the agent reported migration " + m.migrationId()
                    + " in an unknown phase '" + wire + "'");
        }
        return phase;
    }

    private static UUID uuid(String id) {
        return id == null ? null : UUID.fromString(id);
    }

    private static LatencySummary latency(MigrationWire.Latency l) {
        return l == null ? null : new LatencySummary(l.count(), l.p50Ns(), l.p99Ns(), null, l.maxNs());
    }
}
