-- Lists are read newest first with the id breaking ties (ORDER BY attached_at DESC, id DESC,
-- the same for restore sessions by created_at). With the id in the index the database reads
-- one page in index order and stops; with V60's indexes it still sorted every run of equal
-- times (H2's plan: "index sorted: 1 of 2 columns").
DROP INDEX ix_region_attached_at;
CREATE INDEX ix_region_attached_at_id ON region (attached_at, id);
DROP INDEX ix_region_state_attached_at;
CREATE INDEX ix_region_state_attached_at_id ON region (state, attached_at, id);
DROP INDEX ix_restore_session_created_at;
CREATE INDEX ix_restore_session_created_at_id ON restore_session (created_at, id);
DROP INDEX ix_restore_session_state_created_at;
CREATE INDEX ix_restore_session_state_created_at_id ON restore_session (state, created_at, id);
