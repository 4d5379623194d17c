//! What a batch of inserts adds to the group summaries, computed once for every backend.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::event::NewEvent;

/// The change one batch makes to one group's summary.
pub(crate) struct GroupDelta<'a> {
    pub group: &'a str,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub count: i64,
}

/// The change one batch makes to the count of one type within one group.
pub(crate) struct GroupTypeDelta<'a> {
    pub group: &'a str,
    pub event_type: &'a str,
    pub count: i64,
}

/// Group ids (`gid`) sorted and without repeats, so that concurrent transactions lock summary
/// rows in the same order; `None` when there are none.
pub(crate) fn in_lock_order(mut gids: Vec<i64>) -> Option<Vec<i64>> {
    gids.sort_unstable();
    gids.dedup();
    (!gids.is_empty()).then_some(gids)
}

/// Aggregates the events that were actually created (`created[i]`) by group and by
/// (group, type), in first-seen order so that upserts touch rows in a stable order.
pub(crate) fn group_deltas<'a>(
    events: &'a [NewEvent],
    created: &[bool],
) -> (Vec<GroupDelta<'a>>, Vec<GroupTypeDelta<'a>>) {
    let mut groups: Vec<GroupDelta<'a>> = Vec::new();
    let mut group_index: HashMap<&str, usize> = HashMap::new();
    let mut types: Vec<GroupTypeDelta<'a>> = Vec::new();
    let mut type_index: HashMap<(&str, &str), usize> = HashMap::new();
    for (event, _) in events.iter().zip(created).filter(|(_, c)| **c) {
        let group = event.group.as_str();
        match group_index.get(group) {
            Some(&i) => {
                let g = &mut groups[i];
                g.first_at = g.first_at.min(event.timestamp);
                g.last_at = g.last_at.max(event.timestamp);
                g.count += 1;
            }
            None => {
                group_index.insert(group, groups.len());
                groups.push(GroupDelta {
                    group,
                    first_at: event.timestamp,
                    last_at: event.timestamp,
                    count: 1,
                });
            }
        }
        let key = (group, event.event_type.as_str());
        match type_index.get(&key) {
            Some(&i) => types[i].count += 1,
            None => {
                type_index.insert(key, types.len());
                types.push(GroupTypeDelta {
                    group,
                    event_type: &event.event_type,
                    count: 1,
                });
            }
        }
    }
    (groups, types)
}

/// Whether a batch's new events are queued for mail (recorded events) or not (imports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mail {
    Queue,
    Skip,
}

/// What to take back from the group summaries after an insert that counted every event of
/// the batch as new, when some were already stored: per group (gid, count) and per
/// (gid, group id, type, count). (PostgreSQL counts only the created events instead.)
#[cfg(feature = "sqlite")]
pub(crate) struct DuplicateDeltas<'a> {
    pub groups: Vec<(i64, i64)>,
    pub types: Vec<(i64, &'a str, &'a str, i64)>,
}

#[cfg(feature = "sqlite")]
impl<'a> DuplicateDeltas<'a> {
    /// `None` when every event was created (the usual case: nothing to take back).
    pub fn of(
        events: &'a [NewEvent],
        results: &[crate::store::Inserted],
        gids: &HashMap<String, i64>,
    ) -> Option<Self> {
        let duplicate: Vec<bool> = results.iter().map(|r| !r.created).collect();
        if !duplicate.contains(&true) {
            return None;
        }
        let gid = |group: &str| gids.get(group).copied().unwrap_or_default();
        let (groups, types) = group_deltas(events, &duplicate);
        let mut groups: Vec<(i64, i64)> = groups.iter().map(|g| (gid(g.group), g.count)).collect();
        let mut types: Vec<(i64, &'a str, &'a str, i64)> = types
            .iter()
            .map(|t| (gid(t.group), t.group, t.event_type, t.count))
            .collect();
        // Sorted, so that concurrent writers touch summary rows in the same order.
        groups.sort_unstable();
        types.sort_unstable();
        Some(DuplicateDeltas { groups, types })
    }

    /// The gids of the groups concerned, ascending (SQLite passes them as one JSON array).
    pub fn gids(&self) -> Vec<i64> {
        self.groups.iter().map(|(gid, _)| *gid).collect()
    }
}
