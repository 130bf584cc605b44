-- A migration job's secret is stored sealed (AES-256-GCM, security/SecretBox): "v1:" and the
-- base64 of nonce, ciphertext and tag, longer than the 64 hex characters it replaces.
ALTER TABLE migration ALTER COLUMN secret SET DATA TYPE VARCHAR(256);
