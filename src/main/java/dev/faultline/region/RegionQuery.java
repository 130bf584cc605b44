package dev.faultline.region;

import dev.faultline.label.LabelSelector;
import jakarta.persistence.criteria.CriteriaBuilder;
import jakarta.persistence.criteria.CriteriaQuery;
import jakarta.persistence.criteria.MapJoin;
import jakarta.persistence.criteria.Predicate;
import jakarta.persistence.criteria.Root;
import jakarta.persistence.criteria.Subquery;
import java.util.ArrayList;
import java.util.List;
import org.springframework.data.jpa.domain.Specification;

/**
 * Which regions a list or a policy wants, as a query the database evaluates: a state and a
 * label selector, each requirement one (NOT) EXISTS over the region's label rows. Kubernetes'
 * meaning: {@code k!=v} and {@code k notin (…)} also match regions without the label.
 */
final class RegionQuery {

    private RegionQuery() {
    }

    static Specification<Region> matching(LabelSelector selector, RegionState state) {
        return (root, query, cb) -> {
            List<Predicate> where = new ArrayList<>();
            if (state != null) {
                where.add(cb.equal(root.get("state"), state));
            }
            for (LabelSelector.Requirement r : selector.requirements()) {
                where.add(switch (r.operator()) {
                    case EQUALS, IN -> cb.exists(label(root, query, cb, r.key(), r.values()));
                    case NOT_EQUALS, NOT_IN -> cb.not(cb.exists(label(root, query, cb, r.key(), r.values())));
                    case EXISTS -> cb.exists(label(root, query, cb, r.key(), null));
                    case DOES_NOT_EXIST -> cb.not(cb.exists(label(root, query, cb, r.key(), null)));
                });
            }
            return cb.and(where.toArray(Predicate[]::new));
        };
    }

    /** The region's label {@code key}, with one of {@code values} unless null. */
    private static Subquery<Integer> label(Root<Region> root, CriteriaQuery<?> query, CriteriaBuilder cb, String key,
            List<String> values) {
        Subquery<Integer> sub = query.subquery(Integer.class);
        Root<Region> same = sub.correlate(root);
        MapJoin<Region, String, String> label = same.joinMap("labelRows");
        Predicate named = cb.equal(label.key(), key);
        sub.select(cb.literal(1)).where(values == null ? named
                : cb.and(named, values.size() == 1 ? cb.equal(label.value(), values.get(0)) : label.value().in(values)));
        return sub;
    }
}
