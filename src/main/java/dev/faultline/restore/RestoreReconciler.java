package dev.faultline.restore;

import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentRestore;
import dev.faultline.event.EventService;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Converges the recorded restore sessions of one node on what its agent holds, both ways, so that
 * restarts of either side leave nothing nobody can list or remove:
 * <ul>
 * <li>a recorded open session follows the agent's state; one the agent no longer has FAILED;
 * <li>a session the agent holds that is not recorded is adopted: recorded as the agent reports it
 *     (a snapshot's restore opened while the service was down, or one whose recording was lost);
 * <li>a session recorded as ended (CLOSED, FAILED) that the agent still holds is closed there,
 *     which removes its socket and lets go of the images it serves.
 * </ul>
 */
@Component
class RestoreReconciler {

    private static final Logger log = LoggerFactory.getLogger(RestoreReconciler.class);
    private static final Set<RestoreState> OPEN = EnumSet.of(RestoreState.WAITING, RestoreState.ACTIVE,
            RestoreState.COMPLETE);
    static final String MISSING = "the agent no longer has this session (was its state directory removed?)";

    private final RestoreRepository sessions;
    private final TransactionTemplate tx;
    private final EventService events;
    private final Clock clock;
    /** A session is adopted once even when the reconciliation and its opener record it at the same moment. */
    private final Object adopting = new Object();

    RestoreReconciler(RestoreRepository sessions, TransactionTemplate tx, EventService events, Clock clock) {
        this.sessions = sessions;
        this.tx = tx;
        this.events = events;
        this.clock = clock;
    }

    /**
     * @param reported every session the node's agent holds
     * @param busy sessions being opened (recorded once open) or closed right now through this service: left alone
     * @param closeOnAgent closes a session on the agent; may throw {@link AgentException}
     * @return the ids of the recorded open sessions that were compared with the report
     */
    Set<UUID> reconcile(String node, List<AgentRestore> reported, Set<UUID> busy, Consumer<UUID> closeOnAgent) {
        Map<UUID, AgentRestore> byId = new HashMap<>();
        for (AgentRestore r : reported) {
            if (r.id() != null) {
                byId.put(r.id(), r);
            }
        }
        Set<UUID> observed = new HashSet<>();
        Map<UUID, RestoreSession> recorded = new HashMap<>();
        tx.executeWithoutResult(status -> {
            Instant now = clock.instant();
            for (RestoreSession s : sessions.findByNodeAndStateIn(node, OPEN)) {
                if (busy.contains(s.id())) {
                    continue;
                }
                observed.add(s.id());
                AgentRestore r = byId.get(s.id());
                boolean changed = r == null ? fail(s, MISSING) : s.observe(state(r), r.error(), now);
                if (changed) {
                    sessions.save(s);
                    events.publish("restore." + s.state().name().toLowerCase(Locale.ROOT), "restore", s.id(),
                            "restore session '" + s.name() + "' is " + s.state()
                                    + (s.error() == null ? "" : ": " + s.error()), null);
                }
            }
            for (RestoreSession s : sessions.findAllById(byId.keySet())) {
                recorded.put(s.id(), s);
            }
        });
        for (AgentRestore r : byId.values()) {
            RestoreSession s = recorded.get(r.id());
            if (busy.contains(r.id())) {
                continue;
            }
            if (s == null) {
                adopt(node, r, true);
            } else if (s.state().isFinal() && s.node().equals(node)) {
                closeEnded(node, s, closeOnAgent);
            }
        }
        return observed;
    }

    /**
     * One session as the agent of {@code node} reports it now (a change event named it): a
     * recorded open session follows its state, one not recorded is adopted, one being opened
     * or closed by this service ({@code busy}) is left to that.
     */
    void observe(String node, AgentRestore r, Set<UUID> busy) {
        if (r.id() == null || busy.contains(r.id())) {
            return;
        }
        boolean[] known = { false };
        tx.executeWithoutResult(status -> sessions.findById(r.id()).ifPresent(s -> {
            known[0] = true;
            if (!s.node().equals(node) || !OPEN.contains(s.state())) {
                return;
            }
            if (s.observe(state(r), r.error(), clock.instant())) {
                sessions.save(s);
                events.publish("restore." + s.state().name().toLowerCase(Locale.ROOT), "restore", s.id(),
                        "restore session '" + s.name() + "' is " + s.state()
                                + (s.error() == null ? "" : ": " + s.error()), null);
            }
        }));
        if (!known[0]) {
            adopt(node, r, true);
        }
    }

    /** A session the agent of {@code node} no longer has: an open one not being closed here fails. */
    void lost(String node, UUID id, Set<UUID> busy) {
        if (busy.contains(id)) {
            return;
        }
        tx.executeWithoutResult(status -> sessions.findById(id)
                .filter(s -> s.node().equals(node) && OPEN.contains(s.state()) && !busy.contains(id))
                .ifPresent(s -> {
                    fail(s, MISSING);
                    sessions.save(s);
                    events.publish("restore.failed", "restore", s.id(), "restore session '" + s.name()
                            + "' is FAILED: " + s.error(), null);
                }));
    }

    /**
     * Records a session the agent of {@code node} holds, as it reports it; a session recorded
     * already is left as it is.
     *
     * @param found true: found on the agent by a reconciliation; false: just opened by this service
     */
    void adopt(String node, AgentRestore r, boolean found) {
        synchronized (adopting) {
            tx.executeWithoutResult(status -> {
                if (sessions.existsById(r.id())) {
                    return;
                }
                RestoreSession s = sessions.save(adopted(node, r));
                String what = "restore session '" + s.name() + "'"
                        + (s.snapshotId() == null ? " of " + s.imagePath() : " of snapshot " + s.snapshotId());
                if (found) {
                    log.info("{} ({}) on node {} was not recorded: adopted as {}", what, s.id(), node, s.state());
                    events.publish("restore.adopted", "restore", s.id(), what + " was found on the agent of node "
                            + node + " and adopted (" + s.state() + ")", snapshotData(s));
                } else {
                    log.info("{} ({}): hand memory over at {}", what, s.id(), s.socket());
                    events.publish("restore.created", "restore", s.id(), what + " is waiting for a workload at "
                            + s.socket(), snapshotData(s));
                }
            });
        }
    }

    private static Map<String, Object> snapshotData(RestoreSession s) {
        return s.snapshotId() == null ? Map.of("image", s.imagePath())
                : Map.of("snapshotId", s.snapshotId().toString(), "image", s.imagePath());
    }

    private void closeEnded(String node, RestoreSession s, Consumer<UUID> closeOnAgent) {
        try {
            closeOnAgent.accept(s.id());
            log.info("restore session {} is {} here but was still open on node {}: closed there", s.id(), s.state(),
                    node);
        } catch (AgentException e) {
            if (!"NOT_FOUND".equals(e.code())) {
                // CONFLICT while a region of it is still being restored: tried again next time
                log.debug("closing ended restore session {} on node {} failed: {}", s.id(), node, e.getMessage());
            }
        }
    }

    private static boolean fail(RestoreSession s, String reason) {
        s.fail(reason);
        return true;
    }

    private static RestoreState state(AgentRestore r) {
        try {
            return RestoreState.valueOf(r.state());
        } catch (IllegalArgumentException | NullPointerException e) {
            return RestoreState.FAILED;
        }
    }

    private RestoreSession adopted(String node, AgentRestore r) {
        RestoreState state = state(r);
        String error = r.error();
        if (state == RestoreState.FAILED && error == null) {
            error = "the agent reports the state " + r.state();
        }
        String name = r.name() == null || r.name().isEmpty() ? "restore" : r.name();
        AgentRestore.Options options = r.options();
        return RestoreSession.adopted(r.id(), node, name.length() > 127 ? name.substring(0, 127) : name,
                r.labels() == null ? Map.of() : r.labels(), r.snapshotId(),
                r.image() == null || r.image().path() == null ? "" : r.image().path(),
                r.image() == null ? 0 : r.image().size(), r.socket(),
                options == null ? 16 : options.faultAroundPages(), options == null ? 1000 : options.populateDelayMs(),
                options == null || options.workingSet() == null ? "auto" : options.workingSet(), state, error,
                r.createdAt() == null ? clock.instant() : r.createdAt());
    }
}
