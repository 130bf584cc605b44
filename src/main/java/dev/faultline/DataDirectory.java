package dev.faultline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The service's data directory ({@code faultline.data-dir}), private to the service's user
 * whatever the process umask: created 0700, and every file the service puts there 0600, written
 * to a temporary name, fsynced and renamed ({@link #writePrivate}). It holds secrets (the admin
 * token, the key that seals migration secrets) and the H2 database.
 */
@Component
public class DataDirectory {

    private static final Logger log = LoggerFactory.getLogger(DataDirectory.class);
    public static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

    private final Path path;

    public DataDirectory(FaultlineProperties properties) {
        this.path = properties.dataDir();
        try {
            if (!Files.isDirectory(path)) {
                Files.createDirectories(path.getParent());
                Files.createDirectory(path, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
                Files.setPosixFilePermissions(path, DIRECTORY_MODE); // the umask may have taken bits away, never added
            } else if (!Files.getPosixFilePermissions(path).equals(DIRECTORY_MODE)) {
                // the operator made it; their choice stands, but it should be known
                log.warn("the data directory {} is {}, not rwx------: other users may read the database and secrets in it",
                        path, PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
            }
        } catch (FileAlreadyExistsException raced) {
            // created in between by another process: handled like an existing directory
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + path, e);
        }
    }

    public Path path() {
        return path;
    }

    /** Creates {@code name} empty and 0600 if it does not exist, so what opens it later keeps that mode. */
    public Path createPrivate(String name) {
        Path file = path.resolve(name);
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(FILE_MODE));
        } catch (FileAlreadyExistsException exists) {
            // kept as it is
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
        return file;
    }

    /** Makes an existing file 0600 (one created by a library that ignores the mode we want). */
    public void makePrivate(Path file) {
        try {
            if (Files.isRegularFile(file) && !Files.getPosixFilePermissions(file).equals(FILE_MODE)) {
                Files.setPosixFilePermissions(file, FILE_MODE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make " + file + " private", e);
        }
    }

    /** Writes {@code name} atomically and durably: temporary 0600 file, fsync, rename, fsync of the directory. */
    public Path writePrivate(String name, byte[] content) throws IOException {
        Path file = path.resolve(name);
        Path tmp = Files.createTempFile(path, "." + name, ".tmp", PosixFilePermissions.asFileAttribute(FILE_MODE));
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                channel.write(java.nio.ByteBuffer.wrap(content));
                channel.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        try (FileChannel dir = FileChannel.open(path, StandardOpenOption.READ)) {
            dir.force(true); // the rename itself survives a crash
        }
        return file;
    }
}
