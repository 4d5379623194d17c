//! Following the log (the live tail, `eventlog tail -f`): where a follower stands, so that
//! every committed event is shown exactly once, in the order it became visible.
//!
//! Ids are not enough on PostgreSQL: an id is drawn when a row is inserted but becomes visible
//! when its transaction commits, so a transaction that commits after a higher id was read
//! would be skipped by `id > last_id`. Each row therefore records the id of the transaction
//! that wrote it (`xid`, migration 0009), and a follower remembers a *snapshot*: which
//! transactions had finished when it last read. The next read asks only for rows of
//! transactions that were still running then, or began later, and have finished since — no
//! row is read twice, none is missed, and no overlap window has to be guessed.
//!
//! SQLite has one writer at a time, so ids become visible in id order and the last id seen is
//! the whole position.

use std::fmt;
use std::str::FromStr;

use crate::error::StoreError;
use crate::event::Event;

/// Transactions as a PostgreSQL snapshot sees them: every transaction id below `xmax` that is
/// not in `running` had finished (committed or rolled back) when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XidSnapshot {
    /// First transaction id not yet assigned.
    pub xmax: i64,
    /// Transaction ids still running, ascending.
    pub running: Vec<i64>,
}

/// What a follower has shown: everything up to a snapshot or an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Every event with an id up to this one (SQLite, or an id given by a client).
    Id(i64),
    /// Every event visible in this snapshot (PostgreSQL).
    Snapshot(XidSnapshot),
}

/// Where a follower of the log stands. [`crate::store::ReadStore::follow_start`] makes one at the
/// end of the log; [`crate::store::ReadStore::follow`] returns the events after it and the next
/// cursor.
///
/// Its text form (`Display`/`FromStr`) is what the admin's live tail uses as the message id,
/// so a reconnecting browser resumes exactly where it left off. A bare event id (`1234`)
/// parses too: the events with a greater id (exact on SQLite; on PostgreSQL a transaction
/// that was still running when that id was read may be missed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowCursor {
    /// Everything this mark covers has been shown.
    pub(crate) mark: Mark,
    /// Set while the events between `mark` and `end` are being read page by page (in id
    /// order): those with an id up to `after_id` have been shown.
    pub(crate) end: Option<Mark>,
    /// See `end`.
    pub(crate) after_id: i64,
    /// Whether reading stops at `end` ([`FollowCursor::until`]) rather than going on to
    /// whatever is committed by then.
    pub(crate) bounded: bool,
}

impl FollowCursor {
    /// Follows the events with an id greater than `id`.
    pub fn after_id(id: i64) -> FollowCursor {
        FollowCursor {
            mark: Mark::Id(id),
            end: None,
            after_id: 0,
            bounded: false,
        }
    }

    pub(crate) fn at(mark: Mark) -> FollowCursor {
        FollowCursor {
            mark,
            end: None,
            after_id: 0,
            bounded: false,
        }
    }

    /// Whether a read ended between two pages: more events already committed remain, and the
    /// next [`crate::store::ReadStore::follow`] returns them without waiting.
    pub fn is_mid_page(&self) -> bool {
        self.end.is_some()
    }

    /// This cursor, bounded to stop at `later`: following it returns exactly the events that
    /// are new since `self` and already covered by `later` (a catch-up from a client's
    /// position to a poller's), then stops there. `later` should not be mid-page; if it is,
    /// only what its mark covers is returned. `self` should not be mid-page either: finish its
    /// page first ([`FollowCursor::rest_of_page`]).
    pub fn until(&self, later: &FollowCursor) -> FollowCursor {
        FollowCursor {
            mark: self.mark.clone(),
            end: Some(later.mark.clone()),
            after_id: self.after_id,
            bounded: true,
        }
    }

    /// For a cursor that stands mid-page: the rest of that page alone, bounded at the end the
    /// page was read towards. Reading it to its end returns the cursor at that end, from which
    /// [`FollowCursor::until`] goes on. `None` between pages.
    ///
    /// Why not `until` at once: on PostgreSQL a transaction with a lower id may commit after the
    /// page's end was taken, and the page's "ids after this one" would hide it if applied to
    /// a later window.
    pub fn rest_of_page(&self) -> Option<FollowCursor> {
        self.end.as_ref().map(|end| FollowCursor {
            mark: self.mark.clone(),
            end: Some(end.clone()),
            after_id: self.after_id,
            bounded: true,
        })
    }

    /// Whether a read from this cursor that came back short finished a page begun earlier and
    /// should go on to what was committed since (rather than report "nothing more").
    pub(crate) fn read_on_after_short_page(&self) -> bool {
        self.end.is_some() && !self.bounded
    }

