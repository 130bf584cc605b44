package dev.faultline.ui;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.NativeTools;
import dev.faultline.ServiceTest;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The web UI's smoke flows (ui/e2e/*.mjs): Playwright drives Debian's Chromium against this
 * service, with its real agent and the real demo workload, as an operator would use it. Each
 * flow saves a screenshot of every page it visits under target/ui-screenshots/. Chromium, node
 * and playwright-core are required: without them these tests fail, never skip, and say what to
 * install. Each flow's output is in this test's log
 * (target/surefire-reports/dev.faultline.ui.UiSmokeTest-output.txt).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UiSmokeTest extends ServiceTest {

    private static final Path UI = Path.of("ui").toAbsolutePath();
    private static final Path SCREENSHOTS = Path.of("target", "ui-screenshots").toAbsolutePath();
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final String INSTALL_HINT = "run .ci/install-deps (Debian's chromium) and the Maven build (npm ci)";
    private static final Duration FLOW_TIMEOUT = Duration.ofMinutes(3);

    @BeforeAll
    static void chromiumNodeAndPlaywrightArePresent() throws IOException {
        assertThat(CHROMIUM).as("%s is missing: %s", CHROMIUM, INSTALL_HINT).isExecutable();
        assertThat(UI.resolve("node_modules/playwright-core/package.json"))
                .as("playwright-core is not installed in ui/node_modules: %s", INSTALL_HINT).isRegularFile();
        Files.createDirectories(SCREENSHOTS);
    }

    @Test
    @Order(1)
    void signingInShowsTheOverviewWithTheAgentReady() {
        flow("sign-in", Map.of());
    }

    @Test
    @Order(2)
    void aRestoreSessionOpenedInTheUiShowsItsRegionLiveWithStatsAndASnapshotCompletes() throws IOException {
        // The service only restores images inside its image directory.
        Path image = Files.createDirectories(DATA_DIR.resolve("images")).resolve("ui-smoke.img");
        if (!Files.exists(image)) {
            NativeTools.run(NativeTools.demo().toString(), "make-image", "--out", image.toString(), "--size", "16M", "--seed", "1");
        }
        // The flow reads the socket from the page and starts the demo on it itself.
        flow("restore-region-snapshot", Map.of("FAULTLINE_DEMO", NativeTools.demo().toString(),
                "FAULTLINE_IMAGE", image.toString(), "FAULTLINE_IMAGE_SIZE", "16M"));
    }

    @Test
    @Order(3)
    void aSnapshotPolicyShowsItsNextRunsBeforeAndAfterItIsSaved() {
        flow("policy", Map.of());
    }

    @Test
    @Order(4)
    void anAdminCreatesSeesOnceAndRevokesAToken() {
        flow("tokens", Map.of());
    }

    @Test
    @Order(5)
    void aViewerSeesEveryPageAndNoActionButton() {
        flow("viewer", Map.of());
    }

    /** Needs the agent side of migrations (issue 7): tagged like the migration end-to-end tests. */
    @Test
    @Order(6)
    @Tag("agent-migration")
    void anOperatorMigratesARegionToTheOtherNodeFromTheUiAndSeesItComplete() {
        flow("migration", Map.of("FAULTLINE_DEMO", NativeTools.demo().toString(),
                "FAULTLINE_HANDOFF", agent.status().handoffSocket(),
                "FAULTLINE_DUMP", DATA_DIR.resolve("ui-migration.dump").toString()));
    }

    /** Runs ui/e2e/{name}.mjs with node; fails with the end of its output unless it exits 0. */
    private void flow(String name, Map<String, String> extra) {
        Path script = UI.resolve("e2e").resolve(name + ".mjs");
        assertThat(script).isRegularFile();
        ProcessBuilder builder = new ProcessBuilder("node", script.toString()).directory(UI.toFile())
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> environment = builder.environment();
        Map<String, String> env = new HashMap<>(extra);
        env.put("FAULTLINE_URL", "http://localhost:" + port);
        env.put("FAULTLINE_TOKEN", adminToken());
        env.put("FAULTLINE_SCREENSHOTS", SCREENSHOTS.toString());
        env.put("CHROMIUM", CHROMIUM.toString());
        environment.putAll(env);

        System.out.println("=== ui flow " + name);
        List<String> lines = new ArrayList<>();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new AssertionError("node could not start (" + e.getMessage() + "): " + INSTALL_HINT, e);
        }
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    System.out.println("[" + name + "] " + line);
                    synchronized (lines) {
                        lines.add(line);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        reader.start();
        try {
            if (!process.waitFor(FLOW_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                throw new AssertionError("ui flow " + name + " did not finish within " + FLOW_TIMEOUT + ":\n" + tail(lines));
            }
            reader.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("ui flow " + name + " was interrupted", e);
        } finally {
            // The flow's own children (the demo workload) must not outlive it.
            process.descendants().forEach(ProcessHandle::destroy);
        }
        assertThat(process.exitValue()).as("ui flow %s exited with %d; its output ends:\n%s", name, process.exitValue(),
                tail(lines)).isZero();
    }

    private static String tail(List<String> lines) {
        synchronized (lines) {
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        }
    }
}
