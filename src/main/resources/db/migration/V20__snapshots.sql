-- The snapshot catalog. Images live on disk (faultline.snapshots.dir); rows record what exists.
CREATE TABLE snapshot (
    id               UUID                     NOT NULL PRIMARY KEY,
    version          BIGINT                   NOT NULL,
    region_id        VARCHAR(36)              NOT NULL,
    region_name      VARCHAR(255)             NOT NULL,
    region_labels    VARCHAR(4000)            NOT NULL,
    kind             VARCHAR(16)              NOT NULL,
    parent_id        UUID,
    state            VARCHAR(16)              NOT NULL,
    -- region_id while PENDING or RUNNING, else NULL: one snapshot job per region at a time,
    -- also across service instances (a partial unique index would not be portable to H2)
    active_region_id VARCHAR(36),
    policy_id        UUID,
    require_quiesce  BOOLEAN                  NOT NULL,
    requested_by     VARCHAR(128)             NOT NULL,
    image_path       VARCHAR(1024)            NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at       TIMESTAMP WITH TIME ZONE,
    completed_at     TIMESTAMP WITH TIME ZONE,
    deleted_at       TIMESTAMP WITH TIME ZONE,
    size_bytes       BIGINT,
    pages_total      BIGINT,
    pages_present    BIGINT,
    pages_zero       BIGINT,
    stall_max_us     BIGINT,
    stall_p999_us    BIGINT,
    stall_count      BIGINT,
    quiesced         VARCHAR(16),
    verified_state   VARCHAR(16)              NOT NULL,
    last_verified_at TIMESTAMP WITH TIME ZONE,
    checksum         VARCHAR(128),
    error            VARCHAR(2000),
    CONSTRAINT uk_snapshot_active_region UNIQUE (active_region_id),
    CONSTRAINT ck_snapshot_kind CHECK (kind IN ('FULL', 'INCREMENTAL')),
    CONSTRAINT ck_snapshot_parent CHECK ((kind = 'FULL') = (parent_id IS NULL)),
    CONSTRAINT ck_snapshot_state CHECK (state IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'DELETING', 'DELETED')),
    CONSTRAINT ck_snapshot_quiesced CHECK (quiesced IN ('YES', 'NO', 'TIMEOUT')),
    CONSTRAINT ck_snapshot_verified CHECK (verified_state IN ('UNVERIFIED', 'VERIFIED', 'CORRUPT'))
);

CREATE INDEX ix_snapshot_region_created ON snapshot (region_id, created_at);
CREATE INDEX ix_snapshot_policy_region_created ON snapshot (policy_id, region_id, created_at);
CREATE INDEX ix_snapshot_parent ON snapshot (parent_id);
CREATE INDEX ix_snapshot_state ON snapshot (state);
CREATE INDEX ix_snapshot_created ON snapshot (created_at);

-- Verifications, restores and deletions, kept after they end so callers can see how they went.
CREATE TABLE snapshot_operation (
    id                 UUID                     NOT NULL PRIMARY KEY,
    version            BIGINT                   NOT NULL,
    snapshot_id        UUID                     NOT NULL REFERENCES snapshot (id),
    kind               VARCHAR(16)              NOT NULL,
    state              VARCHAR(16)              NOT NULL,
    -- snapshot_id while PENDING or RUNNING, else NULL: one operation per snapshot at a time
    active_snapshot_id UUID,
    consolidate        BOOLEAN                  NOT NULL,
    restore_name       VARCHAR(255),
    restore_labels     VARCHAR(4000),
    requested_by       VARCHAR(128)             NOT NULL,
    requested_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at         TIMESTAMP WITH TIME ZONE,
    finished_at        TIMESTAMP WITH TIME ZONE,
    restore_id         VARCHAR(64),
    result             VARCHAR(2000),
    error              VARCHAR(2000),
    CONSTRAINT uk_snapshot_operation_active UNIQUE (active_snapshot_id),
    CONSTRAINT ck_snapshot_operation_kind CHECK (kind IN ('VERIFY', 'RESTORE', 'DELETE')),
    CONSTRAINT ck_snapshot_operation_state CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED'))
);

CREATE INDEX ix_snapshot_operation_snapshot ON snapshot_operation (snapshot_id, requested_at);
CREATE INDEX ix_snapshot_operation_state ON snapshot_operation (state);
