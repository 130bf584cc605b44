package dev.faultline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentState;
import dev.faultline.agent.NodeAgents;
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
import org.springframework.test.context.ContextConfiguration;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Base of the end-to-end tests: the whole service on a random port with its real embedded
 * agent and a real H2 file database in a fresh data directory. Every subclass shares one
 * application context (and so one agent), started once per test run. With
 * {@code -Dfaultline.test.database=postgresql} the database is a fresh one on the throwaway
 * PostgreSQL server instead ({@link TestDatabase}).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ContextConfiguration(initializers = TestDatabase.class)
public abstract class ServiceTest {

    protected static final Path DATA_DIR = createDataDir();

    @LocalServerPort
    protected int port;

    /** The second node every end-to-end test has: an embedded agent of its own, for migrations. */
    protected static final String SECOND_NODE = "node-b";

    @Autowired
    protected AgentClient agent;

    @Autowired
    protected NodeAgents nodes;

    @DynamicPropertySource
    static void dataDir(DynamicPropertyRegistry registry) {
        registry.add("faultline.data-dir", DATA_DIR::toString);
        registry.add("faultline.node-name", () -> "node-a");
        registry.add("faultline.agent.extra-nodes[0].name", () -> SECOND_NODE);
        // above the agent's old fixed limit of 64, below what the descriptors allow: proves the
        // setting reaches the embedded agents (region/DensityTest)
        registry.add("faultline.agent.max-clients", () -> "300");
        // Both page channels on loopback, on ports the kernel picks (the agents report them), so
        // the two nodes can migrate to each other. Only an agent with page channels (issue 7)
        // takes the option; this goes once every agent has them.
        if (NativeTools.agentHasOption("--page-channel-listen")) {
            registry.add("faultline.agent.page-channel", () -> "127.0.0.1:0");
            registry.add("faultline.agent.extra-nodes[0].page-channel", () -> "127.0.0.1:0");
        }
    }

    @BeforeEach
    void agentsAreReady() throws InterruptedException {
        for (AgentClient node : nodes.all()) {
            assertThat(node.awaitState(AgentState.READY, Duration.ofSeconds(15)).state())
                    .as("the embedded agent of %s becomes READY", node.node()).isEqualTo(AgentState.READY);
        }
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
            return Files.createTempDirectory("fl-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
