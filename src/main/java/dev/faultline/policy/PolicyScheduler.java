package dev.faultline.policy;

import dev.faultline.snapshot.RegionDirectory;
import dev.faultline.snapshot.RegionInfo;
import dev.faultline.snapshot.SnapshotService;
import dev.faultline.snapshot.SnapshotService.PolicyTake;
import dev.faultline.snapshot.SnapshotService.PolicyTakeOutcome;
import java.time.Clock;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Runs due policies and prunes by their retention. Each {@link #tick()} looks at every unpaused
 * policy: if a fire time has passed since the last one run (or since the policy was created,
 * resumed or rescheduled), it claims the latest such time and, in the same transaction, starts
 * a snapshot of each matching ATTACHED region and records what it did. Missed fire times (the
 * service was down) collapse into that one run, never a backlog. The claim is a compare-and-set
 * on the policy's last fire time, so a fire time runs once however many ticks, restarts or
 * service instances see it; a crash before the commit leaves it unclaimed for the next tick.
 * After a run, the policy's retention prunes its snapshots.
 */
@Component
class PolicyScheduler {

    private static final Logger log = LoggerFactory.getLogger(PolicyScheduler.class);

    private final SnapshotPolicyRepository policies;
    private final PolicyRunRepository runs;
    private final PolicyService service;
    private final SnapshotService snapshots;
    private final RegionDirectory regions;
    private final Clock clock;
    private final TransactionTemplate tx;

    PolicyScheduler(SnapshotPolicyRepository policies, PolicyRunRepository runs, PolicyService service,
            SnapshotService snapshots, RegionDirectory regions, Clock clock, PlatformTransactionManager transactions) {
        this.policies = policies;
        this.runs = runs;
        this.service = service;
        this.snapshots = snapshots;
        this.regions = regions;
        this.clock = clock;
        this.tx = new TransactionTemplate(transactions);
    }

    /** One pass over all policies; called every {@code faultline.snapshots.scheduler.interval}, and by tests. */
    void tick() {
        Instant now = clock.instant();
        List<SnapshotPolicy> unpaused = tx.execute(status -> policies.findByPausedFalse());
        for (SnapshotPolicy policy : unpaused) {
            try {
                if (runIfDue(policy, now)) {
                    prune(policy, now);
                }
            } catch (RuntimeException e) {
                log.warn("snapshot policy '{}' could not run; it is tried again at the next tick", policy.name(), e);
            }
        }
    }

    /** Returns true when this call claimed a fire time and started its snapshots. */
    private boolean runIfDue(SnapshotPolicy policy, Instant now) {
        Optional<Instant> due = policy.parsedSchedule().latestFireTime(policy.dueAfter(), now);
        if (due.isEmpty()) {
            return false;
        }
        List<RegionInfo> matching = regions.select(policy.parsedSelector()).stream().filter(RegionInfo::attached)
                .sorted(Comparator.comparing(RegionInfo::name).thenComparing(RegionInfo::id)).toList();
        return Boolean.TRUE.equals(tx.execute(status -> claimAndStart(policy, due.get(), matching, now)));
    }

    private boolean claimAndStart(SnapshotPolicy policy, Instant fireTime, List<RegionInfo> matching, Instant now) {
        int claimed = policy.lastFireTime() == null
                ? policies.claimFirstFire(policy.id(), policy.version(), fireTime)
                : policies.claimNextFire(policy.id(), policy.version(), policy.lastFireTime(), fireTime);
        if (claimed == 0) {
            return false; // another tick or instance ran it, or the policy changed since it was read
        }
        if (matching.isEmpty()) {
            runs.save(new PolicyRun(policy.id(), fireTime, null, null, null, null,
                    "no ATTACHED region matches the selector", now));
        }
        int started = 0;
        for (RegionInfo region : matching) {
            PolicyTakeOutcome outcome = snapshots.takeForPolicy(new PolicyTake(region, policy.id(), policy.name(),
                    policy.fullEvery(), policy.requireQuiesce()));
            runs.save(new PolicyRun(policy.id(), fireTime, region.id(), region.name(), outcome.snapshotId(),
                    outcome.kind(), outcome.skippedReason(), now));
            started += outcome.snapshotId() == null ? 0 : 1;
        }
        log.info("snapshot policy '{}' ran for {}: {} snapshot(s) started, {} region(s) skipped", policy.name(),
                fireTime, started, matching.size() - started);
        return true;
    }

    /** Prunes newest first, so a parent can go in the same pass as its last dependent. */
    private void prune(SnapshotPolicy policy, Instant now) {
        String requestedBy = "policy:" + policy.name();
        snapshots.resumeDeletions(policy.id(), requestedBy);
        for (PolicyPreview.RetentionItem item : service.retentionPlan(policy, now)) {
            if (item.decision() == Retention.Decision.PRUNE) {
                snapshots.prune(item.snapshotId(), requestedBy).ifPresent(why -> log.info(
                        "snapshot policy '{}' keeps snapshot {} that its retention would prune: {}", policy.name(),
                        item.snapshotId(), why));
            }
        }
    }
}
