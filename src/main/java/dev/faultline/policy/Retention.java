package dev.faultline.policy;

import dev.faultline.snapshot.SnapshotState;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;

/**
 * Decides which of one region's policy snapshots to keep, and says why for each: the one
 * function behind both pruning and the dry-run preview.
 *
 * <p>Only COMPLETED snapshots count for the rules. A snapshot is kept when keep-last or a period
 * rule selects it (with no such rule, every one is), unless it is older than max age; the
 * keep-verified floor then keeps the newest verified ones regardless, and finally every parent
 * of a kept live incremental snapshot is kept, up its chain. Snapshots being taken are kept. A
 * FAILED one (no image) is kept while it is the region's latest attempt and pruned once a later
 * snapshot has completed, or when older than max age.
 *
 * <p>Period rules work like restic's and borg's: "hourly 24" keeps the newest snapshot of each of
 * the last 24 hours that <em>have</em> a snapshot, so a gap (the service down, the policy paused)
 * never makes retention delete more. Hours are the zone's real hours (the repeated hour of a
 * fall-back is two hours), days and months are local, weeks are ISO weeks (Monday first, week 1
 * holds the year's first Thursday).
 */
final class Retention {

    enum Decision {
        KEEP, PRUNE
    }

    /** The facts about one snapshot that retention looks at. */
    record Candidate(UUID id, Instant createdAt, SnapshotState state, boolean verified, UUID parentId) {
    }

    record Verdict(UUID id, Decision decision, List<String> reasons) {
    }

    private static final Set<SnapshotState> LIVE = EnumSet.of(SnapshotState.PENDING, SnapshotState.RUNNING,
            SnapshotState.COMPLETED);
    private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:00xxx");

    private final RetentionRules rules;
    private final ZoneId zone;
    private final Instant now;
    private final Map<UUID, List<String>> keep = new HashMap<>();
    private final Map<UUID, String> prune = new HashMap<>();

    private Retention(RetentionRules rules, ZoneId zone, Instant now) {
        this.rules = rules;
        this.zone = zone;
        this.now = now;
    }

    /**
     * @param candidates one region's snapshots of the policy, in any order
     * @param neededOutside those of them that an incremental snapshot outside the policy is based on
     * @return a verdict for every candidate, newest first
     */
    static List<Verdict> evaluate(RetentionRules rules, ZoneId zone, Instant now, List<Candidate> candidates,
            Set<UUID> neededOutside) {
        return new Retention(rules, zone, now).run(candidates, neededOutside);
    }

    private List<Verdict> run(List<Candidate> candidates, Set<UUID> neededOutside) {
        List<Candidate> newestFirst = candidates.stream()
                .sorted(Comparator.comparing(Candidate::createdAt).reversed().thenComparing(Candidate::id)).toList();
        List<Candidate> completed = newestFirst.stream().filter(c -> c.state() == SnapshotState.COMPLETED).toList();

        if (rules.hasCountRules()) {
            for (int i = 0; i < Math.min(rules.keepLast(), completed.size()); i++) {
                keep(completed.get(i), "keep-last " + (i + 1));
            }
            newestPerPeriod(completed, rules.hourly(), "hourly", t -> t.truncatedTo(ChronoUnit.HOURS).format(HOUR));
            newestPerPeriod(completed, rules.daily(), "daily", t -> t.toLocalDate().toString());
            newestPerPeriod(completed, rules.weekly(), "weekly", t -> String.format("%d-W%02d",
                    t.get(IsoFields.WEEK_BASED_YEAR), t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR)));
            newestPerPeriod(completed, rules.monthly(), "monthly", t -> YearMonth.from(t).toString());
        } else {
            completed.forEach(c -> keep(c, "no keep-last or period rule"));
        }
        if (rules.maxAge() != null) {
            Instant cutoff = now.minus(rules.maxAge());
            newestFirst.stream().filter(c -> c.createdAt().isBefore(cutoff)).forEach(c -> {
                keep.remove(c.id());
                prune.put(c.id(), "older than max age " + PolicyRequest.formatMaxAge(rules.maxAge()));
            });
        }
        List<Candidate> verified = completed.stream().filter(Candidate::verified).toList();
        for (int i = 0; i < Math.min(rules.keepVerified(), verified.size()); i++) {
            keep(verified.get(i), "keep-verified " + (i + 1));
        }
        for (Candidate c : newestFirst) {
            if (c.state() == SnapshotState.PENDING || c.state() == SnapshotState.RUNNING) {
                keep(c, "being taken");
            } else if (c.state() == SnapshotState.FAILED && !prune.containsKey(c.id())) {
                boolean superseded = completed.stream().anyMatch(s -> s.createdAt().isAfter(c.createdAt()));
                if (superseded) {
                    prune.put(c.id(), "failed, and a later snapshot completed");
                } else {
                    keep(c, "failed, kept as the latest attempt until a later snapshot completes");
                }
            }
        }
        keepParentsOfKeptIncrementals(newestFirst, neededOutside);

        List<Verdict> verdicts = new ArrayList<>(newestFirst.size());
        for (Candidate c : newestFirst) {
            List<String> reasons = keep.get(c.id());
            verdicts.add(reasons != null ? new Verdict(c.id(), Decision.KEEP, List.copyOf(reasons))
                    : new Verdict(c.id(), Decision.PRUNE, List.of(prune.getOrDefault(c.id(), "not kept by any rule"))));
        }
        return verdicts;
    }

    private void newestPerPeriod(List<Candidate> newestFirst, int count, String rule,
            Function<ZonedDateTime, String> period) {
        Set<String> periods = new LinkedHashSet<>();
        for (Candidate c : newestFirst) {
            String p = period.apply(c.createdAt().atZone(zone));
            if (periods.add(p)) {
                if (periods.size() > count) {
                    return;
                }
                keep(c, rule + " " + p);
            }
        }
    }

    /** Walks up every chain from its kept live members, so no kept snapshot loses a parent. */
    private void keepParentsOfKeptIncrementals(List<Candidate> candidates, Set<UUID> neededOutside) {
        Map<UUID, Candidate> byId = new LinkedHashMap<>();
        candidates.forEach(c -> byId.put(c.id(), c));
        neededOutside.stream().map(byId::get).filter(Objects::nonNull)
                .forEach(c -> keep(c, "parent of an incremental snapshot outside this policy"));
        List<Candidate> work = new ArrayList<>(candidates.stream().filter(c -> keep.containsKey(c.id())).toList());
        while (!work.isEmpty()) {
            Candidate child = work.remove(work.size() - 1);
            Candidate parent = child.parentId() == null ? null : byId.get(child.parentId());
            if (parent == null || !LIVE.contains(child.state())) {
                continue;
            }
            boolean newlyKept = !keep.containsKey(parent.id());
            keep(parent, "parent of kept " + child.id());
            if (newlyKept) {
                work.add(parent);
            }
        }
    }

    private void keep(Candidate c, String reason) {
        keep.computeIfAbsent(c.id(), id -> new ArrayList<>()).add(reason);
        prune.remove(c.id());
    }
}
