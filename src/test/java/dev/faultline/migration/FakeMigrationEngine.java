package dev.faultline.migration;

import dev.faultline.agent.AgentMigration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Agents as the migration engine sees them, in memory: each managed node keeps its sides of the
 * jobs, which a test moves along as real agents would, and every call is recorded.
 */
class FakeMigrationEngine implements MigrationEngine {

    static final String CHANNEL = "127.0.0.1:7702";

    final List<String> calls = new ArrayList<>();
    final List<InRequest> ins = new ArrayList<>();
    final List<OutRequest> outs = new ArrayList<>();
    private final Set<String> managed = new HashSet<>(Set.of("node-a", "node-b"));
    private final Set<String> unavailable = new HashSet<>();
    private final Map<String, MigrationEngineException.Reason> refuse = new HashMap<>();
    private final Map<String, Map<UUID, Side>> sides = new HashMap<>();
    private final List<String> resumeSecrets = new ArrayList<>();

    synchronized void reset() {
        calls.clear();
        ins.clear();
        outs.clear();
        managed.clear();
        managed.addAll(Set.of("node-a", "node-b"));
        unavailable.clear();
        refuse.clear();
        sides.clear();
        resumeSecrets.clear();
    }

    synchronized void notManaged(String node) {
        managed.remove(node);
    }

    /** The node's agent is this instance's again (as on the instance that manages it). */
    synchronized void managedAgain(String node) {
        managed.add(node);
    }

    synchronized void unavailable(String node, boolean down) {
        if (down) {
            unavailable.add(node);
        } else {
            unavailable.remove(node);
        }
    }

    /** The next call of {@code operation} (e.g. "in", "out", "switchover") on {@code node} fails so. */
    synchronized void refuseNext(String node, String operation, MigrationEngineException.Reason reason) {
        refuse.put(node + ":" + operation, reason);
    }

    /** The agent of {@code node} restarted and read the job back: PAUSED until it is given its secret. */
    synchronized void restarted(String node, UUID id) {
        Side s = side(node, id);
        MigrationPhase at = s.phase() == MigrationPhase.PAUSED ? s.pausedIn() : s.phase();
        sides.get(node).put(id, new Side(id, s.role(), MigrationPhase.PAUSED, at, "waiting for its secret",
                s.channel(), s.socket(), s.destinationRegionId(), s.switchedOverAt(), s.stats(), true));
    }

    /** The secrets migration_resume was given, in order (null: none). */
    synchronized List<String> resumeSecrets() {
        return new ArrayList<>(resumeSecrets);
    }

    /** The agent of {@code node} lost the job (restarted without its state). */
    synchronized void forget(String node, UUID id) {
        sides.getOrDefault(node, Map.of()).remove(id);
    }

    /** Moves a side along as the agent would, with the statistics it measures. */
    synchronized void report(String node, UUID id, MigrationPhase phase, MigrationPhase pausedIn,
            AgentMigration.Stats stats) {
        Side s = side(node, id);
        sides.get(node).put(id, new Side(id, s.role(), phase, pausedIn, s.error(), s.channel(), s.socket(),
                s.destinationRegionId(), s.switchedOverAt(), stats, s.needsSecret()));
    }

    synchronized void switchedOver(String node, UUID id, Instant at) {
        Side s = side(node, id);
        sides.get(node).put(id, new Side(id, s.role(), s.phase(), s.pausedIn(), s.error(), s.channel(), s.socket(),
                s.destinationRegionId(), at, s.stats(), s.needsSecret()));
    }

    synchronized void attached(String node, UUID id, UUID destinationRegionId) {
        Side s = side(node, id);
        sides.get(node).put(id, new Side(id, s.role(), s.phase(), s.pausedIn(), s.error(), s.channel(), s.socket(),
                destinationRegionId, s.switchedOverAt(), s.stats(), s.needsSecret()));
    }

    synchronized void fail(String node, UUID id, String error) {
        Side s = side(node, id);
        sides.get(node).put(id, new Side(id, s.role(), MigrationPhase.FAILED, null, error, s.channel(), s.socket(),
                s.destinationRegionId(), s.switchedOverAt(), s.stats(), s.needsSecret()));
    }

    synchronized Optional<Side> peek(String node, UUID id) {
        return Optional.ofNullable(sides.getOrDefault(node, Map.of()).get(id));
    }

    synchronized long count(String call) {
        return calls.stream().filter(call::equals).count();
    }

    @Override
    public synchronized boolean manages(String node) {
        return managed.contains(node);
    }

    @Override
    public synchronized List<String> managedNodes() {
        return managed.stream().sorted().toList();
    }

