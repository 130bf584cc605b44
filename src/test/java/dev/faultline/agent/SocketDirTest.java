package dev.faultline.agent;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's socket directory must be a private directory of this service's user. */
class SocketDirTest {

    @TempDir
    Path tmp;

    @Test
    void aPrivateDirectoryIsAccepted() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("run"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));

        assertThatCode(() -> AgentSupervisor.checkSocketDir(dir, true)).doesNotThrowAnyException();
    }

    @Test
    void aWorldWritableDirectoryIsRefused() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("run"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));

        assertThatThrownBy(() -> AgentSupervisor.checkSocketDir(dir, false))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("open to other users");
    }

    @Test
    void aSharedFallbackMustBeEntirelyPrivate() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("run"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));

        assertThatCode(() -> AgentSupervisor.checkSocketDir(dir, false)).doesNotThrowAnyException();
        assertThatThrownBy(() -> AgentSupervisor.checkSocketDir(dir, true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("rwxr-xr-x");
    }

    @Test
    void aSymlinkIsRefused() throws Exception {
        Path real = Files.createDirectory(tmp.resolve("real"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path link = Files.createSymbolicLink(tmp.resolve("run"), real);

        assertThatThrownBy(() -> AgentSupervisor.checkSocketDir(link, true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("symlink");
    }

    @Test
    void pageChannelTlsOptionsReachTheAgentCommandLine() {
        AgentProperties.PageChannelTls none = new AgentProperties.PageChannelTls(null, null, null, false);
        AgentProperties.PageChannelTls certs = new AgentProperties.PageChannelTls(Path.of("/c.pem"), Path.of("/k.pem"),
                Path.of("/ca.pem"), false);
        AgentProperties.PageChannelTls half = new AgentProperties.PageChannelTls(Path.of("/c.pem"), null, null, false);

        org.assertj.core.api.Assertions.assertThat(none.agentOptions()).isEmpty();
        org.assertj.core.api.Assertions.assertThat(none.isConsistent()).isTrue();
        org.assertj.core.api.Assertions.assertThat(certs.agentOptions()).containsExactly("--page-channel-cert", "/c.pem",
                "--page-channel-key", "/k.pem", "--page-channel-ca", "/ca.pem");
        org.assertj.core.api.Assertions.assertThat(half.isConsistent()).isFalse();
        org.assertj.core.api.Assertions.assertThat(new AgentProperties.PageChannelTls(null, null, null, true).agentOptions())
                .containsExactly("--page-channel-plaintext");
    }
}
