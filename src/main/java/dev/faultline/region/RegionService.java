package dev.faultline.region;

import dev.faultline.agent.AgentChangeListener;
import dev.faultline.agent.AgentChangeListener.RegionChange;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.NodeAgents;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.OwedFullReads;
import dev.faultline.event.EventService;
import dev.faultline.label.LabelSelector;
import dev.faultline.label.LabelLimits;
import dev.faultline.label.Labels;
import dev.faultline.DomainException;
import dev.faultline.PageResponse;
import dev.faultline.Problem;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Regions of the nodes this instance manages: converges the database on what their agents report, and carries out
 * the API's changes (labels, detach).
 */
@Service
public class RegionService implements DisposableBean, AgentChangeListener {

    private static final Logger log = LoggerFactory.getLogger(RegionService.class);
    /** Populating a large lazily restored region before release may take a while. */
    private static final Duration DETACH_TIMEOUT = Duration.ofMinutes(10);
    /** Ties broken by id, so that pages neither overlap nor skip a region. */
    private static final Sort NEWEST_FIRST = Sort.by(Sort.Order.desc("attachedAt"), Sort.Order.desc("id"));

    private final RegionRepository regions;
    private final NodeAgents agents;
    private final Clock clock;
    private final TransactionTemplate tx;
    private final EventService events;
    private final Map<UUID, AgentRegion> live = new ConcurrentHashMap<>();
    /** Which node reported a live region (only the sync thread writes it). */
    private final Map<UUID, String> nodeOf = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong fullSyncs = new java.util.concurrent.atomic.AtomicLong();
    private final OwedFullReads owed = new OwedFullReads();
    private final ExecutorService detaches = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "region-detach");
        t.setDaemon(true);
        return t;
    });

    RegionService(RegionRepository regions, NodeAgents agents, Clock clock, TransactionTemplate tx,
            EventService events) {
        this.regions = regions;
        this.events = events;
        this.agents = agents;
        this.clock = clock;
        this.tx = tx;
        agents.all().forEach(agent -> agent.addChangeListener(this));
    }

    /** Full reads of a node's regions since the start (on (re)connect, after a gap, or polled). */
    long fullSyncs() {
        return fullSyncs.get();
    }

    /** The node's agent (re)connected, or lost events: read all its regions. */
    @Override
    public void resync(AgentClient agent) {
        syncNode(agent);
    }

    /**
     * Regions as the agent pushed them. Changes of state go to the database, in one
     * transaction, as a full read would take them; statistics only refresh the live view
     * (they are not stored).
     */
    @Override
    public synchronized void regionsChanged(AgentClient agent, List<RegionChange> changes) {
        if (changes.stream().anyMatch(c -> !c.statisticsOnly())) {
            var now = clock.instant();
            tx.executeWithoutResult(status -> changes.stream().filter(c -> !c.statisticsOnly())
                    .forEach(c -> apply(agent.node(), c.region(), now)));
        }
        for (RegionChange c : changes) {
            nodeOf.put(c.region().id(), agent.node());
            live.put(c.region().id(), c.region());
        }
    }

    @Override
    public long attachedRegions(AgentClient agent) {
        return live.entrySet().stream().filter(e -> agent.node().equals(nodeOf.get(e.getKey()))
                && !"DETACHED".equals(e.getValue().state())).count();
    }

    /**
     * Polls the nodes whose agents push no changes (older agents), and those whose full read
     * failed; the others need no polling.
     */
    public void syncPolled() {
        for (AgentClient agent : agents.all()) {
            if (!agent.pushesChanges() || owed.owed(agent.node())) {
                syncNode(agent);
            }
        }
    }

    /**
     * Reads the regions of every node's agent and converges the database on them. A node whose
     * agent is not READY is skipped: a region is only marked DETACHED when a READY agent no
     * longer has it.
     */
    public void sync() {
        agents.all().forEach(this::syncNode);
    }

    /**
     * One node: its agent's full list, converged. Serialised, because change events of the
     * same node (applied on another thread) must not interleave with a full read.
     */
    private synchronized void syncNode(AgentClient agent) {
        List<AgentRegion> reported = agent.status().state() == AgentState.READY ? read(agent) : null;
        if (reported == null) {
            return; // its regions keep their last known state until its agent answers
        }
        owed.done(agent.node());
        fullSyncs.incrementAndGet();
        Map<UUID, AgentRegion> byId = new HashMap<>();
        reported.forEach(r -> byId.put(r.id(), r));
        tx.executeWithoutResult(status -> converge(agent.node(), byId));
        byId.keySet().forEach(id -> nodeOf.put(id, agent.node()));
        live.keySet().removeIf(id -> agent.node().equals(nodeOf.get(id)) && !byId.containsKey(id));
        live.putAll(byId);
    }

    private List<AgentRegion> read(AgentClient agent) {
        try {
            return agent.regions();
        } catch (AgentException e) {
            if (owed.failed(agent.node())) {
                log.info("reading the regions of node {} failed, read again at the next sync: {}", agent.node(),
                        e.getMessage());
            }
            return null;
        }
    }

    /** Whether a full read of {@code node}'s regions failed and is owed (the next sync does it). */
    boolean owesFullRead(String node) {
        return owed.owed(node);
    }

    private void converge(String node, Map<UUID, AgentRegion> reported) {
        var now = clock.instant();
        for (AgentRegion r : reported.values()) {
            apply(node, r, now);
        }
        for (Region gone : regions.findByNodeAndStateIn(node, EnumSet.of(RegionState.ATTACHED, RegionState.DETACHING))) {
            if (!reported.containsKey(gone.id())) {
                RegionState before = gone.state();
                gone.markDetached(now);
                regions.save(gone);
                log.info("region {} '{}' is no longer held by the agent: DETACHED", gone.id(), gone.name());
                stateEvent(gone, before);
            }
        }
    }

    /** One region as its agent reports it, into the database (in the caller's transaction). */
    private void apply(String node, AgentRegion r, java.time.Instant now) {
        {
            Optional<Region> known = regions.findById(r.id());
            if (known.isEmpty()) {
                Labels.Kept labels = Labels.keep(r.labels());
                regions.save(Region.attached(node, r, labels.labels(), now));
                if (!labels.dropped().isEmpty()) {
                    // the workload named them; the region is still managed, without them
                    log.warn("region {} '{}': {} reported label(s) left out, beyond the label limits: {}", r.id(),
                            r.name(), labels.dropped().size(), labels.dropped());
                    events.publish("region.labels-dropped", "region", r.id(), "region '" + r.name() + "': "
                            + labels.dropped().size() + " label(s) its workload declared were left out (more than "
                            + LabelLimits.MAX_LABELS + " labels, or a key or value beyond Kubernetes' syntax and lengths)",
                            Map.of("count", labels.dropped().size(),
                                    "dropped", labels.dropped().subList(0, Math.min(16, labels.dropped().size()))));
                }
                String backing = r.backing() == null ? "anonymous" : r.backing().kind();
                log.info("region {} '{}' attached ({} bytes, {} backing)", r.id(), r.name(), r.length(), backing);
                events.publish("region.attached", "region", r.id(), "region '" + r.name() + "' attached: "
                        + r.length() + " bytes, " + backing + " backing", Map.of("name", r.name(), "length", r.length(),
                        "backing", backing, "pid", r.owner() == null || r.owner().pid() == null ? 0 : r.owner().pid()));
            } else {
                RegionState before = known.get().state();
                if (known.get().observe(r, now)) {
                    regions.save(known.get());
                    stateEvent(known.get(), before);
                }
            }
        }
    }

    private void stateEvent(Region region, RegionState before) {
        if (region.state() != before) {
            String kind = "region." + region.state().name().toLowerCase(java.util.Locale.ROOT);
            events.publish(kind, "region", region.id(), "region '" + region.name() + "' is " + region.state(),
                    Map.of("name", region.name(), "from", before.name()));
        }
    }

    /** One page, newest first, filtered, paged and counted by the database (label selectors included). */
    @Transactional(readOnly = true)
    public PageResponse<RegionView> list(String selector, RegionState state, int page, int size) {
        LabelSelector filter = parseSelector(selector);
        return PageResponse.of(regions.findAll(RegionQuery.matching(filter, state), PageRequest.of(page, size,
                NEWEST_FIRST)), this::view);
    }

    /** Counts and bytes by the database (one grouped query), faults from the live statistics. */
    @Transactional(readOnly = true)
    public RegionTotals totals() {
        long[] n = new long[RegionState.values().length];
        long bytes = 0;
        for (RegionRepository.StateTotal t : regions.totalsByState()) {
            n[t.getState().ordinal()] = t.getRegions();
            if (t.getState() == RegionState.ATTACHED) {
                bytes = t.getBytes();
            }
        }
        long faults = live.values().stream().filter(r -> "ATTACHED".equals(r.state()) && r.stats() != null
                && r.stats().faults() != null)
                .mapToLong(r -> r.stats().faults().missing() + r.stats().faults().wp() + r.stats().faults().minor())
                .sum();
        return new RegionTotals(java.util.Arrays.stream(n).sum(), n[RegionState.ATTACHED.ordinal()],
                n[RegionState.DETACHING.ordinal()], n[RegionState.DETACHED.ordinal()], bytes, faults);
    }

    /** Every region matching a selector, by name (for policies and bulk actions), selected by the database. */
    @Transactional(readOnly = true)
    public List<RegionView> find(LabelSelector selector, RegionState state) {
        return regions.findAll(RegionQuery.matching(selector, state), Sort.by("name").and(Sort.by("id"))).stream()
                .map(this::view).toList();
    }

    @Transactional(readOnly = true)
    public Optional<RegionView> find(UUID id) {
        return regions.findById(id).map(this::view);
    }

    @Transactional(readOnly = true)
    public RegionView get(UUID id) {
        return find(id).orElseThrow(() -> DomainException.notFound("region", id));
    }

    /**
     * Merges {@code changes} into the labels (a null value removes the label), if the region is
     * still at {@code expectedVersion}.
     */
    @Transactional
    public RegionView relabel(UUID id, long expectedVersion, Map<String, String> changes) {
        Region region = regions.findById(id).orElseThrow(() -> DomainException.notFound("region", id));
        if (region.version() != expectedVersion) {
            throw new DomainException(Problem.PRECONDITION_FAILED, "region " + id + " changed since version "
                    + expectedVersion + " (it is at " + region.version() + "): read it again and retry");
        }
        Map<String, String> merged = new TreeMap<>(region.labels());
        changes.forEach((k, v) -> {
            if (v == null) {
                merged.remove(k);
            } else {
                merged.put(k, v);
            }
        });
        String problem = Labels.problem(merged);
        if (problem != null) {
            throw new DomainException(Problem.VALIDATION, "labels: " + problem);
        }
        region.relabel(merged);
        return view(regions.saveAndFlush(region));
    }

    /**
     * Asks the agent to release the region. With {@code populate} the agent first installs every
     * missing page, so nothing the workload reads later turns into zeros. Returns at once with
     * the region DETACHING; the agent's answer arrives in the background.
     */
    public RegionView detach(UUID id, boolean populate) {
        RegionView current = get(id);
        if (current.state() == RegionState.DETACHED) {
            return current;
        }
        Optional<AgentClient> managed = agents.node(current.node());
        if (managed.isEmpty()) {
            // another instance manages the node: record the request, that instance claims it within its request poll interval
            return tx.execute(status -> {
                Region region = regions.findById(id).orElseThrow(() -> DomainException.notFound("region", id));
                RegionState before = region.state();
                region.requestDetach(populate);
                Region saved = regions.save(region);
                stateEvent(saved, before);
                return view(saved);
            });
        }
        AgentClient agent = managed.get();
        if (agent.status().state() != AgentState.READY) {
            throw new DomainException(Problem.AGENT_UNAVAILABLE, "the agent of node " + current.node() + " is "
                    + agent.status().state() + "; try again when it is READY");
        }
        RegionView detaching = tx.execute(status -> {
            Region region = regions.findById(id).orElseThrow(() -> DomainException.notFound("region", id));
            RegionState before = region.state();
            region.detaching();
            Region saved = regions.save(region);
            stateEvent(saved, before);
            return view(saved);
        });
        detachInBackground(agent, id, populate);
        return detaching;
    }

    /** Carries out the detaches asked through other instances for this instance's nodes. */
    @Scheduled(fixedDelayString = "${faultline.nodes.request-poll-interval:5s}",
            initialDelayString = "${faultline.nodes.request-poll-interval:5s}")
    public void detachRequested() {
        List<String> mine = agents.all().stream().map(AgentClient::node).toList();
        Map<UUID, Boolean> claimed = new HashMap<>();
        List<Region> requested = tx.execute(status -> {
            List<Region> found = regions.claimDetachRequests(mine);
            found.forEach(r -> claimed.put(r.id(), r.takeDetachRequest()));
            return regions.saveAll(found);
        });
        for (Region region : requested) {
            log.info("region {} detach asked through another instance", region.id());
            detachInBackground(agents.node(region.node()).orElseThrow(), region.id(), claimed.get(region.id()));
        }
    }

    private void detachInBackground(AgentClient agent, UUID id, boolean populate) {
        detaches.execute(() -> {
            try {
                agent.detachRegion(id, populate, DETACH_TIMEOUT);
                log.info("region {} detached{}", id, populate ? " after populating it" : "");
            } catch (AgentException e) {
                log.warn("detaching region {} failed: {} ({})", id, e.getMessage(), e.code());
            } finally {
                if (!agent.pushesChanges()) {
                    syncNode(agent); // with events, the agent's DETACHED arrives by itself
                }
            }
        });
    }

    /** The agent's last report of a region, if it still holds it. */
    public Optional<AgentRegion> live(UUID id) {
        return Optional.ofNullable(live.get(id));
    }

    /** Every region the agent reported at the last sync. */
    public Map<UUID, AgentRegion> live() {
        return Map.copyOf(live);
    }

    private RegionView view(Region region) {
        return region.view(region.state() == RegionState.DETACHED ? null : live.get(region.id()));
    }

    private static LabelSelector parseSelector(String selector) {
        try {
            return LabelSelector.parse(selector == null ? "" : selector);
        } catch (IllegalArgumentException e) {
            throw new DomainException(Problem.VALIDATION, "selector: " + e.getMessage());
        }
    }

    @Override
    public void destroy() {
        detaches.shutdownNow();
    }
}
