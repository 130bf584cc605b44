package dev.faultline;

import jakarta.validation.constraints.NotNull;
import java.nio.file.Path;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Settings shared by every feature.
 *
 * @param dataDir where the service keeps its state: the H2 database, the admin token, the
 *     agent's state directory and socket. Relative paths are resolved against the working
 *     directory at start.
 */
@ConfigurationProperties("faultline")
@Validated
public record FaultlineProperties(@NotNull @DefaultValue("data") Path dataDir) {

    public FaultlineProperties {
        dataDir = dataDir.toAbsolutePath().normalize();
    }
}
