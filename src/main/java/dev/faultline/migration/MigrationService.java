package dev.faultline.migration;

import dev.faultline.event.EventService;
import dev.faultline.DomainException;
import dev.faultline.security.SecretBox;
import dev.faultline.PageResponse;
import dev.faultline.Problem;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.data.jpa.domain.Specification;
import org.springframework.stereotype.Service;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Migration jobs as the API sees them: creating one (checked against the region and the nodes,
 * one active job per region), listing, and the operator's actions, which the job's state machine
 * admits or refuses before any agent is asked.
 */
@Service
class MigrationService {

    private static final Logger log = LoggerFactory.getLogger(MigrationService.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Seals the job secret before it is stored: the database never holds it readable. */
    private final SecretBox secrets;
    private final MigrationRepository jobs;
    private final MigrationEngine engine;
    private final MigrationDirectory directory;
    private final MigrationDriver driver;
    private final Clock clock;
    private final TransactionTemplate tx;
    private final EventService events;

    MigrationService(MigrationRepository jobs, MigrationEngine engine, MigrationDirectory directory,
            MigrationDriver driver, Clock clock, PlatformTransactionManager transactions, EventService events,
            SecretBox secrets) {
        this.secrets = secrets;
        this.jobs = jobs;
        this.engine = engine;
        this.directory = directory;
        this.driver = driver;
        this.clock = clock;
        this.tx = new TransactionTemplate(transactions);
        this.events = events;
    }

    /** Checks the request and records the job in PENDING; the driver sets it up on both agents. */
    MigrationView create(UUID regionId, String destinationNode, MigrationOptions options, String requestedBy) {
        MigrationDirectory.Region region = directory.region(regionId)
                .orElseThrow(() -> DomainException.notFound("region", regionId));
        MigrationDirectory.Node destination = directory.node(destinationNode)
                .orElseThrow(() -> DomainException.notFound("node", destinationNode));
        if (!region.attached()) {
            throw new DomainException(Problem.UNPROCESSABLE, "region " + regionId + " '" + region.name()
                    + "' is not attached to an agent: only a region a workload has registered can migrate");
        }
        if (destination.name().equals(region.node())) {
            throw new DomainException(Problem.UNPROCESSABLE, "region " + regionId + " '" + region.name()
                    + "' is already on node " + region.node() + ": destinationNode must be another node");
        }
        if (!destination.up()) {
            throw new DomainException(Problem.UNPROCESSABLE, "destination node " + destination.name()
                    + " is DOWN (its service instance stopped reporting); choose a node that is UP");
        }
        boolean sourceUp = directory.node(region.node()).map(MigrationDirectory.Node::up).orElse(false);
        if (!sourceUp) {
            throw new DomainException(Problem.UNPROCESSABLE, "source node " + region.node() + " of region " + regionId
                    + " is DOWN; a migration needs both agents");
        }
        if (options.bandwidthLimitBytesPerSec() > 0 && options.bandwidthLimitBytesPerSec() < region.pageSize()) {
            throw new DomainException(Problem.UNPROCESSABLE, "options.bandwidthLimitBytesPerSec must be 0 (unlimited)"
                    + " or at least one page (" + region.pageSize() + " bytes) per second");
        }
        jobs.findByActiveRegionId(regionId).ifPresent(active -> {
            throw inProgress(regionId, active);
        });
        Migration job = new Migration(regionId, region.name(), region.length(), region.node(), destination.name(),
                options, secrets.seal(newSecret()), requestedBy, clock.instant());
        Migration saved;
        try {
            saved = tx.execute(status -> {
                Migration s = jobs.saveAndFlush(job);
                events.publish("migration.phase", "migration", s.id(), "migration of region '" + s.regionName()
                        + "' from " + s.sourceNode() + " to " + s.destinationNode() + " requested by " + requestedBy,
                        Map.of("regionId", regionId.toString(), "regionName", s.regionName(), "sourceNode",
                                s.sourceNode(), "destinationNode", s.destinationNode(), "phase", "PENDING"));
                return s;
            });
        } catch (DataIntegrityViolationException race) {
            throw jobs.findByActiveRegionId(regionId).map(active -> inProgress(regionId, active))
                    .orElseThrow(() -> race);
        }
        log.info("migration {} of region {} '{}' requested by {}: {} -> {}, {}", saved.id(), regionId, region.name(),
                requestedBy, region.node(), destination.name(), options);
        driver.kick(saved.id());
        return view(saved);
    }

    PageResponse<MigrationView> list(MigrationPhase phase, UUID regionId, int page, int size) {
        Specification<Migration> filter = (root, query, cb) -> {
            var where = new java.util.ArrayList<jakarta.persistence.criteria.Predicate>();
            if (phase != null) {
                where.add(cb.equal(root.get("phase"), phase));
            }
            if (regionId != null) {
                where.add(cb.equal(root.get("regionId"), regionId));
            }
            return cb.and(where.toArray(jakarta.persistence.criteria.Predicate[]::new));
        };
        Sort newestFirst = Sort.by(Sort.Order.desc("createdAt"), Sort.Order.asc("id"));
        return tx.execute(status -> PageResponse.of(jobs.findAll(filter, PageRequest.of(page, size, newestFirst)),
                this::view));
    }

    MigrationView get(UUID id) {
        return view(load(id));
    }

    /** Switch over now; the source holds its writers and the destination takes over. */
    MigrationView startPostcopy(UUID id) {
        return driver.withJob(id, () -> {
            Migration job = current(id);
            job.requireStartPostcopy();
            MigrationEngine.Side side = agent(() -> engine.switchover(managed(job.sourceNode(), "switch over"), id),
                    "switch over");
            driver.apply(id, side, null);
            return get(id);
        });
    }

    MigrationView pause(UUID id) {
        return driver.withJob(id, () -> {
            Migration job = current(id);
            job.requirePausable();
            boolean atSource = engine.manages(job.sourceNode());
            String node = atSource ? job.sourceNode() : managed(job.destinationNode(), "pause");
            MigrationEngine.Side side = agent(() -> engine.pause(node, id), "pause");
            driver.apply(id, atSource ? side : null, atSource ? null : side);
            return get(id);
        });
    }

    /** Resume where it stopped: both sides try again at once (they also retry on their own, with backoff). */
    MigrationView resume(UUID id) {
        return driver.withJob(id, () -> {
            Migration job = current(id);
            job.requireResumable();
            boolean source = engine.manages(job.sourceNode());
            boolean destination = engine.manages(job.destinationNode());
            if (!source && !destination) {
                managed(job.sourceNode(), "resume");
            }
            // the secret too: an agent that restarted since has the job back without it
            String secret = secrets.open(job.secret());
            MigrationEngine.Side d = destination
                    ? agent(() -> engine.resume(job.destinationNode(), id, null, secret), "resume") : null;
            MigrationEngine.Side s = source
                    ? agent(() -> engine.resume(job.sourceNode(), id, null, secret), "resume") : null;
            driver.apply(id, s, d);
            return get(id);
        });
    }

    /** Before switchover only: the source region stays untouched and writable, the destination drops its copy. */
    MigrationView cancel(UUID id) {
        return driver.withJob(id, () -> {
            Migration job = load(id);
            job.requireCancellable();
            if (engine.manages(job.sourceNode())) {
                try {
                    engine.cancel(job.sourceNode(), id);
                } catch (MigrationEngineException e) {
                    if (e.reason() == MigrationEngineException.Reason.CONFLICT) {
                        throw new DomainException(Problem.MIGRATION_PAST_SWITCHOVER, "migration " + id
                                + " switched over meanwhile, so it can no longer be cancelled: " + e.getMessage());
                    }
                    if (e.reason() != MigrationEngineException.Reason.NOT_FOUND) {
                        throw translate(e, "cancel");
                    }
                }
            } else if (job.phase() != MigrationPhase.PENDING) {
                managed(job.sourceNode(), "cancel");
            }
            if (engine.manages(job.destinationNode())) {
                try {
                    engine.cancel(job.destinationNode(), id);
                } catch (MigrationEngineException e) {
                    if (e.reason() != MigrationEngineException.Reason.NOT_FOUND) {
                        log.warn("migration {}: the destination could not cancel ({}); it is told again when the job"
                                + " is forgotten", id, e.getMessage());
                    }
                }
            }
            tx.executeWithoutResult(status -> {
                Migration j = load(id);
                MigrationPhase before = j.phase();
                j.cancel(clock.instant());
                jobs.save(j);
                driver.publishPhase(j, before, null);
            });
            return get(id);
        });
    }

    /** The job as its agents report it now (see MigrationDriver.refresh). */
    private Migration current(UUID id) {
        driver.refresh(id);
        return load(id);
    }

    private Migration load(UUID id) {
        return tx.execute(status -> jobs.findById(id).orElseThrow(() -> DomainException.notFound("migration", id)));
    }

    private MigrationView view(Migration job) {
        return job.view(driver.live(job.id()).orElse(null));
    }

    private String managed(String node, String action) {
        if (!engine.manages(node)) {
            throw new DomainException(Problem.CONFLICT, "cannot " + action + " here: node " + node
                    + " is managed by another service instance; send the request to that instance");
        }
        return node;
    }

    private static MigrationEngine.Side agent(Supplier<MigrationEngine.Side> call, String action) {
        try {
            return call.get();
        } catch (MigrationEngineException e) {
            throw translate(e, action);
        }
    }

    private static DomainException translate(MigrationEngineException e, String action) {
        Problem kind = switch (e.reason()) {
            case UNAVAILABLE -> Problem.AGENT_UNAVAILABLE;
            case CONFLICT -> Problem.MIGRATION_WRONG_PHASE;
            case NOT_MANAGED -> Problem.CONFLICT;
            default -> Problem.AGENT_ERROR;
        };
        return new DomainException(kind, "could not " + action + ": " + e.getMessage(), e);
    }

    private static DomainException inProgress(UUID regionId, Migration active) {
        return new DomainException(Problem.MIGRATION_IN_PROGRESS, "region " + regionId + " is already being migrated"
                + " by job " + active.id() + " (" + active.phase() + " to " + active.destinationNode()
                + "); one active migration per region");
    }

    /** 32 random bytes as 64 hex characters: the page channel's one-time key for this job. */
    private static String newSecret() {
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        return HexFormat.of().formatHex(secret);
    }
}
