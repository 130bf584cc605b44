package dev.faultline.security;

import dev.faultline.DataDirectory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.stereotype.Component;

/**
 * On the first start (no token at all) creates an admin token and writes its secret to
 * {@code <data-dir>/admin-token}, readable by the service's user only. The log names the file,
 * never the secret.
 */
@Component
class AdminTokenBootstrap implements ApplicationRunner {

    private static final Logger log = LoggerFactory.getLogger(AdminTokenBootstrap.class);
    static final String FILE_NAME = "admin-token";

    private final TokenService tokens;
    private final DataDirectory dataDir;

    AdminTokenBootstrap(TokenService tokens, DataDirectory dataDir) {
        this.tokens = tokens;
        this.dataDir = dataDir;
    }

    @Override
    public void run(ApplicationArguments args) throws IOException {
        Path file = dataDir.path().resolve(FILE_NAME);
        if (tokens.any()) {
            log.debug("API tokens exist; not creating an admin token");
            return;
        }
        // The file is written before the token is stored: a crash in between leaves no token, so
        // the next start issues a new one, instead of a stored token whose secret nobody has.
        String secret = tokens.newSecret();
        dataDir.writePrivate(FILE_NAME, (secret + "\n").getBytes(StandardCharsets.US_ASCII)); // fsynced, 0600
        tokens.issue("admin", Role.ADMIN, null, "bootstrap", secret);
        log.info("created the first admin token; its secret is in {}", file);
    }
}
