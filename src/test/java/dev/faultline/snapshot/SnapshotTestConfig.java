package dev.faultline.snapshot;

import dev.faultline.node.LocalNodes;
import dev.faultline.node.NodeStatus;
import java.util.Set;
import dev.faultline.MutableClock;
import java.time.Instant;
import dev.faultline.FaultlineProperties;
import dev.faultline.event.EventProperties;
import dev.faultline.event.EventService;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

/**
 * The snapshot feature for slice tests: its service and job runner over the slice's database,
 * with a fake engine and region directory, a test clock, and jobs run on the caller's thread.
 */
@TestConfiguration(proxyBeanMethods = false)
@Import({SnapshotService.class, SnapshotJobs.class, SnapshotNodeDown.class, SnapshotMetrics.class, EventService.class})
@EnableConfigurationProperties({SnapshotProperties.class, FaultlineProperties.class, EventProperties.class})
public class SnapshotTestConfig {

    public static final Instant START = Instant.parse("2026-01-05T08:00:00Z");

    @Bean
    MutableClock clock() {
        return new MutableClock(START);
    }

    @Bean
    FakeSnapshotEngine snapshotEngine() {
        return new FakeSnapshotEngine();
    }

    /** Every node's engine is the fake: jobs run here for the nodes {@link #localNodes} names. */
    @Bean
    SnapshotEngines snapshotEngines(FakeSnapshotEngine engine) {
        return node -> engine;
    }

    @Bean
    io.micrometer.core.instrument.simple.SimpleMeterRegistry meterRegistry() {
        return new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    }

    @Bean
    FakeRestoreSessions restoreSessions() {
        return new FakeRestoreSessions();
    }

    @Bean
    FakeRegionDirectory regionDirectory() {
        return new FakeRegionDirectory();
    }

    /** The node every {@link FakeRegionDirectory} region is on; this "instance" manages it. */
    public static final String NODE = "node-a";

    @Bean
    LocalNodes localNodes() {
        return () -> Set.of(NODE);
    }

    /** Nodes tests declare DOWN; every other node reports. */
    public static final Set<String> DOWN_NODES = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Bean
    NodeStatus nodeStatus() {
        return node -> DOWN_NODES.contains(node) ? java.util.Optional.of("node " + node + " is DOWN (test)")
                : java.util.Optional.empty();
    }

    @Bean
    HoldingExecutor snapshotJobExecutor() {
        return new HoldingExecutor();
    }

    /** What a service restart does to snapshot jobs, for tests outside this package. */
    @Bean
    Restart snapshotRestart(SnapshotJobs jobs) {
        return jobs::recoverAfterRestart;
    }

    public interface Restart {
        void recoverJobs();
    }
}
