package dev.faultline.event;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.FaultlineProperties;
import dev.faultline.JpaSliceTest;
import dev.faultline.PostgresServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.TestPropertySource;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * Events another instance commits reach this instance's stream through NOTIFY on PostgreSQL: with
 * the poll stretched to an hour, only the notification can wake the tailer. On H2 the stream has
 * nothing to listen to and says so.
 */
@JpaSliceTest
@TestPropertySource(properties = "faultline.events.poll-interval=1h")
@Import(EventNotificationTest.Config.class)
@Transactional(propagation = Propagation.NOT_SUPPORTED)
class EventNotificationTest {

    @TestConfiguration(proxyBeanMethods = false)
    @Import(EventService.class)
    @EnableConfigurationProperties({EventProperties.class, FaultlineProperties.class})
    static class Config {
        @Bean
        Clock clock() {
            return Clock.systemUTC();
        }
    }

    @Autowired
    EventService events;

    @Autowired
    DataSource dataSource;

    @Test
    void eventsCommittedByAnyInstanceWakeTheStreamAtOnceOnPostgresql() {
        if (!PostgresServer.selected()) {
            assertThat(events.notified()).as("H2 has no LISTEN/NOTIFY: the stream polls").isFalse();
            return;
        }
        Await.until("the LISTEN connection", Duration.ofSeconds(10), events::notified, up -> up);
        long before = events.lastBroadcast();

        // another instance: its own connection and transaction, the row and the NOTIFY it sends
        JdbcTemplate other = new JdbcTemplate(dataSource);
        other.update("INSERT INTO event (occurred_at, node, kind, subject_type, subject_id, message) VALUES (?, ?, ?, ?, ?, ?)",
                java.sql.Timestamp.from(Instant.now()), "node-z", "node.up", "node", "node-z", "elsewhere");
        other.queryForList("SELECT pg_notify('faultline_events', '')");

        long id = other.queryForObject("SELECT max(id) FROM event", Long.class);
        Await.until("the tailer woken by the notification", Duration.ofSeconds(10), events::lastBroadcast,
                last -> last >= id);
        assertThat(id).isGreaterThan(before);
        assertThat(events.recent(1, "node", "node-z")).extracting(EventView::message).containsExactly("elsewhere");

        // and what this instance publishes notifies too, when its transaction commits
        events.publish("region.attached", "region", "r9", "published here", Map.of());
        long ours = events.recent(1, "region", "r9").get(0).id();
        Await.until("the tailer woken by our own notification", Duration.ofSeconds(10), events::lastBroadcast,
                last -> last >= ours);
    }
}
