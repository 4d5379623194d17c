-- Admin users (Argon2 password hashes) and their login sessions (SHA-256 of the token).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    INTEGER NOT NULL -- microseconds since the Unix epoch, UTC
);

CREATE TABLE sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Text search of the admin (group, message, initiator; case-insensitive substring): a trigram
-- FTS5 index, so a rare word is found without scanning every event. Kept in step by triggers.
CREATE VIRTUAL TABLE events_search USING fts5(
    group_id, message, initiator,
    content = 'events', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO events_search (events_search) VALUES ('rebuild');
CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_search (rowid, group_id, message, initiator)
    VALUES (new.id, new.group_id, new.message, new.initiator);
END;
CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_search (events_search, rowid, group_id, message, initiator)
    VALUES ('delete', old.id, old.group_id, old.message, old.initiator);
END;
CREATE TRIGGER events_search_update AFTER UPDATE ON events BEGIN
    INSERT INTO events_search (events_search, rowid, group_id, message, initiator)
    VALUES ('delete', old.id, old.group_id, old.message, old.initiator);
    INSERT INTO events_search (rowid, group_id, message, initiator)
    VALUES (new.id, new.group_id, new.message, new.initiator);
END;
