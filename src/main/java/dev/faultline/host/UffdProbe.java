package dev.faultline.host;

import static dev.faultline.host.LinuxUffd.*;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import dev.faultline.agent.UffdCapabilities;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Asks the kernel, from inside the JVM, what userfaultfd grants this process: the same probe
 * the agent runs at its start, so the two can be compared (a JVM workload registering
 * off-heap memory gets what the JVM gets, not what the agent gets).
 */
final class UffdProbe {

    private static final int PAGE = 4096;
    private static final int PROT_RW = 0x3;
    private static final int MAP_PRIVATE_ANON = 0x22;
    private static final int MAP_SHARED = 0x01;

    private UffdProbe() {
    }

    static UffdCapabilities probe(String arch) {
        LibC libc;
        try {
            libc = LinuxUffd.load();
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return UffdCapabilities.unavailable("cannot load libc through JNA: " + e.getMessage());
        }
        int uffd;
        String source;
        try {
            uffd = openViaDevice(libc);
            source = "dev_userfaultfd";
        } catch (LastErrorException deviceError) {
            try {
                uffd = openViaSyscall(libc, arch);
                source = "syscall";
            } catch (LastErrorException | UnsupportedOperationException syscallError) {
                return UffdCapabilities.unavailable("/dev/userfaultfd: " + deviceError.getMessage()
                        + "; userfaultfd(2): " + syscallError.getMessage());
            }
        }
        try {
            Memory api = zeroed(24);
            api.setLong(0, UFFD_API);
            libc.ioctl(uffd, new NativeLong(UFFDIO_API), api);
            long features = api.getLong(8);
            Set<String> ioctls = new LinkedHashSet<>(ioctlNames(api.getLong(16)));
            ioctls.addAll(rangeIoctlsAnonymous(libc, uffd));
            ioctls.addAll(rangeIoctlsShmemMinor(libc, uffd));
            return new UffdCapabilities(true, source, UFFD_API, featureNames(features), List.copyOf(ioctls),
                    pagemapScan(libc), null);
        } catch (LastErrorException e) {
            return UffdCapabilities.unavailable("UFFDIO_API failed: " + e.getMessage());
        } finally {
            libc.close(uffd);
        }
    }

    private static int openViaDevice(LibC libc) {
        int dev = libc.open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        try {
            return libc.ioctl(dev, new NativeLong(USERFAULTFD_IOC_NEW), (long) (O_CLOEXEC | O_NONBLOCK));
        } finally {
            libc.close(dev);
        }
    }

    private static int openViaSyscall(LibC libc, String arch) {
        long nr = syscallNumber(arch);
        try {
            return (int) libc.syscall(nr, O_CLOEXEC | O_NONBLOCK);
        } catch (LastErrorException e) {
            if (e.getErrorCode() != EPERM) {
                throw e;
            }
            // vm.unprivileged_userfaultfd=0 still allows faults from user mode only.
            return (int) libc.syscall(nr, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        }
    }

    private static List<String> rangeIoctlsAnonymous(LibC libc, int uffd) {
        Pointer page = libc.mmap(null, new NativeLong(PAGE), PROT_RW, MAP_PRIVATE_ANON, -1, new NativeLong(0));
        try {
            return register(libc, uffd, page, REGISTER_MODE_MISSING | REGISTER_MODE_WP);
        } finally {
            libc.munmap(page, new NativeLong(PAGE));
        }
    }

    /** CONTINUE is granted only on ranges registered in MINOR mode, which needs shmem or hugetlbfs. */
    private static List<String> rangeIoctlsShmemMinor(LibC libc, int uffd) {
        int memfd;
        try {
            memfd = libc.memfd_create("faultline-probe", 0);
        } catch (LastErrorException e) {
            return List.of();
        }
        try {
            libc.ftruncate(memfd, new NativeLong(PAGE));
            Pointer page = libc.mmap(null, new NativeLong(PAGE), PROT_RW, MAP_SHARED, memfd, new NativeLong(0));
            try {
                return register(libc, uffd, page, REGISTER_MODE_MINOR);
            } finally {
                libc.munmap(page, new NativeLong(PAGE));
            }
        } catch (LastErrorException e) {
            return List.of(); // MINOR not supported here: CONTINUE is simply not listed
        } finally {
            libc.close(memfd);
        }
    }

    private static List<String> register(LibC libc, int uffd, Pointer start, long mode) {
        Memory reg = zeroed(32);
        reg.setLong(0, Pointer.nativeValue(start));
        reg.setLong(8, PAGE);
        reg.setLong(16, mode);
        libc.ioctl(uffd, new NativeLong(UFFDIO_REGISTER), reg);
        return ioctlNames(reg.getLong(24));
    }

    /** An ioctl the kernel does not know fails with ENOTTY; a known one rejects the zeroed argument. */
    private static boolean pagemapScan(LibC libc) {
        int fd;
        try {
            fd = libc.open("/proc/self/pagemap", O_CLOEXEC);
        } catch (LastErrorException e) {
            return false;
        }
        try {
            libc.ioctl(fd, new NativeLong(PAGEMAP_SCAN), zeroed(96));
            return true;
        } catch (LastErrorException e) {
            return e.getErrorCode() != ENOTTY;
        } finally {
            libc.close(fd);
        }
    }
}
