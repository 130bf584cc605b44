package dev.faultline.snapshot;

import dev.faultline.agent.AgentException;
import dev.faultline.agent.NodeAgents;
import dev.faultline.region.RegionService;
import dev.faultline.restore.RestoreService;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

/**
 * The ports the snapshot feature depends on, and the threads its jobs run on. The engine of
 * a node is that node's agent's ({@link AgentSnapshotEngine}); an agent writes images only inside
 * {@code faultline.snapshots.dir}, which the embedded agent is given as its snapshot directory.
 */
@Configuration
class SnapshotConfig {

    @Bean
    SnapshotEngines snapshotEngines(NodeAgents agents) {
        return node -> {
            try {
                // a snapshot whose region's node was never known (taken before nodes existed) stays on the primary
                return new AgentSnapshotEngine((node == null ? agents.local() : agents.forNode(node)).snapshots());
            } catch (AgentException e) {
                throw new SnapshotEngineException("snapshot jobs of node " + node + " cannot run here: "
                        + e.getMessage(), e);
            }
        };
    }

    @Bean
    RegionDirectory regionDirectory(RegionService regions) {
        return new RegionServiceDirectory(regions);
    }

    @Bean
    RestoreSessions restoreSessions(RestoreService restores) {
        return new RestoreServiceSessions(restores);
    }

    /** Jobs still running at shutdown are interrupted; the next start marks them FAILED. */
    @Bean
    ThreadPoolTaskExecutor snapshotJobExecutor(SnapshotProperties properties) {
        ThreadPoolTaskExecutor executor = new ThreadPoolTaskExecutor();
        executor.setCorePoolSize(properties.jobThreads());
        executor.setMaxPoolSize(properties.jobThreads());
        executor.setThreadNamePrefix("snapshot-job-");
        executor.setWaitForTasksToCompleteOnShutdown(false);
        return executor;
    }
}
