package dev.faultline.event;

import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/** @param retention how long events are kept; older ones are deleted once an hour */
@ConfigurationProperties("faultline.events")
@Validated
public record EventProperties(@NotNull @DefaultValue("14d") Duration retention) {
}
