-- Cluster-wide duties (event pruning, dead-node detection) run on one instance at a time:
-- ShedLock's table (net.javacrumbs.shedlock, JdbcTemplateLockProvider with database time).
CREATE TABLE shedlock (
    name       VARCHAR(64)  NOT NULL PRIMARY KEY,
    lock_until TIMESTAMP    NOT NULL,
    locked_at  TIMESTAMP    NOT NULL,
    locked_by  VARCHAR(255) NOT NULL
);

-- Set when the dead-node duty has seen the node's heartbeat go stale and failed its jobs;
-- cleared (node.up) by the next heartbeat of the instance managing it.
ALTER TABLE node ADD COLUMN down_since TIMESTAMP WITH TIME ZONE;
