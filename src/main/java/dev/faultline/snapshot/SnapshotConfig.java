package dev.faultline.snapshot;

import dev.faultline.region.RegionService;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

/**
 * The two ports the snapshot feature depends on, and the threads its jobs run on. When the agent
 * speaks the snapshot messages, replace {@link #snapshotEngine()} with the agent-backed engine.
 * Nothing else needs rewiring.
 */
@Configuration
class SnapshotConfig {

    @Bean
    SnapshotEngine snapshotEngine() {
        return new UnavailableSnapshotEngine();
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
