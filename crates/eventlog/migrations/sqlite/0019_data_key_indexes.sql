-- The data keys declared in `[database] indexed_data_keys` (or the library's builder) that
-- have an index, and its name: the list of what to drop when a key is no longer declared,
-- and what a listing reads to know whether a `data.KEY` filter has an index behind it.
-- The indexes themselves are made when the declared keys are applied, not here.
CREATE TABLE eventlog_data_keys (
    path        TEXT PRIMARY KEY,
    index_name  TEXT NOT NULL
);
