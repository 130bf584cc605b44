-- A restore session requested through an instance that does not manage its node is recorded
-- REQUESTED; the instance managing the node claims it (FOR UPDATE SKIP LOCKED), has its agent
-- open the handoff socket and moves it to WAITING (or FAILED with the reason).
ALTER TABLE restore_session DROP CONSTRAINT ck_restore_state;
ALTER TABLE restore_session ADD CONSTRAINT ck_restore_state
    CHECK (state IN ('REQUESTED', 'WAITING', 'ACTIVE', 'COMPLETE', 'FAILED', 'CLOSED'));
CREATE INDEX ix_restore_session_node_state ON restore_session (node, state);
