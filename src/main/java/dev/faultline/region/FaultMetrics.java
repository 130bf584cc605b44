package dev.faultline.region;

import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.RegionStats;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import org.springframework.stereotype.Component;

/**
 * Exports the agent's per-region fault statistics to Prometheus (/actuator/prometheus) from
 * the last sync, so a scrape never waits on the agent. The agent counts latencies in log2
 * nanosecond buckets; they become a classic histogram with power-of-two bounds from 1 µs to
 * 17 s, which is where uffd fault latencies live.
 */
@Component
class FaultMetrics implements MultiCollector {

    /** Agent bucket i holds [2^i, 2^(i+1)) ns; exported bounds are 2^(i+1) ns for i in [FIRST, LAST]. */
    static final int FIRST_BUCKET = 9;
    static final int LAST_BUCKET = 33;

    private final RegionService regions;

    FaultMetrics(RegionService regions, PrometheusRegistry registry) {
        this.regions = regions;
        registry.register(this);
    }

    @Override
    public MetricSnapshots collect() {
        Map<UUID, AgentRegion> live = regions.live();
        HistogramSnapshot.Builder latency = HistogramSnapshot.builder().name("faultline_fault_duration_seconds")
                .help("Fault latency, from reading the uffd event to the ioctl that woke the faulting thread")
                .unit(Unit.SECONDS);
        CounterSnapshot.Builder faults = CounterSnapshot.builder().name("faultline_faults")
                .help("uffd fault events handled, by kind");
        CounterSnapshot.Builder installed = CounterSnapshot.builder().name("faultline_pages_installed")
                .help("Pages installed into regions, by the path that installed them");
        CounterSnapshot.Builder blocked = CounterSnapshot.builder().name("faultline_blocked_seconds")
                .help("Total time faulting threads waited for the agent").unit(Unit.SECONDS);
        GaugeSnapshot.Builder pages = GaugeSnapshot.builder().name("faultline_region_pages")
                .help("Pages of a region, total and present");
        for (AgentRegion r : live.values()) {
            Labels region = Labels.of("region", r.id().toString(), "name", r.name());
            RegionStats s = r.stats();
            if (s != null) {
                if (s.latencyNs() != null) {
                    latency.dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(region)
                            .classicHistogramBuckets(buckets(s.latencyNs().buckets()))
                            .sum(s.latencyNs().sum() / 1e9).build());
                }
                if (s.faults() != null) {
                    counter(faults, region, "kind", Map.of("missing", s.faults().missing(), "wp", s.faults().wp(),
                            "minor", s.faults().minor()));
                }
                if (s.installed() != null) {
                    counter(installed, region, "path", Map.of("demand", s.installed().demand(),
                            "fault_around", s.installed().faultAround(), "prefetch", s.installed().prefetch(),
                            "background", s.installed().background()));
                }
                blocked.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(region)
                        .value(s.blockedNs() / 1e9).build());
            }
            if (r.pages() != null) {
                gauge(pages, region, "state", "total", AgentRegion.Pages::total, r.pages());
                gauge(pages, region, "state", "present", AgentRegion.Pages::present, r.pages());
            }
        }
        return MetricSnapshots.of(latency.build(), faults.build(), installed.build(), blocked.build(), pages.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of("faultline_fault_duration_seconds", "faultline_faults", "faultline_pages_installed",
                "faultline_blocked_seconds", "faultline_region_pages");
    }

    /** Folds the agent's 64 log2 buckets into the exported bounds; what lies above the last goes to +Inf. */
    static ClassicHistogramBuckets buckets(List<Long> agentBuckets) {
        int n = LAST_BUCKET - FIRST_BUCKET + 1;
        double[] bounds = new double[n + 1];
        long[] counts = new long[n + 1];
        for (int i = 0; i < n; i++) {
            bounds[i] = Math.scalb(1.0, FIRST_BUCKET + i + 1) / 1e9;
        }
        bounds[n] = Double.POSITIVE_INFINITY;
        for (int i = 0; agentBuckets != null && i < agentBuckets.size(); i++) {
            int slot = Math.min(Math.max(i - FIRST_BUCKET, 0), n);
            counts[slot] += agentBuckets.get(i);
        }
        return ClassicHistogramBuckets.of(bounds, counts);
    }

    private static void counter(CounterSnapshot.Builder builder, Labels region, String name, Map<String, Long> values) {
        values.forEach((value, count) -> builder.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                .labels(region.add(name, value)).value(count).build()));
    }

    private static void gauge(GaugeSnapshot.Builder builder, Labels region, String name, String value,
            Function<AgentRegion.Pages, Long> read, AgentRegion.Pages pages) {
        builder.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(region.add(name, value))
                .value(read.apply(pages)).build());
    }
}
