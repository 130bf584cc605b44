package dev.faultline;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Driving the migration demo workloads ({@code faultline-demo mig-source} and {@code mig-dest}) from a
 * test: their output lines and commands, and the page-by-page comparison of their dumps.
 */
public final class MigrationWorkloads {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final int PAGE = 4096;

    private MigrationWorkloads() {
    }

    /** A line of the child's output, waited for at most {@code within}: a stalled migration fails the test. */
    public static String line(NativeTools.Child child, String text, Duration within) {
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> child.awaitLine(text));
        try {
            return line.get(within.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            child.close();
            throw new AssertionError("no line with '" + text + "' within " + within);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause().getMessage(), e.getCause());
        }
    }

    /** Sends one command line to a demo workload and reads its JSON answer ({@code null}: no answer expected). */
    public static JsonNode command(NativeTools.Child child, String command, String answer, Duration within) {
        try {
            child.process().getOutputStream().write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            child.process().getOutputStream().flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return answer == null ? null : JSON.readTree(line(child, answer, within));
    }

    /**
     * Pages whose bytes differ between a source and a destination dump of {@code size} bytes, leaving
     * out the last 16 bytes of the {@code marks} pages the destination marked itself ({@code mig-dest --mark}).
     */
    public static List<Long> differingPages(Path source, Path destination, long size, int marks) throws IOException {
        byte[] a = Files.readAllBytes(source);
        byte[] b = Files.readAllBytes(destination);
        assertThat(b.length).isEqualTo(a.length).isEqualTo((int) size);
        long pages = size / PAGE;
        long step = pages / marks;
        List<Long> differing = new ArrayList<>();
        for (long p = 0; p < pages; p++) {
            int from = (int) (p * PAGE);
            int to = from + (p % step == 0 && p / step < marks ? PAGE - 16 : PAGE);
            if (!Arrays.equals(a, from, to, b, from, to)) {
                differing.add(p);
            }
        }
        return differing;
    }

    /** A short random suffix for region names. */
    public static String shortId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
