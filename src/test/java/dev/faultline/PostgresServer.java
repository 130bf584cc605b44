package dev.faultline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL server for tests: Debian's {@code postgresql} package, whose binaries
 * live under {@code /usr/lib/postgresql/<version>/bin}. {@link #get()} initdb's a cluster in a
 * temporary directory, starts it on a free port (as the {@code postgres} user when the tests run
 * as root, because PostgreSQL refuses to run as root) and stops and removes it when the JVM
 * exits. Each {@link #createDatabase()} gives a fresh, empty database. A missing PostgreSQL fails:
 * the tests never fall back to H2 silently.
 */
public final class PostgresServer {

    /** {@code -Dfaultline.test.database=postgresql} runs the slices and API tests on PostgreSQL. */
    public static final String SELECTOR = "faultline.test.database";
    public static final String USER = "faultline";

    private static final Path DEBIAN_LIBDIR = Path.of("/usr/lib/postgresql");
    private static PostgresServer instance;

    private final Path bin;
    private final Path dir;
    private final int port;
    private final boolean asPostgresUser;
    private final AtomicInteger databases = new AtomicInteger();
    /** Application contexts using this server that have not closed yet; see {@link #stopAfterContexts()}. */
    private int openContexts;

    private PostgresServer(Path bin, Path dir, int port, boolean asPostgresUser) {
        this.bin = bin;
        this.dir = dir;
        this.port = port;
        this.asPostgresUser = asPostgresUser;
    }

    public static boolean selected() {
        String value = System.getProperty(SELECTOR, "h2").toLowerCase(Locale.ROOT);
        return switch (value) {
            case "postgresql", "postgres" -> true;
            case "h2" -> false;
            default -> throw new IllegalStateException(SELECTOR + " must be h2 or postgresql, not '" + value + "'");
        };
    }

    /** The server of this JVM, started on first use. */
    public static synchronized PostgresServer get() {
        if (instance == null) {
            instance = start();
        }
        return instance;
    }

    /** Starts a server of its own (the multi-instance tests stop it themselves). */
    public static PostgresServer start() {
        Path bin = findBinaries();
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir;
        try {
            dir = Files.createTempDirectory("fl-pg-");
            if (root) {
                run(List.of("chown", "postgres:postgres", dir.toString()), false);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        PostgresServer server = new PostgresServer(bin, dir, freePort(), root);
        Runtime.getRuntime().addShutdownHook(new Thread(server::stopAfterContexts, "postgres-stop"));
        server.initAndStart();
        return server;
    }

    private void initAndStart() {
        Path data = dir.resolve("data");
        run(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", USER, "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync"), asPostgresUser);
        // Durability off: these clusters live for one test run.
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("log").toString(),
                "-w", "-t", "60", "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1"
                        + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start"), asPostgresUser);
    }

    /** A new empty database; returns its JDBC URL. */
    public String createDatabase() {
        String name = "faultline_" + databases.incrementAndGet();
        try (Connection c = DriverManager.getConnection(url("postgres"), USER, "");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name + " on the test PostgreSQL: " + e, e);
        }
        return url(name);
    }

    public String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    public int port() {
        return port;
    }

    /** A test application context now uses this server, until it publishes ContextClosedEvent. */
    public synchronized void contextOpened() {
        openContexts++;
    }

    public synchronized void contextClosed() {
        openContexts--;
        notifyAll();
    }

    /**
     * At JVM exit the cached test contexts close in their own shutdown hooks, at the same time as
     * this one: stopping the server under them would leave their last database calls (ShedLock
     * unlocks, Hikari) retrying a dead server. So wait for them first, within reason.
     */
    private synchronized void stopAfterContexts() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (openContexts > 0 && System.nanoTime() < deadline) {
            try {
                wait(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        stop();
    }

    public synchronized void stop() {
        if (!Files.exists(dir)) {
            return;
        }
        try {
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "immediate",
                    "-w", "stop"), asPostgresUser);
        } catch (RuntimeException | AssertionError e) {
            System.err.println("test PostgreSQL did not stop: " + e.getMessage());
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("cannot remove " + dir + ": " + e);
        }
    }

    private static Path findBinaries() {
        try (Stream<Path> versions = Files.list(DEBIAN_LIBDIR)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparing(PostgresServer::majorVersion))
                    .orElseThrow(PostgresServer::missing);
        } catch (IOException e) {
            throw missing();
        }
    }

    private static int majorVersion(Path bin) {
        try {
            return Integer.parseInt(bin.getParent().getFileName().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static AssertionError missing() {
        return new AssertionError("PostgreSQL is not installed (no " + DEBIAN_LIBDIR + "/<version>/bin/initdb):"
                + " the PostgreSQL tests need Debian's postgresql package; run .ci/install-deps");
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void run(List<String> command, boolean asPostgresUser) {
        List<String> full = new ArrayList<>();
        if (asPostgresUser) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        try {
            Process p = new ProcessBuilder(full).redirectErrorStream(true).directory(Path.of("/").toFile()).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", full) + " failed:\n" + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
