package dev.faultline.restore;

import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Converges on the agent's restore sessions at the regions' sync interval. */
@Component
class RestoreSync {

    private final RestoreService restores;

    RestoreSync(RestoreService restores) {
        this.restores = restores;
    }

    @Scheduled(fixedDelayString = "${faultline.regions.sync-interval:1s}", initialDelayString = "${faultline.regions.sync-interval:1s}")
    void sync() {
        restores.sync();
    }
}
