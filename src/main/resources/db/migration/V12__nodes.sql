-- Nodes: an agent and the service instance that manages it. Every instance heartbeats the
-- nodes it manages; any instance can list them all.
CREATE TABLE node (
    name           VARCHAR(64)              NOT NULL PRIMARY KEY,
    instance_id    VARCHAR(64)              NOT NULL,
    page_channel   VARCHAR(256),
    agent_state    VARCHAR(16)              NOT NULL,
    agent_version  VARCHAR(32),
    agent_pid      BIGINT,
    capabilities   VARCHAR(4096)            NOT NULL,
    last_heartbeat TIMESTAMP WITH TIME ZONE NOT NULL,
    registered_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
