package dev.faultline.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.ArgumentMatchers.isNull;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import dev.faultline.DataDirectory;
import dev.faultline.FaultlineProperties;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

@ExtendWith(OutputCaptureExtension.class)
class AdminTokenBootstrapTest {

    @TempDir
    Path dataDir;

    @Test
    void theFirstAdminSecretGoesToThePrivateFileAndNeverToTheLog(CapturedOutput output) throws Exception {
        TokenService tokens = mock(TokenService.class);
        when(tokens.any()).thenReturn(false);
        when(tokens.newSecret()).thenReturn("flt_s3cr3t-value-that-must-not-be-logged");

        new AdminTokenBootstrap(tokens, new DataDirectory(new FaultlineProperties(dataDir, "test-node"))).run(null);

        Path file = dataDir.resolve("admin-token");
        assertThat(Files.readString(file)).isEqualTo("flt_s3cr3t-value-that-must-not-be-logged\n");
        verify(tokens).issue(eq("admin"), eq(Role.ADMIN), isNull(), eq("bootstrap"), eq("flt_s3cr3t-value-that-must-not-be-logged"));
        assertThat(output.getAll()).contains(file.toString()).doesNotContain("s3cr3t");
    }

    @Test
    void noTokenIsCreatedWhenTokensExist() throws Exception {
        TokenService tokens = mock(TokenService.class);
        when(tokens.any()).thenReturn(true);

        new AdminTokenBootstrap(tokens, new DataDirectory(new FaultlineProperties(dataDir, "test-node"))).run(null);

        verify(tokens, never()).issue(any(), any(), any(), any(), any());
        assertThat(dataDir.resolve("admin-token")).doesNotExist();
    }
}
