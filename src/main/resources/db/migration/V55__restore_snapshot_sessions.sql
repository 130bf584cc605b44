-- Restore sessions of snapshots (POST /api/v1/snapshots/{id}/restore) are recorded like those of
-- image files; snapshot_id says which snapshot one serves (null for an image's session).
ALTER TABLE restore_session ADD COLUMN snapshot_id UUID;
