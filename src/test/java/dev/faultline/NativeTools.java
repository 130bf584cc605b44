package dev.faultline;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The agent's tools built by `make -C native-agent` (the Maven build runs it first). */
public final class NativeTools {

    public static final Path BUILD = Path.of("native-agent", "build").toAbsolutePath();

    private NativeTools() {
    }

    public static Path demo() {
        Path demo = BUILD.resolve("faultline-demo");
        if (!Files.isExecutable(demo)) {
            throw new AssertionError(demo + " is missing: run the Maven build (it runs make -C native-agent)");
        }
        return demo;
    }

    /** Whether the built agent has a command-line option (its --help lists it). */
    public static boolean agentHasOption(String option) {
        Path agent = BUILD.resolve("faultline-agent");
        if (!Files.isExecutable(agent)) {
            throw new AssertionError(agent + " is missing: run the Maven build (it runs make -C native-agent)");
        }
        return run(agent.toString(), "--help").contains(option);
    }

    /** Runs a command to completion; fails with its output when it exits non-zero. */
    public static String run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", command) + " failed:\n" + out);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A running helper process whose stdout lines can be awaited. */
    public static final class Child implements AutoCloseable {

        private final Process process;
        private final BufferedReader out;
        private final List<String> seen = new ArrayList<>();

        public Child(String... command) {
            try {
                process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        }

        /** Reads lines until one contains {@code text}; fails if the process ends first. */
        public String awaitLine(String text) {
            try {
                for (String line; (line = out.readLine()) != null; ) {
                    seen.add(line);
                    if (line.contains(text)) {
                        return line;
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            throw new AssertionError("process ended without printing '" + text + "'; it printed " + seen);
        }

        public Process process() {
            return process;
        }

        /** Sends SIGTERM and returns the exit status. */
        public int terminate() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("process did not exit on SIGTERM");
            }
            return process.exitValue();
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }
}
