package dev.faultline.node;

import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * @param heartbeatInterval how often an instance reports the nodes it manages
 * @param downAfter a node whose instance has not reported for this long is DOWN
 */
@ConfigurationProperties("faultline.nodes")
@Validated
record NodeProperties(@NotNull @DefaultValue("2s") Duration heartbeatInterval,
        @NotNull @DefaultValue("10s") Duration downAfter) {
}
