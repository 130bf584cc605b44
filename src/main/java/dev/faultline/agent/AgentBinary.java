package dev.faultline.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.springframework.core.io.ClassPathResource;

/**
 * Finds the agent executable. The build puts it into the service's classpath (inside the jar),
 * and a jar entry cannot be executed, so it is copied to {@code <data-dir>/bin} under a name
 * that carries its content hash: an upgrade never runs a stale copy, and a running agent's
 * file is never overwritten.
 */
final class AgentBinary {

    static final String RESOURCE = "native/faultline-agent";

    private AgentBinary() {
    }

    static Path resolve(AgentProperties properties, Path dataDir) throws IOException {
        if (properties.binary() != null) {
            Path configured = properties.binary().toAbsolutePath();
            if (!Files.isExecutable(configured)) {
                throw new IOException("faultline.agent.binary " + configured + " is not an executable file");
            }
            return configured;
        }
        ClassPathResource resource = new ClassPathResource(RESOURCE);
        if (!resource.exists()) {
            throw new IOException("the bundled agent (classpath:" + RESOURCE + ") is missing: build with `mvn package`, "
                    + "or set faultline.agent.binary or faultline.agent.socket");
        }
        byte[] content;
        try (InputStream in = resource.getInputStream()) {
            content = in.readAllBytes();
        }
        Path dir = Files.createDirectories(dataDir.resolve("bin"));
        Path target = dir.resolve("faultline-agent-" + sha256(content).substring(0, 16));
        if (!Files.isExecutable(target) || Files.size(target) != content.length) {
            Path tmp = Files.createTempFile(dir, ".faultline-agent", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Files.write(tmp, content);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }

    private static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