    /// After a page of `got` events (ascending ids, the last one `last_id`) read with `limit`
    /// from this cursor bounded by `end`: the cursor of the next read.
    pub(crate) fn advance(
        &self,
        end: Mark,
        got: usize,
        last_id: Option<i64>,
        limit: usize,
    ) -> Self {
        if got < limit {
            // Everything between the mark and `end` has been read.
            FollowCursor::at(end)
        } else {
            FollowCursor {
                mark: self.mark.clone(),
                end: Some(end),
                after_id: last_id.unwrap_or(self.after_id),
                bounded: self.bounded,
            }
        }
    }
}

fn write_mark(f: &mut fmt::Formatter<'_>, mark: &Mark) -> fmt::Result {
    match mark {
        Mark::Id(id) => write!(f, "{id}"),
        Mark::Snapshot(s) => {
            write!(f, "x{}", s.xmax)?;
            for x in &s.running {
                write!(f, "-{x}")?;
            }
            Ok(())
        }
    }
}

fn parse_mark(s: &str) -> Option<Mark> {
    if let Some(rest) = s.strip_prefix('x') {
        let mut parts = rest.split('-');
        let xmax: i64 = parts.next()?.parse().ok()?;
        let mut running = Vec::new();
        for p in parts {
            let x: i64 = p.parse().ok()?;
            // A snapshot lists running transactions below xmax; more than PostgreSQL can
            // have at once is not a snapshot (and would make a huge query).
            if x < 0 || x >= xmax || running.len() >= MAX_RUNNING {
                return None;
            }
            running.push(x);
        }
        running.sort_unstable();
        running.dedup();
        (xmax >= 0).then_some(Mark::Snapshot(XidSnapshot { xmax, running }))
    } else {
        let id: i64 = s.parse().ok()?;
        (id >= 0).then_some(Mark::Id(id))
    }
}

/// Most running transactions a cursor may list (PostgreSQL's `max_connections` rarely passes
/// a few hundred; prepared transactions add a few).
const MAX_RUNNING: usize = 10_000;

impl fmt::Display for FollowCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_mark(f, &self.mark)?;
        if let Some(end) = &self.end {
            f.write_str("~")?;
            write_mark(f, end)?;
            write!(f, "~{}", self.after_id)?;
        }
        Ok(())
    }
}

impl FromStr for FollowCursor {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || StoreError::InvalidCursor(crate::error::shorten(s));
        let mut parts = s.split('~');
        let mark = parse_mark(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
        let cursor = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => FollowCursor::at(mark),
            (Some(end), Some(after), None) => FollowCursor {
                mark,
                end: Some(parse_mark(end).ok_or_else(bad)?),
                after_id: after.parse().map_err(|_| bad())?,
                bounded: false,
            },
            _ => return Err(bad()),
        };
        Ok(cursor)
    }
}

/// One follow read, the same on every backend: `read_once` reads a page from a cursor; when a
/// page begun earlier finishes short, the rest of the page is filled with what was committed
/// since, so that a short answer always means "nothing more right now".
pub(crate) async fn read_filling<F, Fut>(
    cursor: &FollowCursor,
    limit: usize,
    read_once: F,
) -> Result<(Vec<Event>, FollowCursor), StoreError>
where
    F: Fn(FollowCursor, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<Event>, FollowCursor), StoreError>>,
{
    let (mut events, mut next) = read_once(cursor.clone(), limit).await?;
    if events.len() < limit && cursor.read_on_after_short_page() {
        let (more, after) = read_once(next, limit - events.len()).await?;
        events.extend(more);
        next = after;
    }
    Ok((events, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_as_text() {
        for text in [
            "0",
            "42",
            "x100",
            "x100-97-99",
            "x100-97~x120-97-110~55",
            "7~9~8",
        ] {
            let c: FollowCursor = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
        }
        assert_eq!(
            "1234".parse::<FollowCursor>().unwrap(),
            FollowCursor::after_id(1234)
        );
        assert!("x100-97".parse::<FollowCursor>().unwrap().end.is_none());
    }

    #[test]
    fn malformed_cursors_are_refused() {
        for text in [
            "", "x", "-1", "abc", "x10-11", "x10--1", "1~2", "1~2~x", "1~2~3~4", "x-5", "1.5",
        ] {
            assert!(text.parse::<FollowCursor>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_short_page_completes_the_read() {
        let start = FollowCursor::at(Mark::Id(10));
        let full = start.advance(Mark::Id(20), 2, Some(12), 2);
        assert!(full.is_mid_page());
        assert_eq!(full.to_string(), "10~20~12");
        let done = full.advance(Mark::Id(20), 1, Some(13), 2);
        assert_eq!(done, FollowCursor::after_id(20));
        let snap = Mark::Snapshot(XidSnapshot {
            xmax: 9,
            running: vec![7],
        });
        let empty = FollowCursor::at(Mark::Id(3)).advance(snap.clone(), 0, None, 10);
        assert_eq!(empty, FollowCursor::at(snap));
    }
}
