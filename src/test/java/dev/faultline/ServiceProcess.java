package dev.faultline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One service instance (a node) as a real process: {@code java -jar target/faultline-*.jar}
 * with the postgres profile, its own port, data directory, node name and embedded agent. The
 * multi-instance tests start two of them on one throwaway PostgreSQL. Its output goes to
 * {@code service.log} in its data directory, whose tail a failing wait shows.
 */
public final class ServiceProcess implements AutoCloseable {

    private final String node;
    private final Path dataDir;
    private final int port;
    private final String dbUrl;
    private final Map<String, String> settings;
    private Process process;

    /**
     * @param settings extra {@code --name=value} settings, e.g. the heartbeat interval
     */
    public ServiceProcess(String node, Path dataDir, String dbUrl, Map<String, String> settings) {
        this.node = node;
        this.dataDir = dataDir;
        this.port = freePort();
        this.dbUrl = dbUrl;
        this.settings = settings;
    }

    /** The packaged service; failsafe passes its path (the ITs run after {@code package}). */
    public static Path jar() {
        String jar = System.getProperty("faultline.it.jar");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            throw new AssertionError("the packaged service jar (" + jar + ") is missing: run the ITs with mvn verify");
        }
        return Path.of(jar);
    }

    public void start() {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar().toString(),
                "--spring.profiles.active=postgres",
                "--server.port=" + port,
                "--faultline.data-dir=" + dataDir,
                "--faultline.node-name=" + node));
        settings.forEach((name, value) -> command.add("--" + name + "=" + value));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile()));
        builder.environment().put("FAULTLINE_DB_URL", dbUrl);
        builder.environment().put("FAULTLINE_DB_USER", PostgresServer.USER);
        builder.environment().put("FAULTLINE_DB_PASSWORD", "");
        try {
            Files.createDirectories(dataDir);
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until the API answers with this token; fails early, with the log, if the process dies. */
    public void awaitUp(String token) {
        Await.until(node + "'s service to answer", Duration.ofSeconds(120), () -> {
            requireAlive();
            try {
                return api(token).get("/api/v1/nodes").status();
            } catch (RuntimeException notYet) {
                return -1;
            }
        }, status -> status == 200);
    }

    /** The admin token the first instance on an empty database writes to its data directory. */
    public String awaitAdminToken() {
        Path file = dataDir.resolve("admin-token");
        Await.until(node + " to write its admin token", Duration.ofSeconds(120), () -> {
            requireAlive();
            return Files.exists(file);
        }, exists -> exists);
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** kill -9: no shutdown hook, no agent shutdown; the embedded agent keeps running. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError(node + "'s service survived SIGKILL");
        }
    }

    /** SIGTERM: a graceful stop, which also shuts its embedded agent down. */
    public void stop() throws InterruptedException {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(node + "'s service did not stop on SIGTERM");
        }
    }

    public TestApi api(String token) {
        return new TestApi(port, token);
    }

    public String node() {
        return node;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path log() {
        return dataDir.resolve("service.log");
    }

    private void requireAlive() {
        if (!process.isAlive()) {
            throw new AssertionError(node + "'s service exited with " + process.exitValue() + ":\n" + logTail());
        }
    }

    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(log(), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    /** A TCP port free on loopback now (for the service, or an agent's page channel). */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
