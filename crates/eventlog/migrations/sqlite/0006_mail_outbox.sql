-- The mail outbox: one row per (event, recipient), written in the same transaction as the
-- event, claimed by a sender with a lease, kept a while after it is sent or given up.
-- Times are microseconds since the Unix epoch, UTC, like events.ts.
CREATE TABLE mail_outbox (
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
    -- One mail per event and recipient, whoever writes it.
    UNIQUE (event_uuid, recipient)
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX mail_outbox_finished ON mail_outbox (finished_at) WHERE state <> 'queued';
