package dev.faultline.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.JpaSliceTest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;

/** The restore list's query against the real schema: filtered, paged and counted by the database. */
@JpaSliceTest
class RestoreRepositoryTest {

    static final Instant T0 = Instant.parse("2026-03-01T00:00:00Z");

    @Autowired
    RestoreRepository sessions;

    @Test
    void filtersCombineOnStateNameNodeAndSnapshot() {
        UUID snapshot = UUID.randomUUID();
        RestoreSession dbA = save("node-a", "db", RestoreState.WAITING, null, 0);
        RestoreSession dbB = save("node-b", "db", RestoreState.CLOSED, null, 1);
        RestoreSession web = save("node-a", "web", RestoreState.ACTIVE, snapshot, 2);
        RestoreSession failed = save("node-a", "web", RestoreState.FAILED, null, 3);

        assertThat(ids(new RestoreFilter(null, null, null, null))).containsExactly(failed.id(), web.id(), dbB.id(),
                dbA.id());
        assertThat(ids(new RestoreFilter(null, "db", null, null))).containsExactly(dbB.id(), dbA.id());
        assertThat(ids(new RestoreFilter(List.of(RestoreState.WAITING, RestoreState.ACTIVE), null, null, null)))
                .containsExactly(web.id(), dbA.id());
        assertThat(ids(new RestoreFilter(null, "db", "node-b", null))).containsExactly(dbB.id());
        assertThat(ids(new RestoreFilter(null, null, null, snapshot))).containsExactly(web.id());
        assertThat(ids(new RestoreFilter(List.of(RestoreState.REQUESTED), null, null, null))).isEmpty();
    }

    @Test
    void pagesCountEverythingAndSortByNameThenIdWithoutOverlap() {
        for (int i = 0; i < 5; i++) {
            save("node-a", i % 2 == 0 ? "a" : "b", RestoreState.WAITING, null, i);
        }
        Sort byName = Sort.by("name").ascending().and(Sort.by("id").ascending());

        Page<RestoreSession> first = sessions.findAll(new RestoreFilter(null, null, null, null).specification(),
                PageRequest.of(0, 2, byName));
        Page<RestoreSession> last = sessions.findAll(new RestoreFilter(null, null, null, null).specification(),
                PageRequest.of(2, 2, byName));

        assertThat(first.getTotalElements()).isEqualTo(5);
        assertThat(first.getTotalPages()).isEqualTo(3);
        assertThat(first.getContent()).extracting(RestoreSession::name).containsExactly("a", "a");
        assertThat(last.getContent()).extracting(RestoreSession::name).containsExactly("b");
    }

    private RestoreSession save(String node, String name, RestoreState state, UUID snapshot, int minutes) {
        Instant at = T0.plus(Duration.ofMinutes(minutes));
        RestoreSession s = snapshot == null && state == RestoreState.WAITING
                ? new RestoreSession(node, name, Map.of(), "/images/" + name, 4096, 16, 1000, "auto", at)
                : RestoreSession.adopted(UUID.randomUUID(), node, name, Map.of(), snapshot, "/images/" + name, 4096,
                        "/run/" + name + ".sock", 16, 1000, "auto", state, null, at);
        return sessions.saveAndFlush(s);
    }

    private List<UUID> ids(RestoreFilter filter) {
        return sessions.findAll(filter.specification(),
                Sort.by("createdAt").descending().and(Sort.by("id").descending())).stream()
                .map(RestoreSession::id).toList();
    }
}
