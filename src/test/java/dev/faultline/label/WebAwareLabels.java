package dev.faultline.label;

import dev.faultline.web.ApiException;

/** Breaks the layering rule on purpose (ArchitectureTest's negative case): the shared kernel importing web. */
public final class WebAwareLabels {

    private WebAwareLabels() {
    }

    static ApiException invalid(String selector) {
        return ApiException.conflict("bad selector " + selector);
    }
}
