package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.agent.AgentRegion;
import dev.faultline.agent.RegionStats;
import dev.faultline.label.LabelSelector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class FaultMetricsTest {

    @Test
    void agentLog2BucketsFoldIntoPowerOfTwoSecondBoundsWithNothingLost() {
        List<Long> agent = new ArrayList<>(Collections.nCopies(64, 0L));
        agent.set(3, 5L);   // 8-16 ns: below the first exported bound
        agent.set(12, 7L);  // 4096-8192 ns
        agent.set(40, 2L);  // ~18 minutes: above the last bound

        ClassicHistogramBuckets buckets = FaultMetrics.buckets(agent);

        assertThat(buckets.getUpperBound(0)).isEqualTo(1024e-9);
        assertThat(buckets.getCount(0)).as("small latencies land in the first bucket").isEqualTo(5);
        int slotOf8192ns = 12 - FaultMetrics.FIRST_BUCKET;
        assertThat(buckets.getUpperBound(slotOf8192ns)).isEqualTo(8192e-9);
        assertThat(buckets.getCount(slotOf8192ns)).isEqualTo(7);
        assertThat(buckets.getUpperBound(buckets.size() - 1)).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(buckets.getCount(buckets.size() - 1)).isEqualTo(2);
        long total = 0;
        for (int i = 0; i < buckets.size(); i++) {
            total += buckets.getCount(i);
        }
        assertThat(total).isEqualTo(14);
    }

    @Test
    void topNKeepsTheBusiestRegionsOwnSeriesAndTheHostSumsCoverEveryRegion() {
        List<AgentRegion> live = List.of(region("quiet", 1, Map.of("tier", "web")), region("busy", 50, Map.of("tier", "db")),
                region("middle", 10, Map.of("tier", "db")));

        MetricSnapshots top1 = FaultMetrics.collect(live, r -> true, 1);

        assertThat(regionsWithSeries(top1)).containsExactly("busy");
        assertThat(value(top1, "faultline_host_faults", "kind", "missing")).isEqualTo(61);
        assertThat(value(top1, "faultline_host_region_pages", "state", "total")).isEqualTo(3 * 16);
        assertThat(value(top1, "faultline_host_regions", "state", "ATTACHED")).isEqualTo(3);
    }

    @Test
    void offLeavesOnlyTheHostSumsAndASelectorChoosesByLabels() {
        List<AgentRegion> live = List.of(region("a", 1, Map.of("tier", "web")), region("b", 2, Map.of("tier", "db")));
        LabelSelector db = LabelSelector.parse("tier=db");

        assertThat(regionsWithSeries(FaultMetrics.collect(live, r -> true, 0))).isEmpty();
        assertThat(value(FaultMetrics.collect(live, r -> true, 0), "faultline_host_faults", "kind", "missing")).isEqualTo(3);
        assertThat(regionsWithSeries(FaultMetrics.collect(live, r -> db.matches(r.labels()), -1))).containsExactly("b");
        assertThat(regionsWithSeries(FaultMetrics.collect(live, r -> true, -1))).containsExactlyInAnyOrder("a", "b");
    }

    private static AgentRegion region(String name, long missing, Map<String, String> labels) {
        RegionStats stats = new RegionStats(new RegionStats.Faults(missing, 0, 0), new RegionStats.Events(0, 0, 0, 0),
                new RegionStats.Installed(missing, 0, 0, 0), 0, missing * 4096,
                new RegionStats.Latency(missing, missing * 1000, 1000, 1000, 1000, Collections.nCopies(64, 0L)), 0,
                new RegionStats.Retries(0, 0));
        return new AgentRegion(UUID.randomUUID(), name, labels, null, 0, 16 * 4096, 4096, List.of("missing"),
                "libfaultline", null, "ATTACHED", null, new AgentRegion.Pages(16, missing), stats);
    }

    private static Set<String> regionsWithSeries(MetricSnapshots snapshots) {
        Set<String> names = new TreeSet<>();
        for (MetricSnapshot m : snapshots) {
            if (!m.getMetadata().getPrometheusName().startsWith("faultline_host_")) {
                m.getDataPoints().forEach(p -> {
                    String n = p.getLabels().get("name");
                    if (n != null) {
                        names.add(n);
                    }
                });
            }
        }
        return names;
    }

    private static double value(MetricSnapshots snapshots, String metric, String label, String labelValue) {
        for (MetricSnapshot m : snapshots) {
            if (m.getMetadata().getPrometheusName().equals(metric)) {
                for (DataPointSnapshot p : m.getDataPoints()) {
                    if (labelValue.equals(p.getLabels().get(label))) {
                        if (p instanceof CounterSnapshot.CounterDataPointSnapshot c) {
                            return c.getValue();
                        }
                        if (p instanceof GaugeSnapshot.GaugeDataPointSnapshot g) {
                            return g.getValue();
                        }
                    }
                }
            }
        }
        throw new AssertionError("no " + metric + "{" + label + "=" + labelValue + "}");
    }
}
