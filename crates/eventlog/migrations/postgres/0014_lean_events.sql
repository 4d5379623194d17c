-- Leaner rows beside the events, and a purge that does not delete claims row by row.
--
-- 1. `event_uuids` keeps (uuid, ts), no `id`: the event of a uuid is found by its time
--    (which prunes to one partition) and the uuid there, through the time index. 8 bytes less
--    per claim. Dropping a partition no longer deletes its claims in the same transaction
--    (785,000 row deletes for a month at 10M events: ~2.3 s of a purge); it records the
--    dropped range in `event_partitioning.claims_before`, and the store's upkeep
--    (`Store::maintain`) sweeps the table by block ranges, deleting the claims older than
--    that whose event is gone. Until then, re-sending the uuid of a purged event is still
--    recognised as a repeat (nothing is stored).
-- 2. `event_group_types` is keyed by the group's number (`gid`) instead of its text, with
--    the 8-byte columns first (no alignment padding): the group text is stored once, in
--    `event_groups`.
-- 3. The transaction id index (`xid`, the live tail's reads) becomes a BRIN index: ids of
--    transactions only grow, so rows are written in `xid` order and a block range's
--    minimum and maximum narrow a read of the newest transactions to the last few ranges
--    (the B-tree was 6 MiB per 1M events and one more index entry per insert). `xid8` has
--    no BRIN operator class: the index is on its value as a bigint, and the follow read's
--    range is written the same way.
--
-- Works on a partitioned `events` and on one not yet partitioned (and on the staging table
-- of a carry-over in progress, as 0012 does). Rewrites `event_uuids` and
-- `event_group_types` (about a minute for 10M claims).

ALTER TABLE event_partitioning
    -- Claims (`event_uuids`) older than this belong to dropped partitions: upkeep deletes
    -- them, sweeping the table from block `claims_swept_to` on. NULL: nothing to sweep.
    ADD COLUMN claims_before   TIMESTAMPTZ,
    ADD COLUMN claims_swept_to BIGINT;

CREATE TABLE event_uuids_lean (
    uuid UUID        NOT NULL,
    ts   TIMESTAMPTZ NOT NULL
);
INSERT INTO event_uuids_lean (uuid, ts) SELECT uuid, ts FROM event_uuids ORDER BY ts;
DROP TABLE event_uuids;
ALTER TABLE event_uuids_lean RENAME TO event_uuids;
ALTER TABLE event_uuids ADD CONSTRAINT event_uuids_pkey PRIMARY KEY (uuid);

CREATE TABLE event_group_types_lean (
    gid         BIGINT NOT NULL,
    event_count BIGINT NOT NULL,
    event_type  TEXT   NOT NULL
);
INSERT INTO event_group_types_lean (gid, event_count, event_type)
SELECT g.gid, t.event_count, t.event_type
FROM event_group_types t JOIN event_groups g ON g.group_id = t.group_id
ORDER BY g.gid, t.event_type;
DROP TABLE event_group_types;
ALTER TABLE event_group_types_lean RENAME TO event_group_types;
ALTER TABLE event_group_types ADD CONSTRAINT event_group_types_pkey PRIMARY KEY (gid, event_type);
-- The groups holding a type (a groups page filtered by a rare type).
CREATE INDEX event_group_types_type ON event_group_types (event_type, gid);

DROP INDEX IF EXISTS events_xid;
CREATE INDEX events_xid ON events USING brin ((xid::text::int8))
    WITH (pages_per_range = 16, autosummarize = on);

DO $$
BEGIN
    IF to_regclass('events_part') IS NOT NULL THEN
        DROP INDEX IF EXISTS events_part__events_xid;
        CREATE INDEX events_part__events_xid ON events_part
            USING brin ((xid::text::int8)) WITH (pages_per_range = 16, autosummarize = on);
    END IF;
END
$$;
