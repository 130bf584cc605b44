-- Migration jobs: a region moving from its source node to a destination node. Kept after they
-- end, with their final statistics.
CREATE TABLE migration (
    id                    UUID                     NOT NULL PRIMARY KEY,
    version               BIGINT                   NOT NULL,
    region_id             UUID                     NOT NULL,
    region_name           VARCHAR(128)             NOT NULL,
    -- region_id while the job is active, else NULL: one active job per region, also across
    -- service instances (a partial unique index would not be portable to H2)
    active_region_id      UUID,
    source_node           VARCHAR(64)              NOT NULL,
    destination_node      VARCHAR(64)              NOT NULL,
    destination_region_id UUID,
    destination_channel   VARCHAR(256),
    destination_socket    VARCHAR(4096),
    phase                 VARCHAR(16)              NOT NULL,
    paused_in             VARCHAR(16),
    max_downtime_ms       BIGINT                   NOT NULL,
    bandwidth_limit       BIGINT                   NOT NULL,
    max_precopy_rounds    INTEGER                  NOT NULL,
    postcopy              VARCHAR(16)              NOT NULL,
    postcopy_after_ms     BIGINT                   NOT NULL,
    requested_by          VARCHAR(128)             NOT NULL,
    created_at            TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at            TIMESTAMP WITH TIME ZONE,
    switchover_at         TIMESTAMP WITH TIME ZONE,
    completed_at          TIMESTAMP WITH TIME ZONE,
    ended_at              TIMESTAMP WITH TIME ZONE,
    error                 VARCHAR(2000),
    timeline              VARCHAR(4000)            NOT NULL,
    stats                 VARCHAR(4000)            NOT NULL,
    -- the page channel's one-time key (64 hex characters) while the job is active; never
    -- returned by the API, wiped when the job ends
    secret                VARCHAR(64),
    source_forgotten      BOOLEAN                  NOT NULL,
    destination_forgotten BOOLEAN                  NOT NULL,
    CONSTRAINT uk_migration_active_region UNIQUE (active_region_id),
    CONSTRAINT ck_migration_phase CHECK (phase IN ('PENDING', 'PRECOPY', 'SWITCHOVER', 'POSTCOPY', 'COMPLETED',
        'PAUSED', 'FAILED', 'CANCELLED')),
    CONSTRAINT ck_migration_paused_in CHECK ((phase = 'PAUSED') = (paused_in IS NOT NULL)),
    CONSTRAINT ck_migration_postcopy CHECK (postcopy IN ('AUTO', 'MANUAL')),
    CONSTRAINT ck_migration_secret CHECK ((active_region_id IS NULL) OR (secret IS NOT NULL))
);

CREATE INDEX ix_migration_phase ON migration (phase);
CREATE INDEX ix_migration_region_created ON migration (region_id, created_at);
CREATE INDEX ix_migration_created ON migration (created_at);
