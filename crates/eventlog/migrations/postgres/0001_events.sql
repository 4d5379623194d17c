-- Events, and the per-group summaries the groups page reads (kept up to date by the store on
-- every insert and delete, so listing groups never aggregates the whole events table).
-- Group ids are COLLATE "C": byte order whatever the database locale, as in SQLite, and cheaper.
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid        UUID        NOT NULL UNIQUE,
    event_type  TEXT        NOT NULL,
    group_id    TEXT COLLATE "C" NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    message     TEXT        NOT NULL,
    data        JSONB,
    initiator   TEXT,
    send_mail   TEXT
);
CREATE INDEX events_ts ON events (ts, id);
CREATE INDEX events_group_ts ON events (group_id, ts, id);
CREATE INDEX events_type_ts ON events (event_type, ts, id);

CREATE TABLE event_groups (
    group_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    first_at    TIMESTAMPTZ NOT NULL,
    last_at     TIMESTAMPTZ NOT NULL,
    event_count BIGINT      NOT NULL
);
CREATE INDEX event_groups_last_at ON event_groups (last_at, group_id);

CREATE TABLE event_group_types (
    group_id    TEXT COLLATE "C" NOT NULL,
    event_type  TEXT   NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (group_id, event_type)
);
CREATE INDEX event_group_types_type ON event_group_types (event_type, group_id);