    @Override
    public synchronized Side migrateIn(String node, InRequest request) {
        enter(node, "in");
        ins.add(request);
        if (known(node, request.migrationId())) {
            throw new MigrationEngineException(MigrationEngineException.Reason.CONFLICT, "exists");
        }
        return put(node, new Side(request.migrationId(), "destination", MigrationPhase.PRECOPY, null, null, CHANNEL,
                "/run/faultline/migrate-" + request.migrationId() + ".sock", null, null, null, false));
    }

    @Override
    public synchronized Side migrateOut(String node, OutRequest request) {
        enter(node, "out");
        outs.add(request);
        if (known(node, request.migrationId())) {
            throw new MigrationEngineException(MigrationEngineException.Reason.CONFLICT, "exists");
        }
        return put(node, new Side(request.migrationId(), "source", MigrationPhase.PRECOPY, null, null,
                request.destination(), null, null, null, null, false));
    }

    @Override
    public synchronized Optional<Side> get(String node, UUID migrationId) {
        enter(node, "get");
        return peek(node, migrationId);
    }

    @Override
    public synchronized List<Side> list(String node) {
        enter(node, "list");
        return List.copyOf(sides.getOrDefault(node, Map.of()).values());
    }

    @Override
    public synchronized Side switchover(String node, UUID migrationId) {
        enter(node, "switchover");
        Side s = existing(node, migrationId);
        if (s.phase() != MigrationPhase.PRECOPY) {
            throw new MigrationEngineException(MigrationEngineException.Reason.CONFLICT, "not in precopy");
        }
        report(node, migrationId, MigrationPhase.SWITCHOVER, null, s.stats());
        return peek(node, migrationId).orElseThrow();
    }

    @Override
    public synchronized Side pause(String node, UUID migrationId) {
        enter(node, "pause");
        Side s = existing(node, migrationId);
        report(node, migrationId, MigrationPhase.PAUSED, s.phase(), s.stats());
        return peek(node, migrationId).orElseThrow();
    }

    @Override
    public synchronized Side resume(String node, UUID migrationId, String destination, String secret) {
        enter(node, "resume");
        resumeSecrets.add(secret);
        Side s = existing(node, migrationId);
        if (s.needsSecret() && secret == null) {
            throw new MigrationEngineException(MigrationEngineException.Reason.CONFLICT, "give the secret again");
        }
        if (s.phase() == MigrationPhase.PAUSED) {
            sides.get(node).put(migrationId, new Side(migrationId, s.role(), s.pausedIn(), null, null, s.channel(),
                    s.socket(), s.destinationRegionId(), s.switchedOverAt(), s.stats(), false));
        }
        return peek(node, migrationId).orElseThrow();
    }

    @Override
    public synchronized Side cancel(String node, UUID migrationId) {
        enter(node, "cancel");
        Side s = existing(node, migrationId);
        MigrationPhase at = s.phase() == MigrationPhase.PAUSED ? s.pausedIn() : s.phase();
        if ("source".equals(s.role()) && at.step() >= MigrationPhase.SWITCHOVER.step()) {
            throw new MigrationEngineException(MigrationEngineException.Reason.CONFLICT, "past switchover");
        }
        report(node, migrationId, MigrationPhase.CANCELLED, null, s.stats());
        return peek(node, migrationId).orElseThrow();
    }

    @Override
    public synchronized void delete(String node, UUID migrationId) {
        enter(node, "delete");
        sides.getOrDefault(node, Map.of()).remove(migrationId);
    }

    private void enter(String node, String operation) {
        calls.add(operation + "@" + node);
        if (!managed.contains(node)) {
            throw new MigrationEngineException(MigrationEngineException.Reason.NOT_MANAGED, node + " not managed");
        }
        if (unavailable.contains(node)) {
            throw new MigrationEngineException(MigrationEngineException.Reason.UNAVAILABLE, "the agent of node " + node
                    + " is not READY");
        }
        MigrationEngineException.Reason reason = refuse.remove(node + ":" + operation);
        if (reason != null) {
            throw new MigrationEngineException(reason, "the agent of node " + node + " refused " + operation);
        }
    }

    private boolean known(String node, UUID id) {
        return sides.getOrDefault(node, Map.of()).containsKey(id);
    }

    private Side existing(String node, UUID id) {
        Side s = sides.getOrDefault(node, Map.of()).get(id);
        if (s == null) {
            throw new MigrationEngineException(MigrationEngineException.Reason.NOT_FOUND, "unknown migration " + id);
        }
        return s;
    }

    private Side side(String node, UUID id) {
        return Optional.ofNullable(sides.getOrDefault(node, Map.of()).get(id))
                .orElseThrow(() -> new AssertionError(node + " has no side of " + id));
    }

    private Side put(String node, Side side) {
        sides.computeIfAbsent(node, n -> new HashMap<>()).put(side.migrationId(), side);
        return side;
    }
}
