-- Sessions end after a period without requests (idle timeout) as well as at their absolute
-- expiry; existing sessions count as idle from now on.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0; -- microseconds, UTC
UPDATE sessions SET last_seen_at = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- API tokens get a scope: what they may do. Existing tokens keep full access.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'all'
    CHECK (scope IN ('ingest', 'read', 'all'));
