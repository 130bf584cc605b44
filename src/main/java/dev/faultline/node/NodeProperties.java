package dev.faultline.node;

import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * @param heartbeatInterval how often an instance reports the nodes it manages
 * @param downAfter a node whose instance has not reported for this long is DOWN
 * @param requestPollInterval how often an instance looks for what was asked through another
 *     instance of its nodes (detaches, restore sessions, snapshot jobs); read by those
 *     features' schedules, bound here to be validated and documented in one place
 * @param livenessInterval how often one instance looks for nodes not reported for
 *     {@code downAfter} (read by {@link NodeLiveness}'s schedule): a node is marked DOWN between
 *     {@code downAfter} and {@code downAfter + livenessInterval} after its last report
 */
@ConfigurationProperties("faultline.nodes")
@Validated
record NodeProperties(@NotNull @DefaultValue("2s") Duration heartbeatInterval,
        @NotNull @DefaultValue("10s") Duration downAfter,
        @NotNull @DefaultValue("5s") Duration requestPollInterval,
        @NotNull @DefaultValue("5s") Duration livenessInterval) {
}
