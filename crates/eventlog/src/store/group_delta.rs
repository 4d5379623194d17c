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
