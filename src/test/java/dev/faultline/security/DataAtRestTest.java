package dev.faultline.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faultline.FaultlineApplication;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * On a fresh start, whatever the process umask, the service's data directory and the secrets
 * and database in it are its user's alone: {@code stat} shows 0700 and 0600.
 */
class DataAtRestTest {

    @Test
    void aFreshStartCreatesThePrivateDataDirectoryAndPrivateFiles() throws IOException {
        // under /tmp: the agent's socket path must stay short; not yet existing: the service creates it
        Path dataDir = Files.createTempDirectory("fl-rest-").resolve("data");
        try (ConfigurableApplicationContext service = new SpringApplicationBuilder(FaultlineApplication.class).run(
                "--server.port=0", "--faultline.data-dir=" + dataDir, "--faultline.node-name=rest-node",
                "--spring.main.banner-mode=off")) {
            assertThat(mode(dataDir)).isEqualTo("rwx------");
            for (String name : List.of("admin-token", "secret.key", "faultline.mv.db")) {
                assertThat(dataDir.resolve(name)).as(name).exists();
                assertThat(mode(dataDir.resolve(name))).as(name).isEqualTo("rw-------");
            }
            try (Stream<Path> files = Files.list(dataDir)) {
                assertThat(files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().equals("faultline-agent")))
                        .allSatisfy(f -> assertThat(mode(f)).as(f.toString()).isEqualTo("rw-------"));
            }
        }
    }

    private static String mode(Path path) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
