package dev.faultline.security;

import dev.faultline.DataDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Seals secrets the service must keep in its database for a while (a migration job's page
 * channel secret) so that a copy of the database, a backup or a {@code SELECT} does not reveal
 * them: AES-256-GCM under a key kept in a 0600 file, {@code <data-dir>/secret.key} unless
 * {@code faultline.secret-key-file} names one. Instances sharing a database must share the key
 * file (docs/security.md); the default one is created on the first start.
 */
@Component
public class SecretBox {

    private static final Logger log = LoggerFactory.getLogger(SecretBox.class);
    static final String KEY_FILE = "secret.key";
    private static final String SEALED = "v1:";
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKey key;
    private final Path keyFile;

    @Autowired
    SecretBox(DataDirectory dataDir, @Value("${faultline.secret-key-file:}") String keyFile) {
        this(keyFile.isBlank() ? dataDir.path().resolve(KEY_FILE) : Path.of(keyFile), keyFile.isBlank() ? dataDir : null);
    }

    private SecretBox(Path keyFile, DataDirectory createIn) {
        this.keyFile = keyFile;
        this.key = new SecretKeySpec(loadOrCreate(keyFile, createIn), "AES");
    }

    /** A box whose key is in {@code keyFile}, created (0600) in its directory when missing: for tests. */
    public static SecretBox withKeyFile(Path keyFile) {
        return new SecretBox(keyFile, null);
    }

    /** The sealed form of {@code secret} (null stays null); a new nonce every time. */
    public String seal(String secret) {
        if (secret == null) {
            return null;
        }
        try {
            byte[] nonce = new byte[NONCE_BYTES];
            RANDOM.nextBytes(nonce);
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            byte[] sealed = cipher.doFinal(secret.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return SEALED + Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JVM", e);
        }
    }

    /**
     * The secret inside {@code stored}. A value that was never sealed (written before sealing
     * existed) is returned as it is, so jobs running across the upgrade go on.
     */
    public String open(String stored) {
        if (stored == null || !stored.startsWith(SEALED)) {
            return stored;
        }
        byte[] in;
        try {
            in = Base64.getDecoder().decode(stored.substring(SEALED.length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("a sealed secret in the database is damaged", e);
        }
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
            return new String(cipher.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES), StandardCharsets.UTF_8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("a secret in the database was sealed with another key than " + keyFile
                    + ": every instance sharing the database needs the same faultline.secret-key-file", e);
        }
    }

    private static byte[] loadOrCreate(Path file, DataDirectory createIn) {
        try {
            byte[] key = Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).strip());
            if (key.length != 32) {
                throw new IllegalStateException(file + " does not hold a 256-bit key (base64 of 32 bytes)");
            }
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (mode.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
                log.warn("the key file {} is readable by other users ({}): make it 0600", file, mode);
            }
            return key;
        } catch (NoSuchFileException missing) {
            return create(file, createIn);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the key file " + file, e);
        }
    }

    private static byte[] create(Path file, DataDirectory createIn) {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        byte[] text = (Base64.getEncoder().encodeToString(key) + "\n").getBytes(StandardCharsets.US_ASCII);
        try {
            if (createIn != null) {
                createIn.writePrivate(file.getFileName().toString(), text);
            } else {
                // instances sharing the file may start at once: the first complete file wins
                Files.createDirectories(file.getParent());
                Path tmp = Files.createTempFile(file.getParent(), ".secret-key", ".tmp",
                        PosixFilePermissions.asFileAttribute(DataDirectory.FILE_MODE));
                try {
                    Files.write(tmp, text, StandardOpenOption.SYNC);
                    Files.createLink(file, tmp);
                } catch (FileAlreadyExistsException lost) {
                    return loadOrCreate(file, createIn);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the key file " + file, e);
        }
        log.info("created the key that seals secrets in the database: {}", file);
        return key;
    }
}
