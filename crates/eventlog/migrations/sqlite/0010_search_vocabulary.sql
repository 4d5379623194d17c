-- The vocabularies of the two search indexes, read by a search to look a word up as itself
-- rather than as a prefix when no longer word starts with it (the same matches; FTS5 merges
-- the full lists of every word a prefix starts before anything else, 1,000,000 entries for
-- `user` in a log whose initiators are `user:N`, while a plain word is read lazily).
-- 'instance' tables list one row per occurrence, so the first word at or after a given one
-- comes back without counting its rows. Virtual tables over the indexes: no data of their own.
CREATE VIRTUAL TABLE events_search_terms USING fts5vocab(events_search, 'instance');
CREATE VIRTUAL TABLE groups_search_terms USING fts5vocab(groups_search, 'instance');
