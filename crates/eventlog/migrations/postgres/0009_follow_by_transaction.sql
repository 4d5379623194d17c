-- Exact following (the live tail, `eventlog tail -f`): each event records the id of the
-- transaction that wrote it, so a follower can ask for "rows of transactions that were still
-- running at my last read, or began after it" instead of `id > last id`, which skips a
-- transaction that commits after a higher id became visible.
--
-- No default on ADD COLUMN: a volatile default would rewrite the whole table under an
-- exclusive lock. Rows stored before this migration keep NULL (they were all committed long
-- before any follower starts); new rows get their transaction's id.
ALTER TABLE events ADD COLUMN xid xid8;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
-- Transaction ids only grow, so new entries land at the right edge of the index (cheap to
-- maintain); older rows (NULL) are left out.
CREATE INDEX events_xid ON events (xid) WHERE xid IS NOT NULL;
