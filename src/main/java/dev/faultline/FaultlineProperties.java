package dev.faultline;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Locale;
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
 * @param nodeName this service instance's node name: the host's name unless set. Regions,
 *     restore sessions and jobs are recorded with the node whose agent holds them.
 */
@ConfigurationProperties("faultline")
@Validated
public record FaultlineProperties(@NotNull @DefaultValue("data") Path dataDir,
        @NotNull @DefaultValue("") @Pattern(regexp = "|[a-z0-9]([-a-z0-9.]{0,62})", message = "must be a lower-case host-like name") String nodeName) {

    public FaultlineProperties {
        dataDir = dataDir.toAbsolutePath().normalize();
        if (nodeName.isBlank()) {
            nodeName = hostname();
        }
    }

    private static String hostname() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip().toLowerCase(Locale.ROOT);
            return name.isEmpty() ? "localhost" : name;
        } catch (IOException e) {
            return "localhost";
        }
    }
}
