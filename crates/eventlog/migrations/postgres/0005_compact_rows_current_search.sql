-- Smaller rows and a word search index, the same as the SQLite schema gives.
--
-- 1. Groups are numbered (`gid`) and events name their group by number: the group's text is
--    stored once, in event_groups. The events table is rebuilt with its columns ordered so
--    that fixed-width ones pack without padding.
-- 2. Search: a GIN index of the words of message and initiator, and one of the words of each
--    group id. Words are runs of letters and digits (ASCII punctuation is turned into spaces
--    before PostgreSQL's parser sees the text, so it splits as SQLite's unicode61 does);
--    a search matches an event when every word of the query starts a word of its message or
--    initiator, or every word starts a word of its group id; case-insensitive.
CREATE FUNCTION eventlog_words(text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN to_tsvector('simple'::regconfig,
    regexp_replace(left($1, 100000), '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'));

ALTER TABLE event_groups ADD COLUMN gid BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE event_groups ADD CONSTRAINT event_groups_gid UNIQUE (gid);
CREATE INDEX event_groups_words ON event_groups USING gin (eventlog_words(group_id));

DROP INDEX events_ts;
DROP INDEX events_group_ts;
DROP INDEX events_type_ts;
ALTER TABLE events RENAME TO events_old;
ALTER TABLE events_old RENAME CONSTRAINT events_pkey TO events_old_pkey;
ALTER TABLE events_old RENAME CONSTRAINT events_uuid_key TO events_old_uuid_key;

CREATE TABLE events (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts          TIMESTAMPTZ NOT NULL,
    gid         BIGINT      NOT NULL,
    uuid        UUID        NOT NULL UNIQUE,
    event_type  TEXT        NOT NULL,
    message     TEXT        NOT NULL,
    initiator   TEXT,
    data        JSONB,
    send_mail   TEXT
);
INSERT INTO events (id, ts, gid, uuid, event_type, message, initiator, data, send_mail)
OVERRIDING SYSTEM VALUE
SELECT e.id, e.ts, g.gid, e.uuid, e.event_type, e.message, e.initiator, e.data, e.send_mail
FROM events_old e JOIN event_groups g ON g.group_id = e.group_id
ORDER BY e.id;
SELECT setval(pg_get_serial_sequence('events', 'id'),
              coalesce((SELECT max(id) FROM events_old), 0) + 1, false);
DROP TABLE events_old;

CREATE INDEX events_ts ON events (ts, id);
CREATE INDEX events_group_ts ON events (gid, ts, id);
CREATE INDEX events_type_ts ON events (event_type, ts, id);
CREATE INDEX events_words ON events
    USING gin (eventlog_words(message || ' ' || coalesce(initiator, '')));
