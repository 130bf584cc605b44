package dev.faultline.event;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.FaultlineProperties;
import dev.faultline.JpaSliceTest;
import dev.faultline.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

@JpaSliceTest
@Import(EventServiceTest.Config.class)
class EventServiceTest {

    @TestConfiguration(proxyBeanMethods = false)
    @Import(EventService.class)
    @EnableConfigurationProperties({EventProperties.class, FaultlineProperties.class})
    static class Config {
        @Bean
        MutableClock clock() {
            return new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        }
    }

    @Autowired
    EventService events;

    @Autowired
    MutableClock clock;

    @Test
    void eventsOlderThanTheRetentionArePrunedAndNewerOnesStay() {
        events.publish("region.attached", "region", "r1", "old", Map.of("n", 1));
        clock.advance(Duration.ofDays(15));
        events.publish("region.detached", "region", "r1", "new", null);

        assertThat(events.prune()).as("the default retention is 14 days").isEqualTo(1);

        assertThat(events.recent(10, null, null)).extracting(EventView::message).containsExactly("new");
        assertThat(events.recent(10, "region", "r1")).hasSize(1);
    }

    @Test
    void olderEventsPageByIdWithoutOverlapAlsoForOneSubject() {
        for (int i = 0; i < 5; i++) {
            events.publish("region.attached", "region", i % 2 == 0 ? "even" : "odd", "e" + i, null);
        }

        List<EventView> first = events.recent(2, null, null);
        List<EventView> second = events.recent(2, null, null, first.get(1).id());
        List<EventView> evenAfter = events.recent(10, "region", "even", events.recent(1, "region", "even").get(0).id());

        assertThat(first).extracting(EventView::message).containsExactly("e4", "e3");
        assertThat(second).extracting(EventView::message).containsExactly("e2", "e1");
        assertThat(evenAfter).extracting(EventView::message).containsExactly("e2", "e0");
    }

    @Test
    void anEventCarriesItsDataAsJsonAndItsNode() {
        events.publish("snapshot.completed", "snapshot", "s1", "done", Map.of("bytes", 42));

        EventView e = events.recent(1, "snapshot", "s1").get(0);
        assertThat(e.data()).isEqualTo("{\"bytes\":42}");
        assertThat(e.node()).isNotBlank();
        assertThat(e.kind()).isEqualTo("snapshot.completed");
    }
}
