package dev.faultline.snapshot;

import dev.faultline.restore.RestoreService;
import java.util.UUID;

/** Restore sessions of snapshots as the restore feature records them. */
class RestoreServiceSessions implements RestoreSessions {

    private final RestoreService restores;

    RestoreServiceSessions(RestoreService restores) {
        this.restores = restores;
    }

    @Override
    public void recordOpened(String node, UUID sessionId) {
        restores.recordOpened(node, sessionId);
    }
}
