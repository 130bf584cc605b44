package dev.faultline.workload;

import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/** Off-heap memory whose faults the agent serves; close() hands it back and unmaps it. */
public final class OffHeapRegion implements AutoCloseable {

    private final Pointer region;
    private final Pointer memory;
    private final long length;
    private final String id;
    private boolean closed;

    OffHeapRegion(Pointer region, Pointer memory, long length) {
        this.region = region;
        this.memory = memory;
        this.length = length;
        this.id = LibFaultline.INSTANCE.fl_region_id(region);
    }

    /** The agent's id of this region (as in /api/v1/regions). */
    public String id() {
        return id;
    }

    public long address() {
        return Pointer.nativeValue(memory);
    }

    public long length() {
        return length;
    }

    /** A view of {@code size} bytes from {@code offset}; touching it faults pages in through the agent. */
    public ByteBuffer buffer(long offset, int size) {
        if (closed || offset < 0 || size < 0 || offset + size > length) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + size) + ") of a " + length + "-byte region");
        }
        return memory.getByteBuffer(offset, size);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        int rc = LibFaultline.INSTANCE.fl_region_unregister(region);
        LibFaultline.LibC.INSTANCE.munmap(memory, new NativeLong(length));
        if (rc != 0) {
            throw new FaultlineException("unregistering region " + id + " failed: " + LibFaultline.INSTANCE.fl_last_error());
        }
    }
}
