-- API tokens: only the SHA-256 hash of each secret is kept.
CREATE TABLE api_tokens (
    name         TEXT        NOT NULL PRIMARY KEY,
    token_hash   TEXT        NOT NULL UNIQUE, -- 64 hex digits
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
