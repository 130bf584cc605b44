-- How a restore session serves its image: copy (every page copied into the workload's own
-- memory) or clone (one shared copy in memory, mapped copy-on-write by every clone).
ALTER TABLE restore_session ADD COLUMN mode VARCHAR(8) DEFAULT 'copy' NOT NULL;
ALTER TABLE restore_session ADD CONSTRAINT ck_restore_mode CHECK (mode IN ('copy', 'clone'));
-- A snapshot's restore opens a session too: the mode it asked for (NULL on older rows: copy).
ALTER TABLE snapshot_operation ADD COLUMN restore_mode VARCHAR(8);
