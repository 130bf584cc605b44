-- Paged lists are read newest first (or by state, then newest first): with these indexes the
-- database reads one page through the index instead of sorting every row.
CREATE INDEX ix_region_attached_at ON region (attached_at);
CREATE INDEX ix_region_state_attached_at ON region (state, attached_at);
CREATE INDEX ix_restore_session_created_at ON restore_session (created_at);
CREATE INDEX ix_restore_session_state_created_at ON restore_session (state, created_at);
CREATE INDEX ix_restore_session_name ON restore_session (name);

-- A region's labels, one row each, so that a label selector is evaluated by the database
-- (region.labels stays the region's JSON record of them; the service writes both together).
-- Filled for the existing regions by V61 (a Java migration: the JSON is parsed there).
CREATE TABLE region_label (
    region_id   UUID         NOT NULL REFERENCES region (id) ON DELETE CASCADE,
    label_key   VARCHAR(317) NOT NULL,
    label_value VARCHAR(63)  NOT NULL,
    PRIMARY KEY (region_id, label_key)
);
CREATE INDEX ix_region_label_key_value ON region_label (label_key, label_value);
