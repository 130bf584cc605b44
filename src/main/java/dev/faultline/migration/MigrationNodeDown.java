package dev.faultline.migration;

import dev.faultline.node.NodeDownHandler;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import org.springframework.stereotype.Component;

/**
 * A node that stopped reporting cannot set up a migration job: its PENDING jobs fail with the
 * reason, so none waits forever and the region can be migrated again (an instance that comes back
 * cancels whatever its agent had started, as for any ended job). Jobs that are already running are
 * left alone: the agents carry on without the service, and past switchover the destination may
 * hold the only current copy of some pages, so only the agents' own reports end such a job.
 */
@Component
class MigrationNodeDown implements NodeDownHandler {

    private final MigrationRepository jobs;
    private final MigrationDriver driver;
    private final Clock clock;

    MigrationNodeDown(MigrationRepository jobs, MigrationDriver driver, Clock clock) {
        this.jobs = jobs;
        this.driver = driver;
        this.clock = clock;
    }

    @Override
    public void nodeDown(String node, Instant lastHeartbeat, String reason) {
        Instant now = clock.instant();
        for (Migration job : jobs.findByPhaseInOrderByCreatedAtAsc(EnumSet.of(MigrationPhase.PENDING))) {
            if (job.sourceNode().equals(node) || job.destinationNode().equals(node)) {
                job.fail("not set up: " + reason, now);
                jobs.save(job);
                driver.publishFailed(job, MigrationPhase.PENDING, Map.of("node", node));
            }
        }
    }
}
