package dev.faultline.restore;

import jakarta.persistence.criteria.Predicate;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.springframework.data.jpa.domain.Specification;

/**
 * Which restore sessions to list; every criterion is optional and they all must hold.
 *
 * @param states any of these states; when empty, every state
 * @param name exactly this session name
 * @param node on this node
 * @param snapshotId sessions that restore this snapshot
 */
record RestoreFilter(List<RestoreState> states, String name, String node, UUID snapshotId) {

    RestoreFilter {
        states = states == null ? List.of() : List.copyOf(states);
    }

    /** Built from criteria so that absent filters add nothing (portable, unlike "(:p is null or …)"). */
    Specification<RestoreSession> specification() {
        return (root, query, cb) -> {
            List<Predicate> where = new ArrayList<>();
            if (!states.isEmpty()) {
                where.add(root.get("state").in(states));
            }
            if (name != null) {
                where.add(cb.equal(root.get("name"), name));
            }
            if (node != null) {
                where.add(cb.equal(root.get("node"), node));
            }
            if (snapshotId != null) {
                where.add(cb.equal(root.get("snapshotId"), snapshotId));
            }
            return cb.and(where.toArray(Predicate[]::new));
        };
    }
}
