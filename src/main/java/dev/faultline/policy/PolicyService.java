package dev.faultline.policy;

import dev.faultline.PageResponse;
import dev.faultline.snapshot.SnapshotService;
import dev.faultline.snapshot.SnapshotView;
import dev.faultline.snapshot.VerifiedState;
import dev.faultline.DomainException;
import dev.faultline.Problem;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.dao.OptimisticLockingFailureException;
import org.springframework.data.domain.PageRequest;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Snapshot policies: their definitions (with ETags), previews, run history, and the retention
 * plan that both the preview and the scheduler's pruning use.
 */
@Service
class PolicyService {

    private final SnapshotPolicyRepository policies;
    private final PolicyRunRepository runs;
    private final SnapshotService snapshots;
    private final Clock clock;

    PolicyService(SnapshotPolicyRepository policies, PolicyRunRepository runs, SnapshotService snapshots, Clock clock) {
        this.policies = policies;
        this.runs = runs;
        this.snapshots = snapshots;
        this.clock = clock;
    }

    @Transactional
    public PolicyView create(PolicyRequest request) {
        requireNameFree(request.name());
        SnapshotPolicy policy = new SnapshotPolicy(request, clock.instant());
        return save(policy).view(clock.instant());
    }

    @Transactional(readOnly = true)
    public List<PolicyView> list() {
        Instant now = clock.instant();
        return policies.findAllByOrderByNameAsc().stream().map(p -> p.view(now)).toList();
    }

    @Transactional(readOnly = true)
    public PolicyView get(UUID id) {
        return load(id).view(clock.instant());
    }

    /** The policy, if {@code ifMatch} matches its current ETag (the base a PATCH is merged onto). */
    @Transactional(readOnly = true)
    public PolicyView getIfMatch(UUID id, String ifMatch) {
        SnapshotPolicy policy = load(id);
        requireMatch(ifMatch, policy);
        return policy.view(clock.instant());
    }

    /** Replaces the definition if {@code ifMatch} matches the current ETag. */
    @Transactional
    public PolicyView replace(UUID id, String ifMatch, PolicyRequest request) {
        SnapshotPolicy policy = load(id);
        requireMatch(ifMatch, policy);
        if (!policy.name().equals(request.name())) {
            requireNameFree(request.name());
        }
        policy.apply(request, clock.instant());
        return save(policy).view(clock.instant());
    }

    /** Deletes the policy and its run history; its snapshots stay (no longer pruned by it). */
    @Transactional
    public void delete(UUID id, String ifMatch) {
        SnapshotPolicy policy = load(id);
        if (ifMatch != null) {
            requireMatch(ifMatch, policy);
        }
        try {
            policies.delete(policy);
            policies.flush();
        } catch (OptimisticLockingFailureException e) {
            throw changedMeanwhile(policy, e);
        }
    }

    @Transactional
    public PolicyView pause(UUID id) {
        SnapshotPolicy policy = load(id);
        return (policy.pause(clock.instant()) ? save(policy) : policy).view(clock.instant());
    }

    @Transactional
    public PolicyView resume(UUID id) {
        SnapshotPolicy policy = load(id);
        return (policy.resume(clock.instant()) ? save(policy) : policy).view(clock.instant());
    }

    @Transactional(readOnly = true)
    public PolicyPreview preview(UUID id, int count) {
        SnapshotPolicy policy = load(id);
        Instant now = clock.instant();
        Schedule schedule = policy.parsedSchedule();
        Instant from = now.isAfter(policy.dueAfter()) ? now : policy.dueAfter();
        List<PolicyPreview.NextRun> nextRuns = schedule.nextFireTimes(from, count).stream()
                .map(t -> new PolicyPreview.NextRun(t.format(DateTimeFormatter.ISO_OFFSET_DATE_TIME), t.toInstant()))
                .toList();
        List<PolicyPreview.RetentionItem> plan = retentionPlan(policy, now);
        long prune = plan.stream().filter(i -> i.decision() == Retention.Decision.PRUNE).count();
        return new PolicyPreview(policy.id(), policy.name(), policy.paused(), schedule.zone().getId(), nextRuns,
                new PolicyPreview.RetentionPreview(now, plan.size() - prune, prune, plan));
    }

