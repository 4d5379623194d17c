-- One outbox for every channel: a row is a mail (kind 'mail', recipient = the address) or a
-- notification (kind 'notify', recipient = the [[notify.channel]] name). group_key holds the
-- event's group so that a channel's digest can gather a group's queued rows into one message.
ALTER TABLE mail_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'mail'
    CHECK (kind IN ('mail', 'notify'));
ALTER TABLE mail_outbox ADD COLUMN group_key TEXT;
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_event_uuid_recipient_key;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_event_kind_recipient
    UNIQUE (event_uuid, kind, recipient);
DROP INDEX mail_outbox_due;
CREATE INDEX mail_outbox_due ON mail_outbox (kind, next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX mail_outbox_digest ON mail_outbox (recipient, group_key)
    WHERE state = 'queued' AND kind = 'notify';
CREATE INDEX mail_outbox_recent ON mail_outbox (kind, recipient, id);

-- Which event types each channel receives ('*': every type), and how long a row waits for
-- more events of its group (the digest window). Written by the process that sends
-- notifications, from its [notify] configuration; read by every batch insert, so events get
-- their rows in their own transaction whoever writes them.
CREATE TABLE notify_routes (
    channel    TEXT   NOT NULL,
    event_type TEXT   NOT NULL,
    delay_ms   BIGINT NOT NULL,
    PRIMARY KEY (channel, event_type)
);
