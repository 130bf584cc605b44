package dev.faultline.region;

import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Converges on the agent's regions every {@code faultline.regions.sync-interval} (default 1 s). */
@Component
class RegionSync {

    private final RegionService regions;

    RegionSync(RegionService regions) {
        this.regions = regions;
    }

    @Scheduled(fixedDelayString = "${faultline.regions.sync-interval:1s}", initialDelayString = "${faultline.regions.sync-interval:1s}")
    void sync() {
        regions.sync();
    }
}