    @Transactional(readOnly = true)
    public PageResponse<PolicyRunView> runs(UUID id, int page, int size) {
        load(id);
        return PageResponse.of(runs.findByPolicyIdOrderByFireTimeDescRegionNameAsc(id, PageRequest.of(page, size)),
                PolicyRun::view);
    }

    /** Retention's verdict on each of the policy's snapshots, region by region, newest first within a region. */
    List<PolicyPreview.RetentionItem> retentionPlan(SnapshotPolicy policy, Instant now) {
        List<SnapshotView> candidates = snapshots.retentionCandidates(policy.id());
        Set<UUID> neededOutside = snapshots.neededOutsidePolicy(policy.id(),
                candidates.stream().map(SnapshotView::id).toList());
        Map<String, List<SnapshotView>> byRegion = candidates.stream()
                .collect(Collectors.groupingBy(s -> s.regionId().toString(), TreeMap::new, Collectors.toList()));
        ZoneId zone = policy.parsedSchedule().zone();
        List<PolicyPreview.RetentionItem> plan = new ArrayList<>(candidates.size());
        for (List<SnapshotView> region : byRegion.values()) {
            Map<UUID, SnapshotView> byId = region.stream().collect(Collectors.toMap(SnapshotView::id, Function.identity()));
            List<Retention.Candidate> facts = region.stream().map(s -> new Retention.Candidate(s.id(), s.createdAt(),
                    s.state(), s.verification().state() == VerifiedState.VERIFIED, s.parentId())).toList();
            for (Retention.Verdict verdict : Retention.evaluate(policy.retention(), zone, now, facts, neededOutside)) {
                SnapshotView s = byId.get(verdict.id());
                plan.add(new PolicyPreview.RetentionItem(s.id(), s.regionId(), s.regionName(), s.createdAt(), s.state(),
                        s.kind(), verdict.decision(), verdict.reasons()));
            }
        }
        return plan;
    }

    private SnapshotPolicy save(SnapshotPolicy policy) {
        try {
            return policies.saveAndFlush(policy);
        } catch (OptimisticLockingFailureException e) {
            throw changedMeanwhile(policy, e);
        } catch (DataIntegrityViolationException e) {
            throw DomainException.conflict("a policy named '" + policy.name() + "' already exists");
        }
    }

    private static DomainException changedMeanwhile(SnapshotPolicy policy, Exception cause) {
        return new DomainException(Problem.PRECONDITION_FAILED, "policy " + policy.id()
                + " was changed meanwhile; GET it again and reapply your change", cause);
    }

    private void requireNameFree(String name) {
        if (policies.existsByName(name)) {
            throw DomainException.conflict("a policy named '" + name + "' already exists");
        }
    }

    /**
     * RFC 9110 If-Match with strong comparison: {@code *} or one of the listed ETags must be the
     * policy's current one. Without the header, an update could silently undo someone else's.
     */
    private static void requireMatch(String ifMatch, SnapshotPolicy policy) {
        String current = "\"" + policy.version() + "\"";
        if (ifMatch == null || ifMatch.isBlank()) {
            throw new DomainException(Problem.PRECONDITION_REQUIRED, "send If-Match with the policy's ETag ("
                    + current + ", from GET) so that a concurrent change is never overwritten");
        }
        for (String tag : ifMatch.split(",")) {
            if (tag.strip().equals("*") || tag.strip().equals(current)) {
                return;
            }
        }
        throw new DomainException(Problem.PRECONDITION_FAILED, "If-Match " + ifMatch.strip()
                + " does not match the policy's current ETag " + current + "; GET it again and reapply your change");
    }

    private SnapshotPolicy load(UUID id) {
        return policies.findById(id).orElseThrow(() -> DomainException.notFound("snapshot policy", id));
    }
}
