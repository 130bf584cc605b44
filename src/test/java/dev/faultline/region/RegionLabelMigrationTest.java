package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.SingleConnectionDataSource;

/** V61 fills region_label from the JSON labels of the regions recorded before V60. */
class RegionLabelMigrationTest {

    @Test
    void regionsRecordedBeforeTheLabelTableGetOneRowPerLabel() {
        var db = new SingleConnectionDataSource("jdbc:h2:mem:" + UUID.randomUUID()
                + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH", "sa", "", true);
        Flyway.configure().dataSource(db).locations("classpath:db/migration").target("60").load().migrate();
        JdbcTemplate jdbc = new JdbcTemplate(db);
        UUID labelled = UUID.randomUUID();
        UUID bare = UUID.randomUUID();
        for (var r : List.of(Map.entry(labelled, "{\"app\":\"db\",\"example.com/tier\":\"gold\",\"canary\":\"\"}"),
                Map.entry(bare, "{}"))) {
            jdbc.update("insert into region (id, node, name, labels, start_address, length, page_size, modes,"
                    + " backing_kind, state, attached_at, version) values (?, 'node-a', 'r', ?, 0, 4096, 4096,"
                    + " 'missing', 'anonymous', 'ATTACHED', current_timestamp, 0)", r.getKey(), r.getValue());
        }

        Flyway.configure().dataSource(db).locations("classpath:db/migration").load().migrate();

        assertThat(jdbc.queryForList("select label_key, label_value from region_label where region_id = ?"
                + " order by label_key", labelled)).extracting(row -> row.get("label_key") + "=" + row.get("label_value"))
                .containsExactly("app=db", "canary=", "example.com/tier=gold");
        assertThat(jdbc.queryForObject("select count(*) from region_label where region_id = ?", Integer.class, bare))
                .isZero();
        db.destroy();
    }
}
