-- Events partitioned by time (native range partitioning on `ts`), so that retention drops
-- whole partitions instead of deleting row by row, and indexes stay the size of one period.
--
-- Decisions (the reasons are in docs/architecture.md, "Time partitions on PostgreSQL"):
--
-- 1. Idempotency moves to a table of its own, `event_uuids (uuid PRIMARY KEY, id, ts)`,
--    written in the same statement as the event. PostgreSQL only allows unique indexes on a
--    partitioned table that contain the partition key, and (uuid, ts) is not enough: the
--    HTTP API stamps the server's time on an event sent without a timestamp, so a retry of
--    the same uuid arrives with another ts and would be stored twice. The table also answers
--    "which event has this uuid" with one index probe plus one pruned partition lookup.
-- 2. The primary key becomes (id, ts). A lookup by id alone probes each partition's primary
--    key index (one small btree descent per partition: dozens, not millions).
-- 3. `id` is no longer an identity column (PostgreSQL 15 has none on partitioned tables) but
--    a plain sequence default, `events_id_seq`, owned by the column, so
--    `pg_get_serial_sequence('events', 'id')` still names it and ids keep counting from
--    where they were.
-- 4. A DEFAULT partition takes events whose time has no partition yet: a write never fails
--    because of its timestamp. The store creates partitions ahead (and for old rows that
--    landed in the default one, moving them) in `Store::maintain`; the interval is kept in
--    `event_partitioning` so that every server of one database agrees on it.
-- 5. Only an empty database is partitioned here. One with events keeps its table until
--    `eventlog partition` carries the rows over in batches while servers keep writing (the
--    store works with both shapes); a migration must not hold a lock for the hours a large
--    table would take.

CREATE TABLE event_uuids (
    uuid UUID        PRIMARY KEY,
    id   BIGINT      NOT NULL,
    ts   TIMESTAMPTZ NOT NULL
);
INSERT INTO event_uuids (uuid, id, ts) SELECT uuid, id, ts FROM events;

CREATE TABLE event_partitioning (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    -- The length of new partitions (existing ones keep theirs).
    every      TEXT    NOT NULL DEFAULT 'month' CHECK (every IN ('day', 'week', 'month', 'year')),
    -- A carry-over in progress (`eventlog partition`): the rows of the old table with
    -- id <= copy_until are copied by batches up to copied_to; newer rows are copied by
    -- triggers as they are written.
    copy_until BIGINT,
    copied_to  BIGINT
);
INSERT INTO event_partitioning DEFAULT VALUES;

-- A partitioned table `target` shaped like `events` (same columns and defaults, the same
-- secondary indexes named `<target>__<name>`, primary key (id, ts), its own id sequence and
-- a DEFAULT partition `events_default`).
CREATE FUNCTION eventlog_partitioned_events(target TEXT) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    ix RECORD;
BEGIN
    EXECUTE format('CREATE SEQUENCE %I AS BIGINT', target || '_id_seq');
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING STORAGE, '
                   'PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts)', target);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN id SET DEFAULT nextval(%L::regclass)',
                   target, target || '_id_seq');
    EXECUTE format('ALTER SEQUENCE %I OWNED BY %I.id', target || '_id_seq', target);
    EXECUTE format('CREATE TABLE events_default PARTITION OF %I DEFAULT', target);
    FOR ix IN
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = 'events'
          AND i.indexname NOT IN (SELECT conname FROM pg_constraint
                                  WHERE conrelid = 'events'::regclass AND contype IN ('p', 'u'))
    LOOP
        EXECUTE regexp_replace(ix.indexdef, '^CREATE (UNIQUE )?INDEX \S+ ON \S+ ',
            'CREATE \1INDEX ' || quote_ident(target || '__' || ix.indexname)
            || ' ON ' || quote_ident(target) || ' ');
    END LOOP;
END
$fn$;

-- Replaces `events` by `target` (made by eventlog_partitioned_events and filled): ids go on
-- from the old sequence, names become the old ones. Takes an exclusive lock on `events` for
-- the moment of the swap.
CREATE FUNCTION eventlog_partitioned_swap(target TEXT) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    old_seq TEXT;
    last    BIGINT;
    called  BOOLEAN;
    ix      RECORD;
BEGIN
    LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
    old_seq := pg_get_serial_sequence('events', 'id');
    EXECUTE format('SELECT last_value, is_called FROM %s', old_seq) INTO last, called;
    PERFORM setval(quote_ident(target || '_id_seq'), last, called);
    DROP TABLE events;
    EXECUTE format('ALTER TABLE %I RENAME TO events', target);
    EXECUTE format('ALTER SEQUENCE %I RENAME TO events_id_seq', target || '_id_seq');
    EXECUTE format('ALTER INDEX %I RENAME TO events_pkey', target || '_pkey');
    FOR ix IN
        SELECT i.indexname FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = 'events'
          AND starts_with(i.indexname, target || '__')
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I',
                       ix.indexname, substr(ix.indexname, length(target) + 3));
    END LOOP;
END
$fn$;

-- The carry-over's triggers on the old table: rows written or deleted while the batches run
-- are written to or deleted from the new table in the same transaction.
CREATE FUNCTION eventlog_carry_inserted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO events_part SELECT * FROM carried_rows;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION eventlog_carry_deleted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM events_part p USING carried_rows o WHERE p.id = o.id AND p.ts = o.ts;
    RETURN NULL;
END
$fn$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM events) THEN
        PERFORM eventlog_partitioned_events('events_part');
        PERFORM eventlog_partitioned_swap('events_part');
    END IF;
END
$$;
