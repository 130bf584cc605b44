-- Whether the source compresses page frames on the page channel (zstd) or sends them as they are.
-- Jobs created before the option existed sent them as they are.
ALTER TABLE migration ADD COLUMN compress VARCHAR(8) DEFAULT 'NONE' NOT NULL;
ALTER TABLE migration ADD CONSTRAINT ck_migration_compress CHECK (compress IN ('NONE', 'ZSTD'));
