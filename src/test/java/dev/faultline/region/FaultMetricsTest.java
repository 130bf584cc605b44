package dev.faultline.region;

import static org.assertj.core.api.Assertions.assertThat;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
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
}
