-- Snapshot policies: label selector + cron schedule in a time zone + retention rules.
CREATE TABLE snapshot_policy (
    id              UUID                     NOT NULL PRIMARY KEY,
    version         BIGINT                   NOT NULL,
    name            VARCHAR(64)              NOT NULL,
    selector        VARCHAR(1024)            NOT NULL,
    schedule        VARCHAR(128)             NOT NULL,
    time_zone       VARCHAR(64)              NOT NULL,
    full_every      INTEGER                  NOT NULL,
    keep_last       INTEGER                  NOT NULL,
    keep_hourly     INTEGER                  NOT NULL,
    keep_daily      INTEGER                  NOT NULL,
    keep_weekly     INTEGER                  NOT NULL,
    keep_monthly    INTEGER                  NOT NULL,
    max_age_seconds BIGINT,
    keep_verified   INTEGER                  NOT NULL,
    paused          BOOLEAN                  NOT NULL,
    require_quiesce BOOLEAN                  NOT NULL,
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    -- fire times at or before this never run (creation, resume, schedule change)
    schedule_anchor TIMESTAMP WITH TIME ZONE NOT NULL,
    -- the latest fire time claimed; written only by the scheduler's compare-and-set claim
    last_fire_time  TIMESTAMP WITH TIME ZONE,
    CONSTRAINT uk_snapshot_policy_name UNIQUE (name),
    CONSTRAINT ck_snapshot_policy_full_every CHECK (full_every >= 1)
);

-- What each fire time did for each region (or one row without a region when none matched).
CREATE TABLE snapshot_policy_run (
    id             UUID                     NOT NULL PRIMARY KEY,
    policy_id      UUID                     NOT NULL REFERENCES snapshot_policy (id) ON DELETE CASCADE,
    fire_time      TIMESTAMP WITH TIME ZONE NOT NULL,
    region_id      VARCHAR(36),
    region_name    VARCHAR(255),
    snapshot_id    UUID,
    kind           VARCHAR(16),
    skipped_reason VARCHAR(500),
    recorded_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT uk_snapshot_policy_run UNIQUE (policy_id, fire_time, region_id)
);

CREATE INDEX ix_snapshot_policy_run_policy_fire ON snapshot_policy_run (policy_id, fire_time);
