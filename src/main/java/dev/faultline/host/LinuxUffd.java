package dev.faultline.host;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.List;

/**
 * The few libc calls the JVM needs to ask the kernel what userfaultfd grants this process,
 * with the ABI constants of linux/userfaultfd.h (including those newer than Debian 12's 6.1
 * headers). Each probe step closes what it opened.
 */
final class LinuxUffd {

    /** Bit i of UFFDIO_API's features, named as the kernel names UFFD_FEATURE_*, lower case. */
    static final List<String> FEATURE_NAMES = List.of(
            "pagefault_flag_wp", "event_fork", "event_remap", "event_remove", "missing_hugetlbfs",
            "missing_shmem", "event_unmap", "sigbus", "thread_id", "minor_hugetlbfs", "minor_shmem",
            "exact_address", "wp_hugetlbfs_shmem", "wp_unpopulated", "poison", "wp_async", "move");

    /** Bit i of the ioctls masks, named after _UFFDIO_* (bit 63 is _UFFDIO_API). */
    private static final String[] IOCTL_NAMES = {
        "register", "unregister", "wake", "copy", "zeropage", "move", "writeprotect", "continue", "poison"};

    static final long UFFD_API = 0xAA;
    static final int O_RDWR = 0x2;
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final int UFFD_USER_MODE_ONLY = 1;
    static final long USERFAULTFD_IOC_NEW = 0xAA00L;
    static final long UFFDIO_API = 0xC018AA3FL;
    static final long UFFDIO_REGISTER = 0xC020AA00L;
    static final long PAGEMAP_SCAN = 0xC0606610L;
    static final long REGISTER_MODE_MISSING = 1;
    static final long REGISTER_MODE_WP = 2;
    static final long REGISTER_MODE_MINOR = 4;
    static final int EPERM = 1;
    static final int ENOTTY = 25;

    private LinuxUffd() {
    }

    interface LibC extends Library {
        int open(String path, int flags) throws LastErrorException;

        int close(int fd) throws LastErrorException;

        int ioctl(int fd, NativeLong request, Pointer arg) throws LastErrorException;

        int ioctl(int fd, NativeLong request, long arg) throws LastErrorException;

        long syscall(long number, long arg) throws LastErrorException;

        Pointer mmap(Pointer addr, NativeLong length, int prot, int flags, int fd, NativeLong offset)
                throws LastErrorException;

        int munmap(Pointer addr, NativeLong length) throws LastErrorException;

        int memfd_create(String name, int flags) throws LastErrorException;

        int ftruncate(int fd, NativeLong length) throws LastErrorException;
    }

    static List<String> featureNames(long bits) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < FEATURE_NAMES.size(); i++) {
            if ((bits & (1L << i)) != 0) {
                names.add(FEATURE_NAMES.get(i));
            }
        }
        return names;
    }

    static List<String> ioctlNames(long bits) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < IOCTL_NAMES.length; i++) {
            if ((bits & (1L << i)) != 0) {
                names.add(IOCTL_NAMES[i]);
            }
        }
        if ((bits & (1L << 0x3F)) != 0) {
            names.add(Math.min(2, names.size()), "api");
        }
        return names;
    }

    static long syscallNumber(String arch) {
        return switch (arch) {
            case "x86_64", "amd64" -> 323;
            case "aarch64", "arm64" -> 282;
            default -> throw new UnsupportedOperationException("no userfaultfd syscall number known for " + arch);
        };
    }

    static LibC load() {
        return Native.load("c", LibC.class);
    }

    static Memory zeroed(int size) {
        Memory m = new Memory(size);
        m.clear();
        return m;
    }
}
