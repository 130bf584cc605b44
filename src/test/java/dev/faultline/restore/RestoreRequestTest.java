package dev.faultline.restore;

import static dev.faultline.TestApi.map;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.Await;
import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import dev.faultline.TestApi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * A restore session requested through another instance for one of this instance's nodes: the
 * row is all this instance gets (the multi-instance ITs cover the HTTP call on the other side).
 */
class RestoreRequestTest extends ServiceTest {

    @Autowired
    RestoreRepository sessions;

    @Test
    void aSessionRequestedThroughAnotherInstanceIsOpenedByThisNodesAgentOrFailsWithWhy() throws Exception {
        Path image = Files.createDirectories(DATA_DIR.resolve("images")).resolve("req-" + UUID.randomUUID() + ".img");
        NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "4M");
        RestoreSession requested = sessions.save(RestoreSession.requested(SECOND_NODE, "requested", Map.of(),
                image.toString(), 16, 1000, "auto", Instant.now()));
        RestoreSession missing = sessions.save(RestoreSession.requested(SECOND_NODE, "missing", Map.of(),
                DATA_DIR.resolve("images").resolve("nothing-here.img").toString(), 16, 1000, "auto", Instant.now()));

        // this instance's poller claims both within a second
        TestApi.Response opened = awaitClaimed(requested.id());
        assertThat(opened.json().path("state").asString()).isEqualTo("WAITING");
        assertThat(opened.json().path("socket").asString()).contains("/nodes/" + SECOND_NODE + "/");
        assertThat(opened.json().at("/image/size").asLong()).isEqualTo(4L << 20);
        assertThat(Path.of(opened.json().path("socket").asString())).exists();
        TestApi.Response failed = awaitClaimed(missing.id());
        assertThat(failed.json().path("state").asString()).isEqualTo("FAILED");
        assertThat(failed.json().path("error").asString()).contains("does not exist");
        assertThat(admin().delete("/api/v1/restores/" + requested.id()).status()).isEqualTo(204);
    }

    private TestApi.Response awaitClaimed(UUID id) {
        return Await.until("restore session " + id + " claimed", Duration.ofSeconds(10),
                () -> admin().get("/api/v1/restores/" + id),
                r -> !r.json().path("state").asString().equals("REQUESTED"));
    }

    @Test
    void aRestoreForANodeNoInstanceHasReportedIsRefused() {
        TestApi.Response refused = admin().post("/api/v1/restores",
                map("image", "/tmp/x.img", "name", "x", "node", "nowhere"));
        assertThat(refused.status()).isEqualTo(422);
        assertThat(refused.body()).contains("node 'nowhere' is not known");
    }
}
