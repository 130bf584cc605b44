package dev.faultline.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The audit at each ping (PROTOCOL.md §1.3, ping): once every event up to the ping's sequence
 * number is applied, a copy whose region count is not the agent's is read in full again; while
 * events are still on their way, or the ping is older than the last event, nothing is concluded.
 */
class AgentEventStreamTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private final ExecutorService delivery = Executors.newSingleThreadExecutor();
    private final AgentEventStream stream = new AgentEventStream(delivery);
    private final Object connection = new Object();
    private final AtomicInteger resyncs = new AtomicInteger();
    private final AtomicLong count = new AtomicLong();

    @AfterEach
    void stop() {
        delivery.shutdownNow();
    }

    @Test
    void aCopyThatDivergedAfterEveryEventIsReadAgainAndAStaleOrBusyOneIsNot() throws Exception {
        stream.add(new AgentChangeListener() {
            @Override
            public void resync(AgentClient agent) {
                resyncs.incrementAndGet();
            }

            @Override
            public void regionsChanged(AgentClient agent, List<RegionChange> changes) {
            }

            @Override
            public long attachedRegions(AgentClient agent) {
                return count.get();
            }
        }, false);
        stream.connected(connection, 41);
        Await.until("the full read of the new connection", WAIT, resyncs::get, n -> n == 1);
        delivery.submit(() -> { }).get(); // the delivery thread is done with what came before
        count.set(5000);

        stream.audit(connection, ping(41, 5000));
        assertThat(stream.divergences()).as("the same count").isZero();
        stream.audit(connection, ping(40, 4999));
        assertThat(stream.divergences()).as("a ping older than the last event applied").isZero();
        stream.audit(new Object(), ping(41, 4999));
        assertThat(stream.divergences()).as("a ping of another connection").isZero();
        stream.audit(connection, JsonNodes.parse("{\"uptime_ms\":5}"));
        assertThat(stream.divergences()).as("an agent from before the audit").isZero();

        stream.audit(connection, ping(41, 4999));

        assertThat(stream.divergences()).isEqualTo(1);
        Await.until("the full read after the divergence", WAIT, resyncs::get, n -> n == 2);
    }

    private static JsonNode ping(long seq, long regions) {
        return JsonNodes.parse("{\"uptime_ms\":5,\"seq\":" + seq + ",\"regions\":" + regions + "}");
    }

    /** Parses test JSON with the agent adapter's mapper. */
    private static final class JsonNodes {
        static JsonNode parse(String json) {
            return AgentJson.MAPPER.readTree(json);
        }
    }
}
