-- The mail outbox: one row per (event, recipient), written in the same transaction as the
-- event, claimed by a sender with a lease (and FOR UPDATE SKIP LOCKED, so several servers
-- never wait for each other), kept a while after it is sent or given up.
CREATE TABLE mail_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        BIGINT      NOT NULL,
    event_uuid      UUID        NOT NULL,
    recipient       TEXT        NOT NULL,
    state           TEXT        NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sent', 'given_up')),
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    failures        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    finished_at     TIMESTAMPTZ,
    -- One mail per event and recipient, whoever writes it.
    UNIQUE (event_uuid, recipient)
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX mail_outbox_finished ON mail_outbox (finished_at) WHERE state <> 'queued';
