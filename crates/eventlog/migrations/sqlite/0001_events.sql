-- Groups get a small sequential integer `gid`: events index (gid, ts) instead of the group's
-- text, so new groups append to the index instead of landing at random places in it. That
-- nearly doubles insert throughput with random (UUID) group ids.
CREATE TABLE event_groups (
    gid         INTEGER PRIMARY KEY,
    group_id    TEXT    NOT NULL UNIQUE,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    event_count INTEGER NOT NULL
);
CREATE INDEX event_groups_last_at ON event_groups (last_at, group_id);

-- How many events of each type a group has: its status is the most severe of them.
CREATE TABLE event_group_types (
    gid         INTEGER NOT NULL,
    event_type  TEXT    NOT NULL,
    event_count INTEGER NOT NULL,
    PRIMARY KEY (gid, event_type)
) WITHOUT ROWID;
CREATE INDEX event_group_types_type ON event_group_types (event_type, gid);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL UNIQUE,
    event_type  TEXT    NOT NULL,
    gid         INTEGER NOT NULL,
    group_id    TEXT    NOT NULL, -- the group's text, kept on the row for display and search
    ts          INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    message     TEXT    NOT NULL,
    data        TEXT,             -- JSON
    initiator   TEXT,
    send_mail   TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_group_ts ON events (gid, ts);
CREATE INDEX events_type_ts ON events (event_type, ts);
