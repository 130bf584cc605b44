package dev.faultline.host;

import dev.faultline.agent.AgentClient;
import dev.faultline.agent.AgentStatus;
import dev.faultline.agent.KernelInfo;
import dev.faultline.agent.UffdCapabilities;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

/** Facts about this host; the kernel and the JVM's userfaultfd grant are read once at start. */
@Service
public class HostService {

    private static final Logger log = LoggerFactory.getLogger(HostService.class);

    private final AgentClient agent;
    private final KernelInfo kernel;
    private final UffdCapabilities jvmUffd;

    HostService(AgentClient agent) {
        this.agent = agent;
        this.kernel = new KernelInfo(read("ostype", "Linux"), read("osrelease", System.getProperty("os.version")),
                read("arch", System.getProperty("os.arch")));
        this.jvmUffd = UffdProbe.probe(kernel.machine());
        if (jvmUffd.available()) {
            log.info("userfaultfd for the JVM via {}: {}", jvmUffd.source(), String.join(",", jvmUffd.features()));
        } else {
            log.warn("userfaultfd is not available to the JVM: {}", jvmUffd.error());
        }
    }

    public HostInfo host() {
        return new HostInfo(read("hostname", "localhost"), view(kernel), view(jvmUffd), view(agent.status()));
    }

    public KernelInfo kernel() {
        return kernel;
    }

    /** The agent's records in the API's own types: the one place that maps them (ArchitectureTest). */
    static HostInfo.Agent view(AgentStatus status) {
        return new HostInfo.Agent(status.state() == null ? null : HostInfo.State.valueOf(status.state().name()),
                status.mode() == null ? null : HostInfo.Mode.valueOf(status.mode().name()), status.socket(),
                status.pid(), status.version(), status.protocol(), status.restarts(), status.since(),
                status.lastError(), view(status.kernel()), view(status.userfaultfd()), status.handoffSocket(),
                status.node(), status.pageChannel(), status.limits() == null ? null
                        : new HostInfo.Limits(status.limits().maxClients(), status.limits().openFiles()));
    }

    static HostInfo.Kernel view(KernelInfo kernel) {
        return kernel == null ? null : new HostInfo.Kernel(kernel.sysname(), kernel.release(), kernel.machine());
    }

    static HostInfo.Userfaultfd view(UffdCapabilities uffd) {
        return uffd == null ? null : new HostInfo.Userfaultfd(uffd.available(), uffd.source(), uffd.api(),
                uffd.features(), uffd.ioctls(), uffd.pagemapScan(), uffd.error());
    }

    private static String read(String name, String fallback) {
        try {
            return Files.readString(Path.of("/proc/sys/kernel", name)).strip();
        } catch (IOException e) {
            return fallback;
        }
    }
}
