-- One outbox for every channel: a row is a mail (kind 'mail', recipient = the address) or a
-- notification (kind 'notify', recipient = the [[notify.channel]] name). group_key holds the
-- event's group so that a channel's digest can gather a group's queued rows into one message.
-- SQLite cannot change a table's constraints in place: the table is rebuilt.
CREATE TABLE mail_outbox_new (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL,
    event_uuid      BLOB    NOT NULL,
    recipient       TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sent', 'given_up')),
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    finished_at     INTEGER,
    kind            TEXT    NOT NULL DEFAULT 'mail' CHECK (kind IN ('mail', 'notify')),
    group_key       TEXT,
    UNIQUE (event_uuid, kind, recipient)
);
INSERT INTO mail_outbox_new (id, event_id, event_uuid, recipient, state, created_at,
    next_attempt_at, lease_until, attempts, failures, last_error, finished_at)
SELECT id, event_id, event_uuid, recipient, state, created_at, next_attempt_at, lease_until,
    attempts, failures, last_error, finished_at FROM mail_outbox;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_new RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (kind, next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX mail_outbox_finished ON mail_outbox (finished_at) WHERE state <> 'queued';
CREATE INDEX mail_outbox_digest ON mail_outbox (recipient, group_key)
    WHERE state = 'queued' AND kind = 'notify';
CREATE INDEX mail_outbox_recent ON mail_outbox (kind, recipient, id);

-- Which event types each channel receives ('*': every type), and how long a row waits for
-- more events of its group (the digest window). Written by the process that sends
-- notifications, from its [notify] configuration; read by every batch insert.
CREATE TABLE notify_routes (
    channel    TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    delay_ms   INTEGER NOT NULL,
    PRIMARY KEY (channel, event_type)
);
