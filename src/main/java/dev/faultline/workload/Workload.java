package dev.faultline.workload;

import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A JVM workload's connection to a Faultline agent, through libfaultline: off-heap memory
 * registered here has its faults served by the agent. On a restore session's socket the
 * memory fills lazily from the session's image; on the agent's general handoff socket it is
 * managed anonymous memory (for live snapshots and migration).
 *
 * <pre>{@code
 * try (Workload workload = Workload.connect(Path.of(restore.socket()));
 *      OffHeapRegion heap = workload.allocate("cache", 1L << 30, Map.of("app", "cache"))) {
 *     heap.buffer(0, 4096).get(page); // the first touch is served from the image
 * }
 * }</pre>
 *
 * If the agent dies, libfaultline keeps the uffd, so threads touching missing pages wait
 * (nothing is zero-filled) until a restarted agent serves them.
 */
public final class Workload implements AutoCloseable {

    private final Pointer client;

    private Workload(Pointer client) {
        this.client = client;
    }

    /** Connects to a handoff socket (a restore session's, or the agent's general one). */
    public static Workload connect(Path handoffSocket) {
        Pointer client = LibFaultline.INSTANCE.fl_connect(handoffSocket.toString());
        if (client == null) {
            throw new FaultlineException("cannot connect to " + handoffSocket + ": " + LibFaultline.INSTANCE.fl_last_error());
        }
        return new Workload(client);
    }

    /**
     * Maps {@code length} bytes of anonymous memory outside the Java heap and hands it to the
     * agent in MISSING mode. {@code length} must be a multiple of the page size.
     */
    public OffHeapRegion allocate(String name, long length, Map<String, String> labels) {
        Pointer memory = LibFaultline.LibC.INSTANCE.mmap(null, new NativeLong(length),
                LibFaultline.LibC.PROT_READ_WRITE, LibFaultline.LibC.MAP_PRIVATE_ANONYMOUS, -1, new NativeLong(0));
        if (memory == null || Pointer.nativeValue(memory) == -1L) {
            throw new FaultlineException("mmap of " + length + " bytes failed");
        }
        PointerByReference region = new PointerByReference();
        int rc = LibFaultline.INSTANCE.fl_region_register(client, memory, new NativeLong(length), name,
                labels(labels), LibFaultline.FL_MODE_MISSING, region);
        if (rc != 0) {
            String why = LibFaultline.INSTANCE.fl_last_error();
            LibFaultline.LibC.INSTANCE.munmap(memory, new NativeLong(length));
            throw new FaultlineException("registering region '" + name + "' failed: " + why);
        }
        return new OffHeapRegion(region.getValue(), memory, length);
    }

    /** Disconnects; regions already registered stay served until they are closed. */
    @Override
    public void close() {
        LibFaultline.INSTANCE.fl_disconnect(client);
    }

    static String labels(Map<String, String> labels) {
        if (labels == null || labels.isEmpty()) {
            return null;
        }
        return new TreeMap<>(labels).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(","));
    }
}
