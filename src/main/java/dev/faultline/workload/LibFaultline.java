package dev.faultline.workload;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * libfaultline's C API (native-agent/lib/faultline.h, PROTOCOL.md §2.4) as JNA sees it. JNA
 * finds the library in the jar under {@code linux-x86-64/} (where the build puts it), or on
 * {@code jna.library.path}.
 */
interface LibFaultline extends Library {

    int FL_MODE_MISSING = 1;
    int FL_MODE_WP = 1 << 1;
    int FL_MODE_MINOR = 1 << 2;

    LibFaultline INSTANCE = Native.load("faultline", LibFaultline.class);

    Pointer fl_connect(String socketPath);

    int fl_region_register(Pointer client, Pointer addr, NativeLong len, String name, String labels, int modes,
            PointerByReference out);

    String fl_region_id(Pointer region);

    int fl_region_unregister(Pointer region);

    void fl_disconnect(Pointer client);

    String fl_last_error();

    /** The few libc calls an off-heap region needs. */
    interface LibC extends Library {

        LibC INSTANCE = Native.load("c", LibC.class);

        int PROT_READ_WRITE = 0x3;
        int MAP_PRIVATE_ANONYMOUS = 0x22;

        Pointer mmap(Pointer addr, NativeLong length, int prot, int flags, int fd, NativeLong offset);

        int munmap(Pointer addr, NativeLong length);
    }
}
