package dev.faultline.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Ansible role faultline.memory.node (ansible/.../roles/node), played by the real
 * ansible-playbook against localhost with the .deb that mvn package built: check mode first,
 * then for real, then again with nothing to change, then a changed setting in check mode.
 *
 * <p>What it installs and starts needs a host whose service manager is systemd, and installing
 * a package on the machine that runs the build is not this test's to do: here the role runs with
 * {@code faultline_node_install=false} and {@code faultline_node_manage_services=false}, writing
 * its settings files under a throwaway root. Installing the package (apt-get), enabling and
 * starting the units and waiting for the agent READY are not exercised here; DebianPackageIT
 * checks the package and its units, and the role's tasks for them pass ansible-test sanity.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeRoleIT {

    private static final Path COLLECTIONS = Path.of("ansible").toAbsolutePath();
    private static final Path PLAYBOOK = COLLECTIONS.resolve("ansible_collections/faultline/memory/tests/roles/node.yml");
    private static final Path TARGET = Path.of("target").toAbsolutePath();
    private static final Pattern RECAP = Pattern.compile("localhost\\s*:\\s*ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=0\\s+failed=0");

    @TempDir
    static Path root;

    private static Path deb;

    @BeforeAll
    static void theDebianPackageWasBuiltAndTheRootHasTheDirectoriesThePackageMakes() throws IOException {
        assertThat(Path.of("/usr/bin/ansible-playbook")).as("run .ci/install-deps (ansible-core)").isExecutable();
        try (Stream<Path> files = Files.list(TARGET)) {
            deb = files.filter(p -> p.getFileName().toString().matches("faultline_.*_amd64\\.deb")).findFirst()
                    .orElseThrow(() -> new AssertionError("no target/faultline_*_amd64.deb: run mvn package"));
        }
        Files.createDirectories(root.resolve("etc/faultline"));
        Files.createDirectories(root.resolve("etc/default"));
        Files.createDirectories(root.resolve("home"));
    }

    @Test
    @Order(1)
    void checkModeShowsTheSettingsItWouldWriteAndWritesNothing() {
        String out = play("--check", "--diff");

        assertThat(changed(out)).as("tasks that would change").isEqualTo(2);
        assertThat(out).as("the agent's settings as a diff").contains("--page-channel-listen 127.0.0.1:7420");
        assertThat(out).as("the service's settings hold a password: no diff of them").doesNotContain("not-a-real-password");
        assertThat(root.resolve("etc/faultline/faultline.env")).doesNotExist();
        assertThat(root.resolve("etc/default/faultline-agent")).doesNotExist();
    }

    @Test
    @Order(2)
    void theFirstRunWritesTheServiceAndAgentSettings() throws IOException {
        String out = play("--diff");

        assertThat(changed(out)).isEqualTo(2);
        Path env = root.resolve("etc/faultline/faultline.env");
        assertThat(Files.readAllLines(env)).contains("FAULTLINE_NODENAME=node-under-test",
                "FAULTLINE_AGENT_PAGECHANNEL=127.0.0.1:7420", "SPRING_PROFILES_ACTIVE=postgres",
                "FAULTLINE_DB_URL=jdbc:postgresql://db.example:5432/faultline", "FAULTLINE_DB_USER=faultline",
                "FAULTLINE_DB_PASSWORD=not-a-real-password", "FAULTLINE_AGENT_IMAGEDIRS=/var/lib/faultline/images,/srv/images",
                "SERVER_PORT=8080");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(env))).as("it holds a password")
                .isEqualTo("rw-------");
        assertThat(out).as("the password is never shown").doesNotContain("not-a-real-password");
        Path agent = root.resolve("etc/default/faultline-agent");
        assertThat(Files.readAllLines(agent)).contains("FAULTLINE_AGENT_OPTS=\" --allow-image-dir /srv/images"
                + " --handoff-allow-uid 1000 --handoff-allow-uid 1001 --page-channel-listen 127.0.0.1:7420\"");
    }

    @Test
    @Order(3)
    void theSecondRunChangesNothing() {
        assertThat(changed(play("--diff"))).isZero();
        assertThat(changed(play("--check", "--diff"))).isZero();
    }

    @Test
    @Order(4)
    void aChangedPageChannelIsOneChangeOfEachFileInCheckMode() throws IOException {
        String before = Files.readString(root.resolve("etc/default/faultline-agent"));

        String out = play("--check", "--diff", "-e", "faultline_node_page_channel=127.0.0.1:7421");

        assertThat(changed(out)).isEqualTo(2);
        assertThat(out).contains("--page-channel-listen 127.0.0.1:7421");
        assertThat(Files.readString(root.resolve("etc/default/faultline-agent"))).isEqualTo(before);
    }

    private static int changed(String out) {
        Matcher m = RECAP.matcher(out);
        assertThat(m.find()).as("a PLAY RECAP without failures in:\n%s", out).isTrue();
        return Integer.parseInt(m.group(2));
    }

    private static String play(String... options) {
        String user = System.getProperty("user.name");
        List<String> command = new ArrayList<>(List.of("/usr/bin/ansible-playbook", "-i", "localhost,", "-c", "local",
                "-e", "ansible_python_interpreter=/usr/bin/python3",
                "-e", "faultline_node_package=" + deb,
                "-e", "faultline_node_install=false", "-e", "faultline_node_manage_services=false",
                "-e", "faultline_node_config_dir=" + root.resolve("etc/faultline"),
                "-e", "faultline_node_agent_defaults=" + root.resolve("etc/default/faultline-agent"),
                "-e", "faultline_node_config_owner=" + user, "-e", "faultline_node_config_group=" + group()));
        command.addAll(List.of(options));
        command.add(PLAYBOOK.toString());
        return run(command, Map.of("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS.toString(), "HOME", root.resolve("home").toString(),
                "ANSIBLE_NOCOLOR", "1", "LC_ALL", "C.UTF-8", "PATH", "/usr/bin:/bin:/usr/sbin:/sbin"));
    }

    private static String group() {
        return run(List.of("id", "-gn"), Map.of()).strip();
    }

    private static String run(List<String> command, Map<String, String> env) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(env);
        try {
            Process p = builder.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " did not finish:\n" + out);
            }
            System.out.println(out);
            assertThat(p.exitValue()).as("%s exited with %d:\n%s", String.join(" ", command), p.exitValue(), out).isZero();
            return out;
        } catch (IOException e) {
            throw new AssertionError(command.get(0) + " could not start: run .ci/install-deps", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
