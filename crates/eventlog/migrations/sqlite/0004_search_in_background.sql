-- Indexing every event for search inside the insert transaction (trigger) cut insert
-- throughput by two thirds. The trigram index is now filled in the background instead
-- (Store::maintain: by the writer when idle, and periodically by the server), up to
-- `indexed_upto`; searches use the index up to there and LIKE on the newer rows.
DROP TRIGGER events_search_insert;
DROP TRIGGER events_search_update;
DROP TRIGGER events_search_delete;

CREATE TABLE search_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL
);
INSERT INTO search_state (id, indexed_upto) VALUES (1, (SELECT coalesce(max(id), 0) FROM events));

-- Only rows already in the index may be removed from it.
CREATE TRIGGER events_search_delete AFTER DELETE ON events
WHEN old.id <= (SELECT indexed_upto FROM search_state)
BEGIN
    INSERT INTO events_search (events_search, rowid, group_id, message, initiator)
    VALUES ('delete', old.id, old.group_id, old.message, old.initiator);
END;
