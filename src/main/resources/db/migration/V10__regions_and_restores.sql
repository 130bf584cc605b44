-- Regions: address ranges of workloads whose uffd an agent holds, as last reported by that agent.
CREATE TABLE region (
    id             UUID                     NOT NULL PRIMARY KEY,
    node           VARCHAR(64)              NOT NULL,
    name           VARCHAR(128)             NOT NULL,
    labels         VARCHAR(8192)            NOT NULL,
    owner_pid      BIGINT,
    owner_uid      BIGINT,
    owner_command  VARCHAR(256),
    start_address  BIGINT                   NOT NULL,
    length         BIGINT                   NOT NULL,
    page_size      INTEGER                  NOT NULL,
    modes          VARCHAR(64)              NOT NULL,
    source         VARCHAR(32),
    backing_kind   VARCHAR(16)              NOT NULL,
    backing_path   VARCHAR(4096),
    backing_offset BIGINT,
    restore_id     UUID,
    state          VARCHAR(16)              NOT NULL,
    attached_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    detached_at    TIMESTAMP WITH TIME ZONE,
    version        BIGINT                   NOT NULL,
    CONSTRAINT ck_region_state CHECK (state IN ('ATTACHED', 'DETACHING', 'DETACHED'))
);
CREATE INDEX ix_region_node_state ON region (node, state);

-- Restore sessions: a memory image plus a handoff socket on one node's agent.
CREATE TABLE restore_session (
    id                 UUID                     NOT NULL PRIMARY KEY,
    node               VARCHAR(64)              NOT NULL,
    name               VARCHAR(128)             NOT NULL,
    labels             VARCHAR(8192)            NOT NULL,
    image_path         VARCHAR(4096)            NOT NULL,
    image_size         BIGINT                   NOT NULL,
    fault_around_pages INTEGER                  NOT NULL,
    populate_delay_ms  BIGINT                   NOT NULL,
    working_set        VARCHAR(16)              NOT NULL,
    socket             VARCHAR(4096),
    state              VARCHAR(16)              NOT NULL,
    error              VARCHAR(1024),
    created_at         TIMESTAMP WITH TIME ZONE NOT NULL,
    closed_at          TIMESTAMP WITH TIME ZONE,
    version            BIGINT                   NOT NULL,
    CONSTRAINT ck_restore_state CHECK (state IN ('WAITING', 'ACTIVE', 'COMPLETE', 'FAILED', 'CLOSED'))
);
