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
import dev.faultline.label.LabelSelector;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Exports the agents' fault statistics to Prometheus (/actuator/prometheus) from what they last
 * pushed, so a scrape never waits on an agent: sums over every region ({@code faultline_host_*})
 * always, and series of their own for the regions {@code faultline.metrics.per-region} chooses
 * (docs/metrics.md has the number of series each costs). The agent counts latencies in log2
 * nanosecond buckets; they become a classic histogram with power-of-two bounds from 1 µs to
 * 17 s, which is where uffd fault latencies live.
 */
@Component
class FaultMetrics implements MultiCollector {

    /** Agent bucket i holds [2^i, 2^(i+1)) ns; exported bounds are 2^(i+1) ns for i in [FIRST, LAST]. */
    static final int FIRST_BUCKET = 9;
    static final int LAST_BUCKET = 33;

    private static final Logger log = LoggerFactory.getLogger(FaultMetrics.class);

    private final RegionService regions;
    private final Predicate<AgentRegion> matching;
    private final int top;

    FaultMetrics(RegionService regions, PrometheusRegistry registry, RegionMetricsProperties properties) {
        this.regions = regions;
        String mode = properties.perRegion();
        this.top = mode.startsWith("top:") ? Integer.parseInt(mode.substring(4)) : mode.equals("off") ? 0 : -1;
        if (mode.startsWith("selector:")) {
            LabelSelector selector = LabelSelector.parse(mode.substring("selector:".length()));
            this.matching = r -> selector.matches(r.labels() == null ? Map.of() : r.labels());
        } else {
            this.matching = r -> true;
        }
        log.info("per-region metrics: {}", mode);
        registry.register(this);
    }

    @Override
    public MetricSnapshots collect() {
        return collect(regions.live().values(), matching, top);
    }

    /**
     * The host-level sums over every region, and the series of the regions chosen: those
     * {@code matching}, then the {@code top} with the most faults (negative: all of them).
     */
    static MetricSnapshots collect(Collection<AgentRegion> live, Predicate<AgentRegion> matching, int top) {
        List<AgentRegion> chosen = live.stream().filter(matching).collect(Collectors.toCollection(ArrayList::new));
        if (top >= 0 && chosen.size() > top) {
            chosen.sort(Comparator.comparingLong(FaultMetrics::faults).reversed());
            chosen = chosen.subList(0, top);
        }
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
        for (AgentRegion r : chosen) {
            series(Labels.of("region", r.id().toString(), "name", r.name()), List.of(r), latency, faults, installed,
                    blocked, pages);
        }
        HistogramSnapshot.Builder hostLatency = HistogramSnapshot.builder().name("faultline_host_fault_duration_seconds")
                .help("Fault latency over every region of this instance's agents").unit(Unit.SECONDS);
        CounterSnapshot.Builder hostFaults = CounterSnapshot.builder().name("faultline_host_faults")
                .help("uffd fault events handled in the regions the agents hold, by kind");
        CounterSnapshot.Builder hostInstalled = CounterSnapshot.builder().name("faultline_host_pages_installed")
                .help("Pages installed into the regions the agents hold, by path");
        CounterSnapshot.Builder hostBlocked = CounterSnapshot.builder().name("faultline_host_blocked_seconds")
                .help("Time faulting threads waited for the agents, in the regions they hold").unit(Unit.SECONDS);
        GaugeSnapshot.Builder hostPages = GaugeSnapshot.builder().name("faultline_host_region_pages")
                .help("Pages of the regions the agents hold, total and present");
        series(Labels.EMPTY, live, hostLatency, hostFaults, hostInstalled, hostBlocked, hostPages);
        GaugeSnapshot.Builder count = GaugeSnapshot.builder().name("faultline_host_regions")
                .help("Regions the agents hold, by state");
        Map<String, Long> byState = new TreeMap<>(Map.of("ATTACHED", 0L, "DETACHING", 0L));
        live.forEach(r -> byState.merge(r.state() == null ? "UNKNOWN" : r.state(), 1L, Long::sum));
        byState.forEach((state, n) -> count.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                .labels(Labels.of("state", state)).value(n).build()));
        return MetricSnapshots.of(latency.build(), faults.build(), installed.build(), blocked.build(), pages.build(),
                hostLatency.build(), hostFaults.build(), hostInstalled.build(), hostBlocked.build(), hostPages.build(),
                count.build());
    }

    /** One set of series with {@code labels}, summing {@code regions}. */
    private static void series(Labels labels, Collection<AgentRegion> regions, HistogramSnapshot.Builder latency,
            CounterSnapshot.Builder faults, CounterSnapshot.Builder installed, CounterSnapshot.Builder blocked,
            GaugeSnapshot.Builder pages) {
        long[] buckets = new long[64];
        long sum = 0, missing = 0, wp = 0, minor = 0, demand = 0, around = 0, prefetch = 0, background = 0;
        long blockedNs = 0, total = 0, present = 0;
        boolean anyLatency = false, anyFaults = false, anyInstalled = false, anyStats = false, anyPages = false;
        for (AgentRegion r : regions) {
            RegionStats s = r.stats();
            if (s != null) {
                anyStats = true;
                blockedNs += s.blockedNs();
                if (s.latencyNs() != null) {
                    anyLatency = true;
                    sum += s.latencyNs().sum();
                    List<Long> b = s.latencyNs().buckets();
                    for (int i = 0; b != null && i < Math.min(64, b.size()); i++) {
                        buckets[i] += b.get(i);
                    }
                }
                if (s.faults() != null) {
                    anyFaults = true;
                    missing += s.faults().missing();
                    wp += s.faults().wp();
                    minor += s.faults().minor();
                }
                if (s.installed() != null) {
                    anyInstalled = true;
                    demand += s.installed().demand();
                    around += s.installed().faultAround();
                    prefetch += s.installed().prefetch();
                    background += s.installed().background();
                }
            }
            if (r.pages() != null) {
                anyPages = true;
                total += r.pages().total();
                present += r.pages().present();
            }
        }
        boolean host = labels.isEmpty();
        if (anyLatency || host) {
            List<Long> b = new ArrayList<>(64);
            for (long v : buckets) {
                b.add(v);
            }
            latency.dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(labels)
                    .classicHistogramBuckets(buckets(b)).sum(sum / 1e9).build());
        }
        if (anyFaults || host) {
            counter(faults, labels, "kind", Map.of("missing", missing, "wp", wp, "minor", minor));
        }
        if (anyInstalled || host) {
            counter(installed, labels, "path", Map.of("demand", demand, "fault_around", around, "prefetch", prefetch,
                    "background", background));
        }
        if (anyStats || host) {
            blocked.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels)
                    .value(blockedNs / 1e9).build());
        }
        if (anyPages || host) {
            AgentRegion.Pages p = new AgentRegion.Pages(total, present);
            gauge(pages, labels, "state", "total", AgentRegion.Pages::total, p);
            gauge(pages, labels, "state", "present", AgentRegion.Pages::present, p);
        }
    }

    private static long faults(AgentRegion r) {
        RegionStats s = r.stats();
        return s == null || s.faults() == null ? 0 : s.faults().missing() + s.faults().wp() + s.faults().minor();
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of("faultline_fault_duration_seconds", "faultline_faults", "faultline_pages_installed",
                "faultline_blocked_seconds", "faultline_region_pages", "faultline_host_fault_duration_seconds",
                "faultline_host_faults", "faultline_host_pages_installed", "faultline_host_blocked_seconds",
                "faultline_host_region_pages", "faultline_host_regions");
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
