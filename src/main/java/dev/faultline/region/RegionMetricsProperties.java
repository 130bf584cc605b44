package dev.faultline.region;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Which regions have Prometheus series of their own (docs/metrics.md: each costs 38
 * series). The host-level sums ({@code faultline_host_*}) are exported whatever this says.
 *
 * @param perRegion {@code all} (every region the agents hold), {@code off}, {@code top:N} (the N
 *     regions with the most faults), or {@code selector:<label selector>} (e.g.
 *     {@code selector:tier=db,env in (prod)})
 */
@ConfigurationProperties("faultline.metrics")
@Validated
public record RegionMetricsProperties(
        @NotNull @DefaultValue("all") @Pattern(regexp = "all|off|top:[1-9][0-9]{0,5}|selector:.+",
                message = "must be all, off, top:N or selector:<label selector>") String perRegion) {
}
