-- Events, and the per-group summaries the groups page reads (kept up to date by the store on
-- every insert and delete, so listing groups never aggregates the whole events table).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL UNIQUE,
    event_type  TEXT    NOT NULL,
    group_id    TEXT    NOT NULL,
    ts          INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    message     TEXT    NOT NULL,
    data        TEXT,             -- JSON
    initiator   TEXT,
    send_mail   TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_group_ts ON events (group_id, ts);
CREATE INDEX events_type_ts ON events (event_type, ts);

CREATE TABLE event_groups (
    group_id    TEXT    NOT NULL PRIMARY KEY,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    event_count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX event_groups_last_at ON event_groups (last_at, group_id);

CREATE TABLE event_group_types (
    group_id    TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    event_count INTEGER NOT NULL,
    PRIMARY KEY (group_id, event_type)
) WITHOUT ROWID;
CREATE INDEX event_group_types_type ON event_group_types (event_type, group_id);
