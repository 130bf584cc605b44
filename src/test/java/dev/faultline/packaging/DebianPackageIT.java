package dev.faultline.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian package that {@code mvn package} builds (jdeb, packaging/), as dpkg sees it: its
 * control fields, its contents unpacked by dpkg into a throwaway root (dpkg --root, its own
 * database, nothing configured: the maintainer scripts would run chrooted, and that root has no
 * shell), the agent it ships run from there, and its systemd units accepted by
 * {@code systemd-analyze verify} against that root (with systemd's own targets and a java launcher in
 * it, as the package's Depends would bring). dpkg and systemd come from .ci/install-deps;
 * without them this test fails, never skips.
 */
class DebianPackageIT {

    private static final Path TARGET = Path.of("target").toAbsolutePath();
    private static final String INSTALL_HINT = "run .ci/install-deps (dpkg, systemd)";

    @TempDir
    static Path work;

    private static Path deb;
    private static Path root;

    @BeforeAll
    static void thePackageIsUnpackedIntoAThrowawayRoot() throws IOException {
        List<Path> debs;
        try (Stream<Path> files = Files.list(TARGET)) {
            debs = files.filter(p -> p.getFileName().toString().matches("faultline_.*_amd64\\.deb")).toList();
        }
        assertThat(debs).as("the .deb mvn package builds in target/").hasSize(1);
        deb = debs.get(0);

        root = work.resolve("root");
        Path admin = Files.createDirectories(root.resolve("var/lib/dpkg"));
        Files.createDirectories(admin.resolve("updates"));
        Files.createDirectories(admin.resolve("info"));
        Files.writeString(admin.resolve("status"), "");
        run("dpkg", "--root=" + root, "--log=/dev/null", "--unpack", deb.toString());
    }

    @Test
    void itsControlFieldsNameThePackageItsArchitectureAndWhatTheAgentAndServiceNeed() {
        String control = run("dpkg-deb", "--field", deb.toString());

        assertThat(control).contains("Package: faultline\n").contains("Architecture: amd64\n");
        assertThat(field(control, "Version")).matches("0\\.1\\.0.*");
        assertThat(field(control, "Depends"))
                .contains("java17-runtime-headless", "libjansson4", "libzstd1", "libssl3", "adduser", "systemd");
        String status = run("dpkg", "--root=" + root, "--status", "faultline");
        assertThat(status).as("dpkg's database in the throwaway root").contains("Status: install ok unpacked");
    }

    @Test
    void itHoldsTheServiceJarTheAgentLibfaultlineItsHeaderAndTheUnits() throws IOException {
        assertFile("usr/share/faultline/faultline.jar", "rw-r--r--");
        try (JarFile jar = new JarFile(root.resolve("usr/share/faultline/faultline.jar").toFile())) {
            assertThat(jar.getManifest().getMainAttributes().getValue("Start-Class"))
                    .as("the service's executable jar").isEqualTo("dev.faultline.FaultlineApplication");
            assertThat(jar.getEntry("BOOT-INF/classes/native/faultline-agent")).as("the jar bundles the agent too").isNotNull();
        }
        assertFile("usr/sbin/faultline-agent", "rwxr-xr-x");
        assertThat(run(root.resolve("usr/sbin/faultline-agent").toString(), "--help"))
                .as("the packaged agent runs").contains("--page-channel-listen").contains("--handoff-allow-uid");
        assertFile("usr/lib/x86_64-linux-gnu/libfaultline.so", "rw-r--r--");
        assertThat(run("objdump", "-p", root.resolve("usr/lib/x86_64-linux-gnu/libfaultline.so").toString()))
                .containsPattern("SONAME\\s+libfaultline\\.so");
        assertFile("usr/include/faultline.h", "rw-r--r--");
        assertThat(Files.readString(root.resolve("usr/include/faultline.h"))).contains("fl_");
        assertFile("lib/systemd/system/faultline-agent.service", "rw-r--r--");
        assertFile("lib/systemd/system/faultline.service", "rw-r--r--");
        // conffiles stay <name>.dpkg-new until the package is configured, so that a local change is never lost
        assertFile("etc/default/faultline-agent.dpkg-new", "rw-r--r--");
        assertFile("etc/faultline/faultline.env.dpkg-new", "rw-------");

        String conffiles = run("dpkg-deb", "--info", deb.toString(), "conffiles");
        assertThat(conffiles.lines().toList()).as("conffiles: local changes survive an upgrade")
                .containsExactlyInAnyOrder("/etc/default/faultline-agent", "/etc/faultline/faultline.env");
    }

    @Test
    void itsMaintainerScriptsAreValidShell() throws IOException {
        Path control = work.resolve("control");
        run("dpkg-deb", "--control", deb.toString(), control.toString());
        for (String script : List.of("postinst", "prerm", "postrm")) {
            assertThat(control.resolve(script)).isExecutable();
            run("sh", "-n", control.resolve(script).toString());
        }
        assertThat(Files.readString(control.resolve("postinst"))).contains("adduser --system --group");
    }

    @Test
    void theAgentUnitIsANotifyServiceOfItsOwnUserThatKeepsUserfaultfdWorking() throws IOException {
        String unit = Files.readString(root.resolve("lib/systemd/system/faultline-agent.service"));

        assertThat(unit).contains("Type=notify", "User=faultline", "StateDirectory=faultline-agent",
                "RuntimeDirectory=faultline", "FileDescriptorStoreMax=", "DeviceAllow=/dev/userfaultfd rw",
                "AmbientCapabilities=CAP_SYS_PTRACE", "ExecStart=/usr/sbin/faultline-agent");
        assertThat(unit).as("PrivateDevices would hide /dev/userfaultfd").doesNotContain("PrivateDevices=yes");
        // the system calls the agent's uffd handling makes are inside its filter
        String filter = unit.lines().filter(l -> l.startsWith("SystemCallFilter=")).findFirst().orElseThrow();
        assertThat(filter).contains("@system-service", "process_vm_readv");
        String systemService = run("systemd-analyze", "syscall-filter", "@system-service");
        assertThat(systemService.lines().map(String::strip).toList()).contains("userfaultfd", "ioctl");

        String service = Files.readString(root.resolve("lib/systemd/system/faultline.service"));
        assertThat(service).as("the service connects to that agent (EXTERNAL mode)")
                .contains("FAULTLINE_AGENT_SOCKET=/run/faultline/agent.sock", "After=faultline-agent.service",
                        "ExecStart=/usr/bin/java", "/usr/share/faultline/faultline.jar");
        assertThat(unit).contains("--socket /run/faultline/agent.sock");
    }

    @Test
    void systemdAnalyzeVerifyAcceptsBothUnits() throws IOException {
        // What the package's Depends bring to a real root: the JRE's java (its launcher; verify
        // only checks that it is executable) and systemd's own units (sysinit.target, ...)
        Path java = root.resolve("usr/bin/java");
        Files.createDirectories(java.getParent());
        Files.copy(Path.of(ProcessHandle.current().info().command().orElseThrow()).toRealPath(), java);
        Path units = root.resolve("lib/systemd/system");
        try (Stream<Path> host = Files.list(Path.of("/lib/systemd/system"))) {
            for (Path unit : host.filter(p -> p.toString().matches(".*\\.(target|slice)$") && Files.isRegularFile(p)).toList()) {
                Path copy = units.resolve(unit.getFileName().toString());
                if (!Files.exists(copy)) {
                    Files.copy(unit, copy);
                }
            }
        }

        String out = run("systemd-analyze", "verify", "--root=" + root, "--man=no",
                root.resolve("lib/systemd/system/faultline-agent.service").toString(),
                root.resolve("lib/systemd/system/faultline.service").toString());
        assertThat(out).as("systemd-analyze verify's findings").isBlank();
    }

    private static void assertFile(String path, String mode) throws IOException {
        Path file = root.resolve(path);
        assertThat(file).as("%s in the package", path).isRegularFile();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).as("mode of %s", path)
                .isEqualTo(mode);
    }

    private static String field(String control, String name) {
        return control.lines().filter(l -> l.startsWith(name + ": ")).map(l -> l.substring(name.length() + 2))
                .findFirst().orElseThrow(() -> new AssertionError("no " + name + " field in:\n" + control));
    }

    /** Runs a command to completion with its output; fails with the output unless it exits 0. */
    private static String run(String... command) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin:" + builder.environment().getOrDefault("PATH", ""));
        try {
            Process p = builder.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " did not finish:\n" + out);
            }
            assertThat(p.exitValue()).as("%s exited with %d:\n%s", String.join(" ", command), p.exitValue(), out).isZero();
            return out;
        } catch (IOException e) {
            throw new AssertionError(command[0] + " could not start (" + e.getMessage() + "): " + INSTALL_HINT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
