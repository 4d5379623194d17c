//! Names of the metrics eventlog records, through the [`metrics`] facade.
//!
//! The library only records; it installs no recorder. Without one (the default for an
//! application that does not use `metrics`), every recording is a no-op costing a few
//! nanoseconds, and none happens on the caller's path of a log call: the writer records once
//! per batch. `eventlog serve` installs a Prometheus recorder and serves the text format at
//! `[server] metrics_bind`; an application can install any `metrics` recorder of its own.
//!
//! Labels stay few and bounded: `source` is `writer` (the [`crate::EventLog`] background
//! writer) or `group_commit` (the HTTP API's shared transactions, [`crate::store::GroupCommit`]).

/// Counter: events stored (new rows), by `source`.
pub const EVENTS_STORED: &str = "eventlog_events_stored_total";
/// Counter: events not stored again because their uuid was already stored, by `source`.
pub const EVENTS_DUPLICATE: &str = "eventlog_events_duplicate_total";
/// Counter: events refused before they were queued (validation: type, group, initiator,
/// message, recipient), by `source` (`library` for log calls, `api` for HTTP ingest).
pub const EVENTS_REFUSED: &str = "eventlog_events_refused_total";
/// Counter: events given up after the database refused them or stayed unreachable at shutdown.
pub const EVENTS_FAILED: &str = "eventlog_events_failed_total";
/// Gauge: events (writer) or requests (group commit) waiting to be stored, by `source`.
pub const QUEUE_DEPTH: &str = "eventlog_writer_queue_depth";
/// Histogram: events per committed transaction, by `source`.
pub const BATCH_SIZE: &str = "eventlog_batch_size";
/// Histogram: seconds one transaction took to store a batch (insert and commit), by `source`.
pub const COMMIT_SECONDS: &str = "eventlog_commit_seconds";
/// Counter: mails queued in the outbox (events committed with a recipient), by `source`.
pub const MAIL_QUEUED: &str = "eventlog_mail_queued_total";
/// Counter: mails the SMTP server accepted.
pub const MAIL_SENT: &str = "eventlog_mail_sent_total";
/// Counter: failed mail attempts that will be retried.
pub const MAIL_RETRIED: &str = "eventlog_mail_retried_total";
/// Counter: mails given up (permanent refusal, bad recipient, retry period over).
pub const MAIL_FAILED: &str = "eventlog_mail_failed_total";
/// Counter: notifications a channel's receiver accepted, by `channel` (its configured name).
pub const NOTIFY_SENT: &str = "eventlog_notify_sent_total";
/// Counter: failed notification attempts that will be retried, by `channel`.
pub const NOTIFY_RETRIED: &str = "eventlog_notify_retried_total";
/// Counter: notifications given up (refused, redirected, retry period over), by `channel`.
pub const NOTIFY_FAILED: &str = "eventlog_notify_failed_total";
/// Counter: notification rows held back by a channel's rate limit, by `channel`.
pub const NOTIFY_DEFERRED: &str = "eventlog_notify_deferred_total";
/// Gauge: connections of the database pool, by `state` (`in_use`, `idle`).
pub const POOL_CONNECTIONS: &str = "eventlog_db_pool_connections";
/// Gauge: the most connections the database pool opens.
pub const POOL_MAX_CONNECTIONS: &str = "eventlog_db_pool_max_connections";
/// Counter: HTTP requests answered, by `method`, `route` (the route's pattern such as
/// `/events/{id}`, or `unmatched`; never the raw path) and `status`.
pub const HTTP_REQUESTS: &str = "eventlog_http_requests_total";
/// Histogram: seconds until the response of an HTTP request started, labelled as
/// [`HTTP_REQUESTS`].
pub const HTTP_REQUEST_SECONDS: &str = "eventlog_http_request_duration_seconds";

/// Bucket bounds for [`BATCH_SIZE`] (events).
pub const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 5_000.0, 20_000.0,
];
/// Bucket bounds for the `*_seconds` histograms.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The kind of a metric, which picks the `describe_*` call it is described with.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}
use ::metrics::Unit::{Count, Seconds};
use Kind::{Counter, Gauge, Histogram};

/// Every metric above: its name, kind, unit and help text.
#[rustfmt::skip]
const DESCRIPTIONS: &[(&str, Kind, ::metrics::Unit, &str)] = &[
    (EVENTS_STORED,        Counter,   Count,   "Events stored (new rows)."),
    (EVENTS_DUPLICATE,     Counter,   Count,   "Events not stored again: their uuid was already stored."),
    (EVENTS_REFUSED,       Counter,   Count,   "Events refused by validation before they were queued."),
    (EVENTS_FAILED,        Counter,   Count,   "Events given up: refused by the database, or unreachable at shutdown."),
    (QUEUE_DEPTH,          Gauge,     Count,   "Events (writer) or requests (group_commit) waiting to be stored."),
    (BATCH_SIZE,           Histogram, Count,   "Events per committed transaction."),
    (COMMIT_SECONDS,       Histogram, Seconds, "Time to store one batch (insert and commit)."),
    (MAIL_QUEUED,          Counter,   Count,   "Mails queued in the outbox."),
    (MAIL_SENT,            Counter,   Count,   "Mails the SMTP server accepted."),
    (MAIL_RETRIED,         Counter,   Count,   "Failed mail attempts that will be retried."),
    (MAIL_FAILED,          Counter,   Count,   "Mails given up."),
    (NOTIFY_SENT,          Counter,   Count,   "Notifications a channel's receiver accepted."),
    (NOTIFY_RETRIED,       Counter,   Count,   "Failed notification attempts that will be retried."),
    (NOTIFY_FAILED,        Counter,   Count,   "Notifications given up."),
    (NOTIFY_DEFERRED,      Counter,   Count,   "Notification rows held back by a channel's rate limit."),
    (POOL_CONNECTIONS,     Gauge,     Count,   "Connections of the database pool, in use or idle."),
    (POOL_MAX_CONNECTIONS, Gauge,     Count,   "Most connections the database pool opens."),
    (HTTP_REQUESTS,        Counter,   Count,   "HTTP requests answered."),
    (HTTP_REQUEST_SECONDS, Histogram, Seconds, "Time until the response of an HTTP request started."),
];

/// Gives every metric above its help text and unit, for the recorder installed (call once,
/// after installing it; without a recorder it does nothing).
pub fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    for &(name, kind, unit, help) in DESCRIPTIONS {
        match kind {
            Kind::Counter => describe_counter!(name, unit, help),
            Kind::Gauge => describe_gauge!(name, unit, help),
            Kind::Histogram => describe_histogram!(name, unit, help),
        }
    }
}

/// Records one committed batch: its size, its duration and the outcome of each event.
pub(crate) fn batch_committed(
    source: &'static str,
    size: usize,
    stored: u64,
    duplicates: u64,
    mails: u64,
    took: std::time::Duration,
) {
    ::metrics::histogram!(BATCH_SIZE, "source" => source).record(size as f64);
    ::metrics::histogram!(COMMIT_SECONDS, "source" => source).record(took.as_secs_f64());
    ::metrics::counter!(EVENTS_STORED, "source" => source).increment(stored);
    if duplicates > 0 {
        ::metrics::counter!(EVENTS_DUPLICATE, "source" => source).increment(duplicates);
    }
    if mails > 0 {
        ::metrics::counter!(MAIL_QUEUED, "source" => source).increment(mails);
    }
}

/// Counts events refused by validation.
pub fn events_refused(source: &'static str, events: u64) {
    ::metrics::counter!(EVENTS_REFUSED, "source" => source).increment(events);
}
