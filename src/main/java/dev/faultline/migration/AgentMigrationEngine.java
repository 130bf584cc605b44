package dev.faultline.migration;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentMigration;
import dev.faultline.agent.MessageType;
import dev.faultline.agent.NodeAgents;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.stereotype.Component;

/** The migration engine of the agents this instance manages (PROTOCOL.md §1.9, messages 0x30–0x38). */
@Component
class AgentMigrationEngine implements MigrationEngine {

    private final NodeAgents agents;

    AgentMigrationEngine(NodeAgents agents) {
        this.agents = agents;
    }

    @Override
    public boolean manages(String node) {
        return agents.node(node).isPresent();
    }

    @Override
    public List<String> managedNodes() {
        return agents.all().stream().map(AgentClient::node).toList();
    }

    @Override
    public Side migrateIn(String node, InRequest r) {
        return call(node, MessageType.MIGRATION_IN, new AgentMigration.InRequest(r.migrationId().toString(),
                r.regionName(), r.length(), r.pageSize(), r.labels(), r.secret()));
    }

    @Override
    public Side migrateOut(String node, OutRequest r) {
        MigrationOptions o = r.options();
        return call(node, MessageType.MIGRATION_OUT, new AgentMigration.OutRequest(r.migrationId().toString(),
                r.regionId().toString(), r.destination(), r.secret(), new AgentMigration.Options(
                        o.bandwidthLimitBytesPerSec(), o.maxPrecopyRounds(), o.maxDowntimeMs(), o.postcopy().json(),
                        o.postcopyAfterMs())));
    }

    @Override
    public Optional<Side> get(String node, UUID migrationId) {
        try {
            return Optional.of(call(node, MessageType.MIGRATION_GET, ref(migrationId)));
        } catch (MigrationEngineException e) {
            if (e.reason() == MigrationEngineException.Reason.NOT_FOUND) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public List<Side> list(String node) {
        AgentMigration.ListReply reply = invoke(node, MessageType.MIGRATION_LIST, java.util.Map.of(),
                AgentMigration.ListReply.class);
        return reply.migrations() == null ? List.of() : reply.migrations().stream().map(m -> side(node, m)).toList();
    }

    @Override
    public Side switchover(String node, UUID migrationId) {
        return call(node, MessageType.MIGRATION_SWITCHOVER, ref(migrationId));
    }

    @Override
    public Side pause(String node, UUID migrationId) {
        return call(node, MessageType.MIGRATION_PAUSE, ref(migrationId));
    }

    @Override
    public Side resume(String node, UUID migrationId, String destination) {
        return call(node, MessageType.MIGRATION_RESUME, new AgentMigration.ResumeRequest(migrationId.toString(),
                destination));
    }

    @Override
    public Side cancel(String node, UUID migrationId) {
        return call(node, MessageType.MIGRATION_CANCEL, ref(migrationId));
    }

    @Override
    public void delete(String node, UUID migrationId) {
        try {
            invoke(node, MessageType.MIGRATION_DELETE, ref(migrationId), tools.jackson.databind.JsonNode.class);
        } catch (MigrationEngineException e) {
            if (e.reason() != MigrationEngineException.Reason.NOT_FOUND) {
                throw e;
            }
        }
    }

    private static AgentMigration.Ref ref(UUID migrationId) {
        return new AgentMigration.Ref(migrationId.toString());
    }

    private Side call(String node, MessageType type, Object payload) {
        return side(node, invoke(node, type, payload, AgentMigration.class));
    }

    private <T> T invoke(String node, MessageType type, Object payload, Class<T> reply) {
        AgentClient agent = agents.node(node).orElseThrow(() -> new MigrationEngineException(
                MigrationEngineException.Reason.NOT_MANAGED, "node " + node + " is managed by another service instance"));
        String what = type.name().toLowerCase(java.util.Locale.ROOT);
        try {
            return agent.call(type, payload, reply);
        } catch (AgentException e) {
            throw new MigrationEngineException(reason(e), "the agent of node " + node + " refused " + what + ": "
                    + e.getMessage() + " (" + e.code() + ")", e);
        } catch (RuntimeException e) {
            throw new MigrationEngineException(MigrationEngineException.Reason.FAILED, "the agent of node " + node
                    + " answered " + what + " with a reply this service cannot read: " + e.getMessage(), e);
        }
    }

    private static MigrationEngineException.Reason reason(AgentException e) {
        if (e.isUnavailable()) {
            return MigrationEngineException.Reason.UNAVAILABLE;
        }
        return switch (e.code()) {
            case "NOT_FOUND" -> MigrationEngineException.Reason.NOT_FOUND;
            case "CONFLICT", "BUSY" -> MigrationEngineException.Reason.CONFLICT;
            case "BAD_REQUEST", "INVALID_ARGUMENT", "PERMISSION_DENIED", "UNKNOWN_TYPE" ->
                    MigrationEngineException.Reason.REFUSED;
            default -> MigrationEngineException.Reason.FAILED;
        };
    }

    private static Side side(String node, AgentMigration m) {
        MigrationPhase phase;
        MigrationPhase pausedIn;
        try {
            phase = MigrationPhase.fromAgent(m.phase());
            pausedIn = MigrationPhase.fromAgent(m.pausedIn());
        } catch (IllegalArgumentException e) {
            throw new MigrationEngineException(MigrationEngineException.Reason.FAILED, "the agent of node " + node
                    + " reported migration " + m.migrationId() + " in an unknown phase '" + m.phase() + "'");
        }
        if (phase == null || phase == MigrationPhase.PENDING) {
            throw new MigrationEngineException(MigrationEngineException.Reason.FAILED, "the agent of node " + node
                    + " reported migration " + m.migrationId() + " without a valid phase");
        }
        Long switchoverAtMs = m.stats() == null ? null : m.stats().switchoverAtMs();
        return new Side(UUID.fromString(m.migrationId()), m.role(), phase, pausedIn, m.error(), m.channel(),
                m.session() == null ? null : m.session().socket(),
                m.destinationRegionId() == null ? null : UUID.fromString(m.destinationRegionId()),
                switchoverAtMs == null || switchoverAtMs <= 0 ? null : Instant.ofEpochMilli(switchoverAtMs), m.stats());
    }
}
