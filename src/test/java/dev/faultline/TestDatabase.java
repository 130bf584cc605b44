package dev.faultline;

import java.util.Map;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.event.ContextClosedEvent;
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
        PostgresServer server = PostgresServer.get();
        String url = server.createDatabase();
        server.contextOpened();
        context.addApplicationListener(event -> {
            if (event instanceof ContextClosedEvent closed && closed.getApplicationContext() == context) {
                server.contextClosed();
            }
        });
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("test-postgresql", Map.of(
                "spring.datasource.url", url,
                "spring.datasource.username", PostgresServer.USER,
                "spring.datasource.password", "")));
    }
}
