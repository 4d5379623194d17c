-- The type index keeps only what its query needs.
--
-- (event_type, ts, id) was the largest index (66 MiB of 578 per 1M events). A type filter on
-- a type that is not rare walks the time index newest first and stops after a page (a type
-- holding 10 % of the events: ~1,000 index entries for a page of 100; per-type retention
-- walks it oldest first the same way), so only a rare or absent type needs an index of its
-- own, and its matches are few enough to sort. A plain (event_type) index stores each type
-- name once per page (B-tree deduplication) followed by row pointers: 7 MiB per 1M events.
--
-- The group index (gid, ts, id) stays whole: a page of a big group is a row comparison
-- `(ts, id) < (…)` that only an index ending in (ts, id) serves as one range (with (gid, ts)
-- the next page of a 5,000-event group sorted half the group: 9 ms instead of 1).
--
-- Works on a partitioned `events` (the index is made on every partition) and on one not yet
-- partitioned. A carry-over in progress (`eventlog partition`) has its target table
-- `events_part` with copies of the old indexes: changed the same way, so the swap at its end
-- names the new one.
DROP INDEX IF EXISTS events_type_ts;
CREATE INDEX events_type ON events (event_type);

DO $$
BEGIN
    IF to_regclass('events_part') IS NOT NULL THEN
        DROP INDEX IF EXISTS events_part__events_type_ts;
        CREATE INDEX events_part__events_type ON events_part (event_type);
    END IF;
END
$$;
