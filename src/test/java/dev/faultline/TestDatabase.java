package dev.faultline;

import java.util.Map;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.MapPropertySource;

/**
 * Points a test's application context at a fresh database on the throwaway PostgreSQL server
 * when the run selects it ({@code -Dfaultline.test.database=postgresql}, the Maven
 * {@code postgresql-tests} execution); otherwise leaves the context on H2 as configured.
 */
public class TestDatabase implements ApplicationContextInitializer<ConfigurableApplicationContext> {

    @Override
    public void initialize(ConfigurableApplicationContext context) {
        if (!PostgresServer.selected()) {
            return;
        }
        String url = PostgresServer.get().createDatabase();
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("test-postgresql", Map.of(
                "spring.datasource.url", url,
                "spring.datasource.username", PostgresServer.USER,
                "spring.datasource.password", "")));
    }
}
