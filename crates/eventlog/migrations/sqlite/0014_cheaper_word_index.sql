-- A cheaper events word index, the same matches.
--
-- The word index is about half of what storing an event costs SQLite. Two of its costs are
-- not needed:
-- 1. `contentless_delete = 1` keeps a size record per event (the `events_search_docsize`
--    table, ~10 MiB per 1M events) and requires it. `columnsize = 0` drops it; a deleted
--    event's words then leave the index by FTS5's 'delete' command, which needs the text
--    the event was indexed with. The events row still holds it when the delete trigger runs
--    (rows are never updated), so the trigger passes exactly the indexed text.
-- 2. FTS5 merges its segments once 4 of a level exist (`automerge` 4): with 16 the same
--    entries are rewritten fewer times while importing; a search reads a few more segments
--    (measured in the `dataset` bench). `hashsize` 16 MiB lets a large transaction (an
--    import batch, this migration) collect more words in memory before writing a segment.
--    Both settings live in the index's `events_search_config` table and hold for every
--    connection.
-- Tokenizer (`unicode61 remove_diacritics 0`) and `detail = 'none'` are unchanged: a search
-- matches the same events as before.
DROP TRIGGER IF EXISTS events_search_insert;
DROP TRIGGER IF EXISTS events_search_delete;
DROP TABLE IF EXISTS events_search_terms;
DROP TABLE IF EXISTS events_search;

CREATE VIRTUAL TABLE events_search USING fts5(
    words, content = '', columnsize = 0, detail = 'none',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO events_search (events_search, rank) VALUES ('automerge', 16);
INSERT INTO events_search (events_search, rank) VALUES ('hashsize', 16777216);
INSERT INTO events_search (rowid, words)
SELECT id, message || ' ' || coalesce(initiator, '') FROM events;

CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_search (rowid, words)
    VALUES (new.id, new.message || ' ' || coalesce(new.initiator, ''));
END;
-- The same text as the insert trigger's: FTS5 takes out exactly the words it is given.
CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_search (events_search, rowid, words)
    VALUES ('delete', old.id, old.message || ' ' || coalesce(old.initiator, ''));
END;

CREATE VIRTUAL TABLE events_search_terms USING fts5vocab(events_search, 'instance');
