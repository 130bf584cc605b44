package dev.faultline;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.boot.security.autoconfigure.UserDetailsServiceAutoConfiguration;

/**
 * The Faultline control plane. Boot's default in-memory user is excluded: every caller
 * authenticates with an API token, and that auto-configuration would log a generated password.
 */
@SpringBootApplication(exclude = UserDetailsServiceAutoConfiguration.class)
@ConfigurationPropertiesScan
public class FaultlineApplication {

    public static void main(String[] args) {
        SpringApplication.run(FaultlineApplication.class, args);
    }
}
