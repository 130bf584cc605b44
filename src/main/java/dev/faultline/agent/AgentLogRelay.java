package dev.faultline.agent;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the embedded agent's logfmt lines into the service's log at the level the agent gave
 * them, so one log holds both sides of every story.
 */
final class AgentLogRelay {

    private static final Logger log = LoggerFactory.getLogger("dev.faultline.agent.native");
    private static final Pattern LEVEL = Pattern.compile("(?:^|\\s)level=(\\w+)");
    private static final Pattern TIMESTAMP = Pattern.compile("^ts=\\S+\\s+");

    private AgentLogRelay() {
    }

    static void start(InputStream stream, long pid) {
        Thread thread = new Thread(() -> relay(stream), "agent-log-" + pid);
        thread.setDaemon(true);
        thread.start();
    }

    private static void relay(InputStream stream) {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
            for (String line; (line = reader.readLine()) != null; ) {
                forward(line);
            }
        } catch (IOException e) {
            log.debug("agent log stream closed: {}", e.getMessage());
        }
    }

    static void forward(String line) {
        String text = TIMESTAMP.matcher(line).replaceFirst("");
        Matcher m = LEVEL.matcher(line);
        switch (m.find() ? m.group(1) : "info") {
            case "debug" -> log.debug(text);
            case "warn" -> log.warn(text);
            case "error", "fatal" -> log.error(text);
            default -> log.info(text);
        }
    }
}
