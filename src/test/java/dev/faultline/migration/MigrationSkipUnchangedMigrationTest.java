package dev.faultline.migration;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.SingleConnectionDataSource;

/** V65: jobs recorded before skipUnchanged existed ran with the agent's default, which skips unchanged pages. */
class MigrationSkipUnchangedMigrationTest {

    @Test
    void jobsRecordedBeforeTheColumnSkipUnchangedPages() {
        var db = new SingleConnectionDataSource("jdbc:h2:mem:" + UUID.randomUUID()
                + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH", "sa", "", true);
        Flyway.configure().dataSource(db).locations("classpath:db/migration").target("64").load().migrate();
        JdbcTemplate jdbc = new JdbcTemplate(db);
        UUID old = UUID.randomUUID();
        jdbc.update("insert into migration (id, version, region_id, region_name, source_node, destination_node, phase,"
                + " max_downtime_ms, bandwidth_limit, max_precopy_rounds, postcopy, postcopy_after_ms, requested_by,"
                + " created_at, timeline, stats, source_forgotten, destination_forgotten) values (?, 0, ?, 'demo',"
                + " 'node-a', 'node-b', 'COMPLETED', 10, 0, 10, 'AUTO', 30000, 'ops', current_timestamp, '[]', '{}',"
                + " true, true)", old, UUID.randomUUID());

        Flyway.configure().dataSource(db).locations("classpath:db/migration").load().migrate();

        assertThat(jdbc.queryForObject("select skip_unchanged from migration where id = ?", Boolean.class, old))
                .isTrue();
        assertThat(jdbc.queryForObject("select auto_converge from migration where id = ?", Boolean.class, old))
                .as("the option beside it keeps its own default").isFalse();
        assertThat(jdbc.queryForObject("select push_connections from migration where id = ?", Integer.class, old))
                .as("V66: jobs recorded before pushConnections pushed on the page channel alone").isEqualTo(1);
        db.destroy();
    }
}
