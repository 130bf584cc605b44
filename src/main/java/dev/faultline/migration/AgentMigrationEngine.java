package dev.faultline.migration;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentMigration;
import dev.faultline.agent.AgentMigrations;
import dev.faultline.agent.NodeAgents;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
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
        return side(node, "migration_in", a -> a.migrateIn(new AgentMigration.InRequest(r.migrationId(),
                r.regionName(), r.length(), r.pageSize(), r.labels(), r.secret())));
    }

    @Override
    public Side migrateOut(String node, OutRequest r) {
        MigrationOptions o = r.options();
        return side(node, "migration_out", a -> a.migrateOut(new AgentMigration.OutRequest(r.migrationId(),
                r.regionId(), r.destination(), r.secret(), o.bandwidthLimitBytesPerSec(), o.maxPrecopyRounds(),
                o.maxDowntimeMs(), o.postcopy().json(), o.postcopyAfterMs(), o.compress().json(),
                o.autoConverge(), o.skipUnchanged(), o.pushConnections())));
    }

    @Override
    public Optional<Side> get(String node, UUID migrationId) {
        try {
            return Optional.of(side(node, "migration_get", a -> a.get(migrationId)));
        } catch (MigrationEngineException e) {
            if (e.reason() == MigrationEngineException.Reason.NOT_FOUND) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public List<Side> list(String node) {
        return invoke(node, "migration_list", AgentMigrations::list).stream().map(MigrationEngine.Side::of).toList();
    }

    @Override
    public Side switchover(String node, UUID migrationId) {
        return side(node, "migration_switchover", a -> a.switchover(migrationId));
    }

    @Override
    public Side pause(String node, UUID migrationId) {
        return side(node, "migration_pause", a -> a.pause(migrationId));
    }

    @Override
    public Side resume(String node, UUID migrationId, String destination, String secret) {
        return side(node, "migration_resume", a -> a.resume(migrationId, destination, secret));
    }

    @Override
    public Side cancel(String node, UUID migrationId) {
        return side(node, "migration_cancel", a -> a.cancel(migrationId));
    }

    @Override
    public void delete(String node, UUID migrationId) {
        try {
            invoke(node, "migration_delete", a -> {
                a.delete(migrationId);
                return null;
            });
        } catch (MigrationEngineException e) {
            if (e.reason() != MigrationEngineException.Reason.NOT_FOUND) {
                throw e;
            }
        }
    }

    private Side side(String node, String what, Function<AgentMigrations, AgentMigration> request) {
        return MigrationEngine.Side.of(invoke(node, what, request));
    }

    private <T> T invoke(String node, String what, Function<AgentMigrations, T> request) {
        AgentClient agent = agents.node(node).orElseThrow(() -> new MigrationEngineException(
                MigrationEngineException.Reason.NOT_MANAGED, "node " + node + " is managed by another service instance"));
        try {
            return request.apply(agent.migrations());
        } catch (AgentException e) {
            if (AgentMigrations.UNREADABLE.equals(e.code())) {
                throw new MigrationEngineException(MigrationEngineException.Reason.FAILED, "the agent of node " + node
                        + " answered " + what + ": " + e.getMessage(), e);
            }
            throw new MigrationEngineException(reason(e), "the agent of node " + node + " refused " + what + ": "
                    + e.getMessage() + " (" + e.code() + ")", e);
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
}
