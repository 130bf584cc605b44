package dev.faultline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Base of the end-to-end tests: the whole service on a random port with its real embedded
 * agent and a real H2 file database in a fresh data directory. Every subclass shares one
 * application context (and so one agent), started once per test run.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
public abstract class ServiceTest {

    protected static final Path DATA_DIR = createDataDir();

    @LocalServerPort
    protected int port;

    @Autowired
    protected AgentClient agent;

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry registry) {
        registry.add("faultline.data-dir", DATA_DIR::toString);
    }

    @BeforeEach
    void agentIsReady() throws InterruptedException {
        assertThat(agent.awaitState(AgentState.READY, Duration.ofSeconds(15)).state())
                .as("the embedded agent becomes READY").isEqualTo(AgentState.READY);
    }

    protected TestApi api(String token) {
        return new TestApi(port, token);
    }

    protected TestApi anonymous() {
        return new TestApi(port, null);
    }

    protected TestApi admin() {
        return api(adminToken());
    }

    protected static String adminToken() {
        try {
            return Files.readString(DATA_DIR.resolve("admin-token")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path createDataDir() {
        try {
            // Under /tmp rather than target/: the agent's socket path must stay short.
            return Files.createTempDirectory("faultline-test-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
