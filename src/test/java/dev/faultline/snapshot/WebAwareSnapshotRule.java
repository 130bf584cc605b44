package dev.faultline.snapshot;

import dev.faultline.web.ApiException;

/** Breaks the layering rule on purpose (ArchitectureTest's negative case): a domain rule throwing web's exception. */
public final class WebAwareSnapshotRule {

    private WebAwareSnapshotRule() {
    }

    static void requireReady(boolean ready) {
        if (!ready) {
            throw ApiException.conflict("snapshot is not READY");
        }
    }
}
