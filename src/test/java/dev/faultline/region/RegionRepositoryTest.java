package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.JpaSliceTest;
import dev.faultline.agent.AgentRegion;
import dev.faultline.label.LabelSelector;
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
import org.springframework.jdbc.core.JdbcTemplate;

/** Label selectors and paging evaluated by the database, against the real schema (H2, and PostgreSQL). */
@JpaSliceTest
class RegionRepositoryTest {

    static final Instant T0 = Instant.parse("2026-03-01T00:00:00Z");

    @Autowired
    RegionRepository regions;

    @Autowired
    JdbcTemplate jdbc;

    @Test
    void everySelectorOperatorIsEvaluatedByTheDatabaseWithKubernetesMeaning() {
        save("db-prod", Map.of("app", "db", "env", "prod"), 0);
        save("db-stage", Map.of("app", "db", "env", "stage", "canary", ""), 1);
        save("web-prod", Map.of("app", "web", "env", "prod"), 2);
        save("bare", Map.of(), 3);

        assertThat(names("app=db")).containsExactly("db-prod", "db-stage");
        assertThat(names("app==web")).containsExactly("web-prod");
        assertThat(names("app!=db")).as("!= matches regions without the label too").containsExactly("bare",
                "web-prod");
        assertThat(names("env in (prod,qa)")).containsExactly("db-prod", "web-prod");
        assertThat(names("env notin (prod)")).containsExactly("bare", "db-stage");
        assertThat(names("canary")).containsExactly("db-stage");
        assertThat(names("!canary")).containsExactly("bare", "db-prod", "web-prod");
        assertThat(names("app=db,env=prod")).as("requirements all hold").containsExactly("db-prod");
        assertThat(names("app=db,!canary,env in (prod,stage)")).containsExactly("db-prod");
        assertThat(names("")).hasSize(4);
    }

    @Test
    void aRelabelledRegionIsFoundByItsNewLabelsOnlyAndItsRowsFollowTheLabels() {
        Region region = save("db", Map.of("app", "db", "tier", "gold"), 0);

        region.relabel(Map.of("app", "ledger", "owner", "ops"));
        regions.saveAndFlush(region);

        assertThat(names("app=ledger,owner=ops")).containsExactly("db");
        assertThat(names("app=db")).isEmpty();
        assertThat(names("tier")).isEmpty();
        assertThat(jdbc.queryForObject("select count(*) from region_label where region_id = ?", Integer.class,
                region.id())).isEqualTo(2);
    }

    @Test
    void aSelectorAndAStatePageNewestFirstAndCountInTheDatabase() {
        for (int i = 0; i < 5; i++) {
            save("db-" + i, Map.of("app", "db"), i);
        }
        Region detached = save("db-old", Map.of("app", "db"), -1);
        detached.markDetached(T0);
        regions.saveAndFlush(detached);
        save("web", Map.of("app", "web"), 9);

        Page<Region> page = regions.findAll(RegionQuery.matching(LabelSelector.parse("app=db"), RegionState.ATTACHED),
                PageRequest.of(1, 2, Sort.by(Sort.Order.desc("attachedAt"), Sort.Order.desc("id"))));

        assertThat(page.getTotalElements()).isEqualTo(5);
        assertThat(page.getTotalPages()).isEqualTo(3);
        assertThat(page.getContent()).extracting(Region::name).containsExactly("db-2", "db-1");
    }

    /**
     * GET /api/v1/regions pages newest first with the id breaking ties: the database must read one
     * page in index order and stop, not sort every region (p99 at thousands of regions). H2
     * says so in its plan; PostgreSQL's plan has no Sort node once it may not scan the table.
     */
    @Test
    void theNewestFirstPageIsReadInIndexOrderWithoutSortingTheRegions() {
        for (int i = 0; i < 20; i++) {
            save("r-" + i, Map.of(), i % 3); // ties on attached_at, broken by the id
        }
        String page = "SELECT id FROM region ORDER BY attached_at DESC, id DESC OFFSET 0 ROWS FETCH FIRST 10 ROWS ONLY";
        String byState = "SELECT id FROM region WHERE state = 'ATTACHED' ORDER BY attached_at DESC, id DESC"
                + " OFFSET 0 ROWS FETCH FIRST 10 ROWS ONLY";
        if (postgres()) {
            for (String query : List.of(page, byState)) {
                String plan = jdbc.execute((java.sql.Connection c) -> {
                    try (var st = c.createStatement()) {
                        st.execute("SET enable_seqscan = off");
                        StringBuilder out = new StringBuilder();
                        try (var rs = st.executeQuery("EXPLAIN " + query)) {
                            while (rs.next()) {
                                out.append(rs.getString(1)).append('\n');
                            }
                        }
                        st.execute("RESET enable_seqscan");
                        return out.toString();
                    }
                });
                assertThat(plan).as(query).contains("Index").doesNotContain("Sort");
            }
        } else {
            assertThat(plan(page)).as("newest first").contains("index sorted */").doesNotContain("of 2 columns");
            assertThat(plan(byState)).as("one state, newest first").contains("ix_region_state_attached_at_id");
        }
    }

    private boolean postgres() {
        return jdbc.execute((java.sql.Connection c) -> c.getMetaData().getDatabaseProductName()).contains("PostgreSQL");
    }

    private String plan(String query) {
        return String.join("\n", jdbc.queryForList("EXPLAIN " + query, String.class));
    }

    private Region save(String name, Map<String, String> labels, int minutes) {
        AgentRegion reported = new AgentRegion(UUID.randomUUID(), name, labels, null, 0, 16 * 4096, 4096,
                List.of("missing"), null, null, "ATTACHED", T0.plus(Duration.ofMinutes(minutes)), null, null);
        return regions.saveAndFlush(Region.attached("node-a", reported, labels, T0));
    }

    private List<String> names(String selector) {
        return regions.findAll(RegionQuery.matching(LabelSelector.parse(selector), null), Sort.by("name")).stream()
                .map(Region::name).toList();
    }
}
