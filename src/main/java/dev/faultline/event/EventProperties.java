package dev.faultline.event;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * @param retention how long events are kept; older ones are deleted once an hour
 * @param pollInterval how often the event stream looks for events of other instances; on
 *     PostgreSQL a notification wakes it at once, so this is only the safety net there
 * @param maxStreamsPerToken how many event streams one token may hold open on this instance;
 *     one more is refused with 429 (a browser tab holds one)
 */
@ConfigurationProperties("faultline.events")
@Validated
public record EventProperties(@NotNull @DefaultValue("14d") Duration retention,
        @NotNull @DefaultValue("250ms") Duration pollInterval,
        @Min(1) @Max(1000) @DefaultValue("8") int maxStreamsPerToken) {
}
