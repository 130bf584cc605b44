package dev.faultline.restore;

import static org.assertj.core.api.Assertions.assertThat;

import static dev.faultline.TestApi.map;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentException;
import dev.faultline.agent.AgentRestore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * The full read of a node's restore sessions: read in pages, so that it never fails for being
 * beyond one frame, and when it fails all the same (after a reconnect or lost events, whose
 * queued changes were dropped) done again by the next sync instead of being given up.
 */
class RestoreFullReadTest extends ServiceTest {

    @Autowired
    RestoreService restores;

    @Test
    void sessionsBeyondOneFrameAreReadInFull() throws Exception {
        Path image = Files.createDirectories(DATA_DIR.resolve("images")).resolve("paged-" + UUID.randomUUID() + ".img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "1M",
                "--seed", "3");
        // 64 labels as long as the limits allow: ~17 KiB a session, 72 of them beyond the 1 MiB frame
        String prefix = "a".repeat(60) + "." + "b".repeat(60) + "." + "c".repeat(60) + ".io/k";
        Map<String, String> labels = new LinkedHashMap<>();
        for (int i = 0; i < 64; i++) {
            labels.put(prefix + i, "v".repeat(63));
        }
        List<String> created = new ArrayList<>();
        try {
            for (int i = 0; i < 72; i++) {
                TestApi.Response r = admin().post("/api/v1/restores", map("image", image.toString(), "name",
                        "paged-" + i, "labels", labels));
                assertThat(r.status()).as(r.body()).isEqualTo(201);
                created.add(r.json().path("id").asString());
            }

            List<String> read = agent.restores().stream().map(AgentRestore::id).map(UUID::toString).toList();

            assertThat(read).containsAll(created).doesNotHaveDuplicates();
            restores.sync(agent);
            assertThat(restores.owesFullRead(agent.node())).isFalse();
        } finally {
            for (String id : created) {
                admin().delete("/api/v1/restores/" + id);
            }
            Files.deleteIfExists(image);
        }
    }

    @Test
    void aFailedFullReadIsOwedUntilTheNextSyncDoesIt() {
        Await.until("the embedded agent's change events", Duration.ofSeconds(15), agent::pushesChanges,
                Boolean::booleanValue);
        AgentClient busy = Mockito.spy(agent);
        Mockito.doThrow(new AgentException("TIMEOUT", "no answer in time")).when(busy).restores();

        restores.sync(busy);

        assertThat(restores.owesFullRead(agent.node())).isTrue();
        Await.until("the owed full read, done by the sync of every second", Duration.ofSeconds(10),
                () -> restores.owesFullRead(agent.node()), owed -> !owed);
    }
}
