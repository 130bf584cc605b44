package dev.faultline.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faultline.JpaSliceTest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;

/** The catalog's queries against the real schema (Flyway-migrated H2 in PostgreSQL mode). */
@JpaSliceTest
class SnapshotRepositoryTest {

    static final Instant T0 = Instant.parse("2026-03-01T00:00:00Z");
    static final UUID DB = UUID.fromString("0b0f6c1e-6a4e-4a53-9f59-2f1c3c9e1a77");
    static final UUID WEB = UUID.fromString("5d7c2f9e-0000-4000-8000-000000000001");

    @Autowired
    SnapshotRepository snapshots;

    @Test
    void filtersCombineAndDeletedSnapshotsAreLeftOutUnlessAskedFor() {
        UUID nightly = UUID.randomUUID();
        Snapshot dbFull = save(DB, nightly, null, SnapshotState.COMPLETED, T0);
        save(DB, nightly, dbFull, SnapshotState.COMPLETED, T0.plus(hours(1)));
        save(DB, null, null, SnapshotState.FAILED, T0.plus(hours(2)));
        Snapshot deleted = save(DB, nightly, null, SnapshotState.DELETED, T0.plus(hours(3)));
        save(WEB, nightly, null, SnapshotState.COMPLETED, T0.plus(hours(4)));

        assertThat(ids(new SnapshotFilter(DB, null, null, null, null, null))).hasSize(3).doesNotContain(deleted.id());
        assertThat(ids(new SnapshotFilter(DB, nightly, null, null, null, null))).hasSize(2);
        assertThat(ids(new SnapshotFilter(DB, nightly, null, SnapshotKind.INCREMENTAL, null, null))).hasSize(1);
        assertThat(ids(new SnapshotFilter(null, null, List.of(SnapshotState.DELETED), null, null, null)))
                .containsExactly(deleted.id());
        assertThat(ids(new SnapshotFilter(null, null, List.of(SnapshotState.FAILED, SnapshotState.COMPLETED), null,
                null, null))).hasSize(4);
        assertThat(ids(new SnapshotFilter(null, nightly, null, null, null, null))).hasSize(3);
    }

    @Test
    void createdFromIsInclusiveAndCreatedToIsExclusive() {
        Snapshot first = save(DB, null, null, SnapshotState.COMPLETED, T0);
        Snapshot second = save(DB, null, null, SnapshotState.COMPLETED, T0.plus(hours(1)));
        save(DB, null, null, SnapshotState.COMPLETED, T0.plus(hours(2)));

        assertThat(ids(new SnapshotFilter(null, null, null, null, T0, T0.plus(hours(2)))))
                .containsExactly(second.id(), first.id());
    }

    @Test
    void pagesAreNewestFirstAndCountEverything() {
        for (int i = 0; i < 5; i++) {
            save(DB, null, null, SnapshotState.COMPLETED, T0.plus(hours(i)));
        }

        var page = snapshots.findAll(new SnapshotFilter(null, null, null, null, null, null).specification(),
                PageRequest.of(1, 2, Sort.by(Sort.Order.desc("createdAt"))));

        assertThat(page.getTotalElements()).isEqualTo(5);
        assertThat(page.getTotalPages()).isEqualTo(3);
        assertThat(page.getContent()).extracting(s -> s.view().createdAt())
                .containsExactly(T0.plus(hours(2)), T0.plus(hours(1)));
    }

    @Test
    void theDatabaseRefusesASecondActiveSnapshotOfOneRegion() {
        save(DB, null, null, SnapshotState.RUNNING, T0);
        save(DB, null, null, SnapshotState.COMPLETED, T0.plus(hours(1)));

        assertThatThrownBy(() -> save(DB, null, null, SnapshotState.PENDING, T0.plus(hours(2))))
                .isInstanceOf(DataIntegrityViolationException.class);
    }

    @Test
    void aChainStartsWithItsFullSnapshotAndEndsEarlyWhenAParentIsMissing() {
        Snapshot full = save(DB, null, null, SnapshotState.COMPLETED, T0);
        Snapshot second = save(DB, null, full, SnapshotState.COMPLETED, T0.plus(hours(1)));
        Snapshot third = save(DB, null, second, SnapshotState.COMPLETED, T0.plus(hours(2)));

        assertThat(snapshots.chainEndingAt(third)).extracting(Snapshot::id).containsExactly(full.id(), second.id(), third.id());

        snapshots.delete(full);
        snapshots.flush();
        List<Snapshot> broken = snapshots.chainEndingAt(third);
        assertThat(broken).extracting(Snapshot::id).containsExactly(second.id(), third.id());
        assertThat(broken.get(0).kind()).as("the caller sees the chain is broken").isEqualTo(SnapshotKind.INCREMENTAL);
    }

    @Test
    void onlyLiveIncrementalsOfOtherPoliciesOrTakenOnRequestNeedAPolicysSnapshot() {
        UUID policy = UUID.randomUUID();
        Snapshot ownParent = save(DB, policy, null, SnapshotState.COMPLETED, T0);
        save(DB, null, ownParent, SnapshotState.COMPLETED, T0.plus(hours(1))); // taken on request
        Snapshot other = save(WEB, policy, null, SnapshotState.COMPLETED, T0);
        save(WEB, policy, other, SnapshotState.COMPLETED, T0.plus(hours(1))); // the policy's own child
        Snapshot third = save(WEB, policy, null, SnapshotState.COMPLETED, T0.plus(hours(2)));
        save(WEB, UUID.randomUUID(), third, SnapshotState.FAILED, T0.plus(hours(3))); // failed: needs nothing

        Set<UUID> needed = snapshots.findParentsNeededOutsidePolicy(policy,
                List.of(ownParent.id(), other.id(), third.id()), SnapshotState.LIVE);

        assertThat(needed).containsExactly(ownParent.id());
    }

    private List<UUID> ids(SnapshotFilter filter) {
        return snapshots.findAll(filter.specification(), Sort.by(Sort.Order.desc("createdAt"))).stream()
                .map(Snapshot::id).toList();
    }

    /** A snapshot driven through its own state machine to the wanted state. */
    private Snapshot save(UUID regionId, UUID policyId, Snapshot parent, SnapshotState state, Instant createdAt) {
        UUID id = UUID.randomUUID();
        Snapshot s = new Snapshot(id, new RegionInfo(regionId, "r", Map.of("app", "x"), RegionInfo.State.ATTACHED),
                parent == null ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL, parent == null ? null : parent.id(),
                policyId, false, "test", Path.of("/snapshots", id + ".img"), createdAt);
        Instant later = createdAt.plusSeconds(30);
        switch (state) {
            case PENDING -> { }
            case RUNNING -> s.start(createdAt);
            case FAILED -> s.fail("engine said no", later);
            case COMPLETED, DELETING, DELETED -> {
                s.start(createdAt);
                s.complete(new SnapshotEngine.TakeResult(1, 1, 1, 0, "c", null, null), later);
                if (state != SnapshotState.COMPLETED) {
                    s.markDeleting();
                }
                if (state == SnapshotState.DELETED) {
                    s.markDeleted(later);
                }
            }
        }
        return snapshots.saveAndFlush(s);
    }

    private static Duration hours(int n) {
        return Duration.ofHours(n);
    }
}
