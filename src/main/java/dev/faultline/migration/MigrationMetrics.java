package dev.faultline.migration;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.stereotype.Component;

/**
 * Exports the running jobs' progress to Prometheus from the driver's last poll, so a scrape
 * never waits on an agent. A job that ended drops out.
 */
@Component
class MigrationMetrics implements MultiCollector {

    static final String REMAINING = "faultline_migration_remaining_bytes";
    static final String DIRTY_RATE = "faultline_migration_dirty_rate_bytes_per_second";
    /** 1 for the job's current phase, 0 for the others (a state set, as kube-state-metrics has them). */
    static final String PHASE = "faultline_migration_phase";

    private final MigrationDriver driver;

    MigrationMetrics(MigrationDriver driver, PrometheusRegistry registry) {
        this.driver = driver;
        registry.register(this);
    }

    @Override
    public MetricSnapshots collect() {
        GaugeSnapshot.Builder remaining = GaugeSnapshot.builder().name(REMAINING)
                .help("Bytes of the region the destination does not hold yet, per running migration");
        GaugeSnapshot.Builder dirtyRate = GaugeSnapshot.builder().name(DIRTY_RATE)
                .help("Rate at which the source workload dirties pages already sent, per running migration");
        GaugeSnapshot.Builder phase = GaugeSnapshot.builder().name(PHASE)
                .help("1 for the phase each running migration is in, 0 for the others");
        for (Map.Entry<UUID, MigrationStats> job : driver.live().entrySet()) {
            Labels labels = Labels.of("migration", job.getKey().toString());
            MigrationPhase current = driver.livePhase(job.getKey());
            if (current != null) {
                for (MigrationPhase p : MigrationPhase.values()) {
                    phase.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                            .labels(labels.add("phase", p.name())).value(p == current ? 1 : 0).build());
                }
            }
            remaining.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels)
                    .value(job.getValue().remainingBytes()).build());
            dirtyRate.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels)
                    .value(job.getValue().dirtyRateBytesPerSec()).build());
        }
        return MetricSnapshots.of(remaining.build(), dirtyRate.build(), phase.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of(REMAINING, DIRTY_RATE, PHASE);
    }
}
