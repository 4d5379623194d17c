-- "What did this user do?": the initiator filter (the list, its chart and its count) reads
-- one initiator's events newest first through this index instead of scanning the log (1–2 s
-- at 10M events without it). It ends in (ts, id) so that a page `(ts, id) < (…)` is one
-- range of it, as the group index does. Events without an initiator are left out: the
-- filter never asks for them (`initiator = $1` implies `initiator IS NOT NULL`).
--
-- Made on every partition of a partitioned `events`. A carry-over in progress
-- (`eventlog partition`) gets it on its target table too, so the swap at its end keeps it.
CREATE INDEX events_initiator_ts ON events (initiator, ts, id) WHERE initiator IS NOT NULL;

DO $$
BEGIN
    IF to_regclass('events_part') IS NOT NULL THEN
        CREATE INDEX events_part__events_initiator_ts ON events_part (initiator, ts, id)
            WHERE initiator IS NOT NULL;
    END IF;
END
$$;
