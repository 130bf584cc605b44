package dev.faultline.restore;

import dev.faultline.PageResponse;
import dev.faultline.FaultlineProperties;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.NodeAgents;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentProperties;
import dev.faultline.agent.AgentRestore;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.OwedFullReads;
import dev.faultline.event.EventService;
import dev.faultline.node.NodeService;
import dev.faultline.node.NodeView;
import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.OptimisticLockingFailureException;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Service;
import org.springframework.data.domain.Pageable;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Lazy-restore sessions on the agents of this instance's nodes. A session for a node another
 * instance manages is recorded REQUESTED; that instance claims it within faultline.nodes.request-poll-interval (its
 * {@link #openRequested()} poller, FOR UPDATE SKIP LOCKED), checks the image on its host and
 * has its agent open the socket, and the requesting call waits for that a few seconds.
 */
@Service
public class RestoreService {

    private static final Logger log = LoggerFactory.getLogger(RestoreService.class);

    /** How often a close is recorded again after meeting a concurrent update. */
    private static final int CLOSE_ATTEMPTS = 5;

    private final RestoreRepository sessions;
    private final NodeAgents agents;
    private final Clock clock;
    private final List<Path> imageDirs;
    private final TransactionTemplate tx;
    private final EventService events;
    private final Map<UUID, AgentRestore> live = new ConcurrentHashMap<>();
    /**
     * Sessions this service is opening or closing on an agent right now: the reconciliation leaves
     * them alone (it would adopt one not recorded yet, or fail one the agent has just closed).
     */
    private final Set<UUID> busy = ConcurrentHashMap.newKeySet();
    private final OwedFullReads owed = new OwedFullReads();
    private final RestoreReconciler reconciler;
    private final NodeService nodes;
    /** How long a request for another instance's node waits for that instance to open the session. */
    private final Duration requestWait;

    RestoreService(RestoreRepository sessions, NodeAgents agents, Clock clock, FaultlineProperties faultline,
            AgentProperties agentProperties, TransactionTemplate tx, EventService events, NodeService nodes,
            RestoreReconciler reconciler) {
        this.nodes = nodes;
        this.reconciler = reconciler;
        this.requestWait = agentProperties.requestTimeout().multipliedBy(2).plusSeconds(1);
        this.sessions = sessions;
        this.events = events;
        this.agents = agents;
        this.clock = clock;
        this.imageDirs = agentProperties.imageDirs(faultline.dataDir());
        this.tx = tx;
    }

    /** @param node the node whose agent serves the session; null: this instance's primary node */
    record Options(String node, String name, Map<String, String> labels, String image, int faultAroundPages,
            long populateDelayMs, String workingSet, String mode) {
    }

    /**
     * Checks the image, records the session, and has the agent open its handoff socket; for a node
     * another instance manages, records the request and waits for that instance (a view still
     * REQUESTED when it did not answer in time).
     */
    public RestoreView create(Options options) {
        if (options.node() != null && agents.node(options.node()).isEmpty()) {
            return request(options);
        }
        Path image = checkImage(options.image());
        long size;
        try {
            size = Files.size(image);
        } catch (IOException e) {
            throw new DomainException(Problem.UNPROCESSABLE, "cannot read image " + image + ": " + e.getMessage());
        }
        if (size == 0) {
            throw new DomainException(Problem.UNPROCESSABLE, "image " + image + " is empty");
        }
        AgentClient agent = options.node() == null ? agents.local() : agents.node(options.node()).orElseThrow(() ->
                new DomainException(Problem.UNPROCESSABLE, "node '" + options.node() + "' is not managed by this service instance"));
        if (agent.status().state() != AgentState.READY) {
            throw new DomainException(Problem.AGENT_UNAVAILABLE, "the agent of node " + agent.node() + " is "
                    + agent.status().state());
        }
        // Saved only once the agent has opened the session: a sync running in between must never
        // find a session in the database that the agent does not have yet.
        RestoreSession session = new RestoreSession(agent.node(), options.name(), options.labels(), image.toString(), size,
                options.faultAroundPages(), options.populateDelayMs(), options.workingSet(), options.mode(),
                clock.instant());
        AgentRestore created;
        RestoreSession saved;
        busy.add(session.id());
        try {
            try {
                created = agent.createRestore(new AgentRestore.CreateRequest(session.id(), options.name(),
                        options.labels(), image.toString(), 0, options.faultAroundPages(), options.populateDelayMs(),
                        options.workingSet(), options.mode()));
            } catch (AgentException e) {
                // nothing was created: the caller gets the agent's reason, and the database no row
                throw translate(e, "create the restore session");
            }
            session.opened(created.socket());
            try {
                // the row and its event in one transaction: one commit per session, not two, and
                // the event exists exactly when the session does
                saved = tx.execute(status -> {
                    RestoreSession s = sessions.save(session);
                    events.publish("restore.created", "restore", s.id(), "restore session '" + s.name() + "' of "
                            + image + " is waiting for a workload at " + created.socket(),
                            Map.of("image", image.toString(), "size", size));
                    return s;
                });
            } catch (RuntimeException e) {
                // a session the database does not know could never be listed nor deleted: close it
                closeUnrecorded(agent, session.id(), e);
                throw e;
            }
        } finally {
            busy.remove(session.id());
        }
        live.put(saved.id(), created);
        log.info("restore session {} '{}' of {} ({} bytes): hand memory over at {}", saved.id(), saved.name(),
                image, size, created.socket());
        return view(saved);
    }

    /**
     * Records a session the agent of {@code node} opened for this service by other means than
     * {@link #create} (a snapshot's restore, {@code snapshot_restore}), as the agent reports it.
     * When it cannot be recorded the agent's session is closed again.
     *
     * @param node null: this instance's primary node
     */
    public void recordOpened(String node, UUID id) {
        AgentClient agent = node == null ? agents.local() : agents.node(node).orElseThrow(() ->
                new DomainException(Problem.UNPROCESSABLE, "node '" + node + "' is not managed by this service instance"));
        AgentRestore reported;
        try {
            reported = agent.restore(id);
        } catch (AgentException e) {
            // left to the next reconciliation, which adopts it if the agent still has it
            throw translate(e, "report the restore session " + id + " it opened");
        }
        try {
            reconciler.adopt(agent.node(), reported, false);
        } catch (RuntimeException e) {
            closeUnrecorded(agent, id, e);
            throw e;
        }
        live.put(id, reported);
    }

    private static void closeUnrecorded(AgentClient agent, UUID id, RuntimeException cause) {
        try {
            agent.deleteRestore(id);
            log.warn("restore session {} could not be recorded, so its agent session was closed again", id, cause);
        } catch (AgentException e) {
            cause.addSuppressed(e);
            log.error("restore session {} could not be recorded, and closing it on node {} failed too: {}", id,
                    agent.node(), e.getMessage(), cause);
        }
    }

    private RestoreView request(Options options) {
        NodeView node = nodes.find(options.node()).orElseThrow(() -> new DomainException(Problem.UNPROCESSABLE,
                "node '" + options.node() + "' is not known: no service instance has reported it (GET /api/v1/nodes)"));
        if (node.state() != NodeView.State.UP) {
            throw new DomainException(Problem.AGENT_UNAVAILABLE, "node " + node.name() + " is DOWN (its instance last"
                    + " reported at " + node.lastHeartbeat() + ")");
        }
        if (!imagePath(options.image()).isAbsolute()) {
            throw new DomainException(Problem.VALIDATION, "image must be an absolute path, not '" + options.image() + "'");
        }
        RestoreSession saved = sessions.save(RestoreSession.requested(node.name(), options.name(), options.labels(),
                options.image(), options.faultAroundPages(), options.populateDelayMs(), options.workingSet(),
                options.mode(), clock.instant()));
        log.info("restore session {} '{}' requested for node {}, which another instance manages", saved.id(),
                saved.name(), node.name());
        long deadline = System.nanoTime() + requestWait.toNanos();
        RestoreSession current = saved;
        while (current.state() == RestoreState.REQUESTED && System.nanoTime() < deadline) {
            LockSupport.parkNanos(Duration.ofMillis(50).toNanos());
            current = sessions.findById(saved.id()).orElse(current);
        }
        if (current.state() == RestoreState.FAILED) {
            throw new DomainException(Problem.UNPROCESSABLE, "node " + node.name() + " could not open the restore"
                    + " session: " + current.error());
        }
        return view(current);
    }

    /** Opens the sessions requested through other instances for this instance's nodes. */
    @Scheduled(fixedDelayString = "${faultline.nodes.request-poll-interval:5s}",
            initialDelayString = "${faultline.nodes.request-poll-interval:5s}")
    public void openRequested() {
        List<String> mine = agents.all().stream().map(AgentClient::node).collect(Collectors.toList());
        tx.executeWithoutResult(status -> {
            for (RestoreSession session : sessions.claimRequested(mine)) {
                openRequested(session);
                sessions.save(session);
            }
        });
    }

    /** In the claiming transaction: the row stays locked while the agent opens the socket. */
    private void openRequested(RestoreSession session) {
        AgentClient agent = agents.node(session.node()).orElseThrow();
        try {
            Path image = checkImage(session.imagePath());
            long size = Files.size(image);
            if (size == 0) {
                throw new DomainException(Problem.UNPROCESSABLE, "image " + image + " is empty");
            }
            AgentRestore created = agent.createRestore(new AgentRestore.CreateRequest(session.id(), session.name(),
                    session.labels(), image.toString(), 0, session.faultAroundPages(), session.populateDelayMs(),
                    session.workingSet(), session.mode()));
            session.openedAsRequested(image.toString(), size, created.socket());
            live.put(session.id(), created);
            log.info("restore session {} '{}' requested through another instance: hand memory over at {}",
                    session.id(), session.name(), created.socket());
            events.publish("restore.created", "restore", session.id(), "restore session '" + session.name() + "' of "
                    + image + " is waiting for a workload at " + created.socket(),
                    Map.of("image", image.toString(), "size", size));
        } catch (DomainException | AgentException | IOException e) {
            String reason = e instanceof AgentException ? "the agent refused the session: " + e.getMessage()
                    : e.getMessage();
            session.fail(reason);
            events.publish("restore.failed", "restore", session.id(), "restore session '" + session.name()
                    + "' is FAILED: " + reason, null);
        }
    }

    /** One page of the sessions that match, read and counted by the database. */
    @Transactional(readOnly = true)
    public PageResponse<RestoreView> list(RestoreFilter filter, Pageable page) {
        return PageResponse.of(sessions.findAll(filter.specification(), page), this::view);
    }

    @Transactional(readOnly = true)
    public RestoreView get(UUID id) {
        return view(sessions.findById(id).orElseThrow(() -> DomainException.notFound("restore session", id)));
    }

    /** Closes the session's socket. Refused while a region is attached and not fully populated. */
    public void delete(UUID id) {
        RestoreSession session = sessions.findById(id).orElseThrow(() -> DomainException.notFound("restore session", id));
        Optional<AgentClient> agent = agents.node(session.node());
        if (agent.isEmpty() && !session.state().isFinal()) {
            throw new DomainException(Problem.CONFLICT, "restore session " + id + " is on node " + session.node()
                    + ", which another service instance manages");
        }
        busy.add(id);
        try {
            // a FAILED session may still hold its socket (and its open images) on the agent
            if (agent.isPresent() && session.state() != RestoreState.CLOSED) {
                try {
                    agent.get().deleteRestore(id);
                } catch (AgentException e) {
                    if (session.state() == RestoreState.FAILED) {
                        // recorded CLOSED below: the reconciliation closes it on the agent once it can
                        log.info("restore session {} is closed; its agent will be told when it can: {}", id,
                                e.getMessage());
                    } else if (!"NOT_FOUND".equals(e.code())) {
                        throw translate(e, "close the restore session");
                    }
                }
            }
            recordClosed(id);
        } finally {
            busy.remove(id);
        }
        live.remove(id);
        events.publish("restore.closed", "restore", id, "restore session '" + session.name() + "' closed", null);
    }

    /**
     * Records the session CLOSED. It is read again in the transaction (a reconciliation may have
     * changed it while the agent closed it), and read and written again when an update by the
     * agent's change events commits between the read and the write (the optimistic lock): that
     * update (statistics, a workload that exited) does not change the outcome.
     */
    private void recordClosed(UUID id) {
        for (int attempt = 1;; attempt++) {
            try {
                tx.executeWithoutResult(status -> {
                    RestoreSession current = sessions.findById(id).orElseThrow(() ->
                            DomainException.notFound("restore session", id));
                    current.close(clock.instant());
                    sessions.save(current);
                });
                return;
            } catch (OptimisticLockingFailureException e) {
                if (attempt == CLOSE_ATTEMPTS) {
                    throw e;
                }
                log.debug("restore session {} changed while it was closed; recording it again", id);
            }
        }
    }

    /** Whether a full read of {@code node}'s sessions failed and is owed (the next sync does it). */
    boolean owesFullRead(String node) {
        return owed.owed(node);
    }

    /** Converges on every node's sessions; a session a READY agent no longer knows has FAILED. */
    public void sync() {
        for (AgentClient agent : agents.all()) {
            if (agent.status().state() == AgentState.READY) {
                sync(agent);
            }
        }
    }

    /** One node's sessions, read in full (its agent (re)connected, lost events, or is polled). */
    void sync(AgentClient agent) {
        List<AgentRestore> reported;
        try {
            reported = agent.restores();
        } catch (AgentException e) {
            if (owed.failed(agent.node())) {
                log.info("reading the restore sessions of node {} failed, read again at the next sync: {}",
                        agent.node(), e.getMessage());
            }
            return;
        }
        owed.done(agent.node());
        Set<UUID> observed = reconciler.reconcile(agent.node(), reported, busy, agent::deleteRestore);
        observed.forEach(live::remove);
        for (AgentRestore r : reported) {
            if (r.id() != null) {
                live.put(r.id(), r);
            }
        }
    }

    /**
     * One session as its agent reports it now: a change event named it. A session the agent
     * no longer has is left to whoever deleted it (this service's delete, racing with this
     * event, would otherwise find the row changed under it) and to the next full read.
     */
    void refresh(AgentClient agent, UUID id) {
        AgentRestore r;
        try {
            r = agent.restore(id);
        } catch (AgentException e) {
            if ("NOT_FOUND".equals(e.code())) {
                live.remove(id);
            } else {
                // the change it announced would be lost: a full read of the node makes up for it
                log.debug("restore session {} not refreshed, its node is read in full at the next sync: {}", id,
                        e.getMessage());
                owed.failed(agent.node());
            }
            return;
        }
        reconciler.observe(agent.node(), r, busy);
        live.put(id, r);
    }

    /**
     * The agent deleted the session: its live view goes. Deleted by this service, the row is
     * its delete's to close; deleted behind the service's back, the session has FAILED, as a
     * full read would find.
     */
    void forget(AgentClient agent, UUID id) {
        live.remove(id);
        reconciler.lost(agent.node(), id, busy);
    }

    /** The image as a path; a string that is none (a NUL character, say) is the caller's error. */
    private static Path imagePath(String image) {
        try {
            return Path.of(image);
        } catch (InvalidPathException e) {
            throw new DomainException(Problem.VALIDATION, "image is not a valid path: " + e.getReason());
        }
    }

    private Path checkImage(String image) {
        Path path = imagePath(image);
        if (!path.isAbsolute()) {
            throw new DomainException(Problem.VALIDATION, "image must be an absolute path, not '" + image + "'");
        }
        Path real;
        try {
            real = path.toRealPath();
        } catch (NoSuchFileException e) {
            throw new DomainException(Problem.UNPROCESSABLE, "image " + path + " does not exist");
        } catch (IOException e) {
            throw new DomainException(Problem.UNPROCESSABLE, "cannot resolve image " + path + ": " + e.getMessage());
        }
        boolean allowed = imageDirs.stream().anyMatch(dir -> {
            try {
                return real.startsWith(dir.toRealPath());
            } catch (IOException e) {
                return false;
            }
        });
        if (!allowed) {
            throw new DomainException(Problem.IMAGE_NOT_ALLOWED, "image " + real + " is outside the allowed directories "
                    + imageDirs + " (faultline.agent.image-dirs)");
        }
        if (!Files.isRegularFile(real) || !Files.isReadable(real)) {
            throw new DomainException(Problem.UNPROCESSABLE, "image " + real + " is not a readable regular file");
        }
        return real;
    }

    private static DomainException translate(AgentException e, String what) {
        Problem kind = switch (e.code()) {
            case AgentException.UNAVAILABLE, AgentException.TIMEOUT -> Problem.AGENT_UNAVAILABLE;
            case "PERMISSION_DENIED" -> Problem.IMAGE_NOT_ALLOWED;
            case "BAD_REQUEST" -> Problem.UNPROCESSABLE;
            case "CONFLICT" -> Problem.CONFLICT;
            case "NOT_FOUND" -> Problem.NOT_FOUND;
            default -> Problem.AGENT_ERROR;
        };
        return new DomainException(kind, "the agent could not " + what + ": " + e.getMessage(), e);
    }

    private RestoreView view(RestoreSession s) {
        AgentRestore r = s.state().isFinal() ? null : live.get(s.id());
        Double progress = r == null || r.pages() == null || r.pages().total() == 0 ? null
                : (double) r.pages().present() / r.pages().total();
        return new RestoreView(s.id(), s.node(), s.name(), Map.copyOf(s.labels()),
                new RestoreView.Image(s.imagePath(), s.imageSize()), s.snapshotId(), s.socket(), s.state(), s.createdAt(), s.closedAt(),
                new RestoreView.Options(s.faultAroundPages(), s.populateDelayMs(), s.workingSet(), s.mode()),
                r == null || r.regions() == null ? List.of() : r.regions(), r == null ? null : r.source(),
                r == null || r.pages() == null ? null : new RestoreView.Pages(r.pages().total(), r.pages().present()),
                progress, r == null || r.workingSet() == null ? null : new RestoreView.WorkingSet(r.workingSet().mode(),
                        r.workingSet().file(), r.workingSet().recordedPages(), r.workingSet().replayedPages()),
                r == null ? null : clones(r.cloneUsage()), s.error(), r == null ? null : timing(r.timing()));
    }

    private static RestoreView.Timing timing(AgentRestore.Timing t) {
        return t == null ? null : new RestoreView.Timing(t.registeredMs(), t.firstFaultMs(), t.completeMs());
    }

    private static RestoreView.Clones clones(AgentRestore.Clone c) {
        if (c == null) {
            return null;
        }
        AgentRestore.SharedCopy copy = c.sharedCopy();
        List<RestoreView.Clone> each = c.clones() == null ? List.of() : c.clones().stream()
                .map(u -> new RestoreView.Clone(u.region(), u.pid(), u.sharedBytes(), u.privateBytes(), u.pssBytes()))
                .toList();
        return new RestoreView.Clones(copy == null ? 0 : copy.bytes(), copy == null ? 0 : copy.residentBytes(),
                c.privateBytes(), c.pssBytes(), each);
    }
}
