package dev.faultline.region;

import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Polls, every {@code faultline.regions.sync-interval} (default 1 s), the regions of agents
 * that push no changes (older agents). Agents that push them (PROTOCOL.md §1.11) are read in
 * full only when they (re)connect or events were lost.
 */
@Component
class RegionSync {

    private final RegionService regions;

    RegionSync(RegionService regions) {
        this.regions = regions;
    }

    @Scheduled(fixedDelayString = "${faultline.regions.sync-interval:1s}", initialDelayString = "${faultline.regions.sync-interval:1s}")
    void sync() {
        regions.syncPolled();
    }
}
