package dev.faultline.snapshot;

import dev.faultline.agent.AgentClient;
import dev.faultline.region.RegionService;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

/**
 * The two ports the snapshot feature depends on, and the threads its jobs run on. The engine is
 * the agent's ({@link AgentSnapshotEngine}); the agent writes images only inside
 * {@code faultline.snapshots.dir}, which the embedded agent is given as its snapshot directory.
 */
@Configuration
class SnapshotConfig {

    @Bean
    SnapshotEngine snapshotEngine(AgentClient agent) {
        return new AgentSnapshotEngine(agent);
    }

    @Bean
    RegionDirectory regionDirectory(RegionService regions) {
        return new RegionServiceDirectory(regions);
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
