package dev.faultline.snapshot;

import jakarta.persistence.criteria.Predicate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.domain.Specification;

/**
 * Which snapshots to list; every criterion is optional and they all must hold.
 *
 * @param states any of these states; when empty, every state but DELETED
 * @param createdFrom created at or after (inclusive)
 * @param createdTo created before (exclusive)
 */
public record SnapshotFilter(UUID regionId, UUID policyId, List<SnapshotState> states, SnapshotKind kind,
        Instant createdFrom, Instant createdTo) {

    public SnapshotFilter {
        states = states == null || states.isEmpty()
                ? List.copyOf(EnumSet.complementOf(EnumSet.of(SnapshotState.DELETED))) : List.copyOf(states);
    }

    /** Built from criteria so that absent filters add nothing: portable, unlike "(:p is null or …)" in JPQL. */
    Specification<Snapshot> specification() {
        return (root, query, cb) -> {
            List<Predicate> where = new ArrayList<>();
            where.add(root.get("state").in(states));
            if (regionId != null) {
                where.add(cb.equal(root.get("regionId"), regionId));
            }
            if (policyId != null) {
                where.add(cb.equal(root.get("policyId"), policyId));
            }
            if (kind != null) {
                where.add(cb.equal(root.get("kind"), kind));
            }
            if (createdFrom != null) {
                where.add(cb.greaterThanOrEqualTo(root.get("createdAt"), createdFrom));
            }
            if (createdTo != null) {
                where.add(cb.lessThan(root.get("createdAt"), createdTo));
            }
            return cb.and(where.toArray(Predicate[]::new));
        };
    }
}
