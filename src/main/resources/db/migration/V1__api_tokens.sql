-- API tokens: only a SHA-256 hash of each secret is stored.
CREATE TABLE api_token (
    id            UUID                     NOT NULL PRIMARY KEY,
    name          VARCHAR(64)              NOT NULL,
    role          VARCHAR(16)              NOT NULL,
    secret_hash   VARCHAR(64)              NOT NULL,
    secret_prefix VARCHAR(16)              NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    created_by    VARCHAR(64),
    expires_at    TIMESTAMP WITH TIME ZONE,
    last_used_at  TIMESTAMP WITH TIME ZONE,
    CONSTRAINT uk_api_token_name UNIQUE (name),
    CONSTRAINT uk_api_token_secret_hash UNIQUE (secret_hash),
    CONSTRAINT ck_api_token_role CHECK (role IN ('VIEWER', 'OPERATOR', 'ADMIN'))
);
