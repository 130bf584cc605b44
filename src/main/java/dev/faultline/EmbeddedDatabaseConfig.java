package dev.faultline;

import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Without a configured {@code spring.datasource.url}, the service keeps an H2 file database in
 * {@code <faultline.data-dir>/faultline}. The URL is built from the resolved, absolute data
 * directory because H2 refuses paths that are implicitly relative to the working directory.
 * PostgreSQL's mode keeps the SQL of the migrations valid on both databases.
 */
@Configuration
@ConditionalOnExpression("'${spring.datasource.url:}'.isEmpty()")
class EmbeddedDatabaseConfig {

    static final String H2_OPTIONS = ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH;TRACE_LEVEL_FILE=0";

    @Bean
    JdbcConnectionDetails embeddedH2(DataDirectory dataDir) {
        // H2 creates its file with the process umask; created first, 0600, it keeps that mode
        dataDir.createPrivate("faultline.mv.db");
        String url = "jdbc:h2:file:" + dataDir.path().resolve("faultline") + H2_OPTIONS;
        return new JdbcConnectionDetails() {
            @Override
            public String getUsername() {
                return "sa";
            }

            @Override
            public String getPassword() {
                return "";
            }

            @Override
            public String getJdbcUrl() {
                return url;
            }
        };
    }
}
