//! Events as rows of PostgreSQL's COPY text format, for the benches that load with COPY
//! (`pg_insert`, `throughput`).

use std::borrow::Cow;

use eventlog::NewEvent;
use eventlog_testing::copy_text;

/// The events as COPY rows of the columns `uuid, event_type, GROUP, ts, message, data,
/// initiator, send_mail`, where GROUP is what `group` gives for each event (its group's name,
/// or the gid of its group's summary).
pub fn event_rows(events: &[NewEvent], group: impl Fn(&NewEvent) -> Cow<'_, str>) -> String {
    let mut text = String::with_capacity(events.len() * 200);
    for e in events {
        let data = e.data.as_ref().map(|d| d.to_string());
        copy_text::push_row(
            &mut text,
            [
                Some(e.uuid.to_string().as_str()),
                Some(e.event_type.as_str()),
                Some(&group(e)),
                Some(e.timestamp.to_rfc3339().as_str()),
                Some(e.message.as_str()),
                data.as_deref(),
                e.initiator.as_deref(),
                e.send_mail.as_deref(),
            ],
        );
    }
    text
}
