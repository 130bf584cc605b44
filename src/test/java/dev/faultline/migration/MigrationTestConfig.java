package dev.faultline.migration;

import dev.faultline.FaultlineProperties;
import dev.faultline.MutableClock;
import dev.faultline.event.EventProperties;
import dev.faultline.event.EventService;
import java.time.Instant;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import dev.faultline.security.SecretBox;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

/**
 * The migration feature for slice tests: its service and driver over the slice's database, with
 * fake agents and directory and a test clock. The driver does not poll on its own (poll
 * interval 0): tests call {@link MigrationDriver#poll()} when the agents have moved.
 */
@TestConfiguration(proxyBeanMethods = false)
@Import({MigrationService.class, MigrationDriver.class, MigrationNodeDown.class, EventService.class})
@EnableConfigurationProperties({MigrationProperties.class, FaultlineProperties.class, EventProperties.class})
class MigrationTestConfig {

    static final Instant START = Instant.parse("2026-11-24T20:00:00Z");

    @Bean
    MutableClock clock() {
        return new MutableClock(START);
    }

    @Bean
    SecretBox secretBox() throws java.io.IOException {
        return SecretBox.withKeyFile(java.nio.file.Files.createTempDirectory("fl-key-").resolve("secret.key"));
    }

    @Bean
    FakeMigrationEngine migrationEngine() {
        return new FakeMigrationEngine();
    }

    @Bean
    FakeMigrationDirectory migrationDirectory() {
        return new FakeMigrationDirectory();
    }
}
