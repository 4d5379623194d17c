//! `GET /events`: the event list with search, filters, sort, chart and keyset pagination.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::{DateTime, Utc};
use eventlog::store::Order;

use super::chart::{self, Chart};
use super::list_query::AdminQuery;
use super::listing::{self, COUNT_BOUND};
use super::{EventRow, Layout};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::format;

/// A type checkbox in the filter form.
pub struct TypeOption {
    /// Name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Checked.
    pub checked: bool,
}

/// An active exact-match filter shown as a removable chip.
pub struct Chip {
    /// What it filters on, e.g. `group = Order 1`.
    pub text: String,
    /// Link to the list without it.
    pub remove: String,
    /// Name of the hidden input keeping it in the form.
    pub name: String,
    /// Its value.
    pub value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "events.html")]
/// The rendered page.
pub struct EventsPage {
    page: Layout,
    base: String,
    is_admin: bool,
    params: AdminQuery,
    rows: Vec<EventRow>,
    type_options: Vec<TypeOption>,
    chips: Vec<Chip>,
    chart: Chart,
    count: String,
    /// How far a bounded scan looked (empty: an index answered).
    scan: String,
    /// Where a scan stopped by its budget goes on (empty: it did not stop).
    keep_scanning: String,
    next_url: String,
    first_url: String,
    order_url: String,
    order_desc: bool,
    export_csv: String,
    export_jsonl: String,
    stream_url: String,
    live: bool,
}

/// Type checkboxes: the configured types, then selected legacy ones.
pub fn type_options(state: &AppState, selected: &[String]) -> Vec<TypeOption> {
    let mut v: Vec<TypeOption> = state
        .types()
        .iter()
        .map(|t| TypeOption {
            name: t.name.clone(),
            label: t.label.clone(),
            checked: selected.contains(&t.name),
        })
        .collect();
    for s in selected {
        if state.types().get(s).is_none() {
            v.push(TypeOption {
                name: s.clone(),
                label: state.types().display(s).label,
                checked: true,
            });
        }
    }
    v
}

/// How a bucket bound is written in a chart's link: what the form's `datetime-local` inputs
/// show.
fn link_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// What a page of a bounded scan says: how far it looked, how long it took and what it
/// found, e.g. "Scanned the newest 2,000,000 events in 1.0 s: 37 matches."
fn scan_statement(scan: &eventlog::store::Scan, matches: u64, from: &AdminQuery) -> String {
    let which = match (scan.stopped, from.has_cursor(), from.list.order) {
        (false, _, _) => "",
        (true, true, _) => "the next ",
        (true, false, Order::Desc) => "the newest ",
        (true, false, Order::Asc) => "the oldest ",
    };
    let events = format::thousands(scan.events);
    let matches = match matches {
        1 => "1 match".to_owned(),
        n => format!("{} matches", format::thousands(n)),
    };
    format!(
        "No index narrows this filter: scanned {which}{events} events in {:.1} s: {matches}.",
        scan.elapsed.as_secs_f64(),
    )
}

/// The list page.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    params: AdminQuery,
) -> Result<EventsPage, AppError> {
    params.check_types(&state).await?;
    let now = eventlog::event::now();
    let filter = params.filter(now);
    // Taken before the events are read: the live tail catches up from here, so an event
    // stored while the page renders is shown by one or the other, never by neither. With a
    // read replica, from the replica's own position: what it has not replayed yet is not in
    // the list, and the tail (which reads the primary) catches it up instead of skipping it.
    let live_from = match state.replica() {
        Some(replica) => replica.follow_start().await?,
        None => state.live_tail().position().await?,
    };
    let (order, after) = (params.list.order, params.list.cursor.as_ref());
    let base = user.base.path().to_owned();
    let listing = listing::read(
        state.reads().as_ref(),
        &filter,
        order,
        after,
        now,
        state.scan_budget(),
    )
    .await?;
    let chart = match listing.chart {
        Some(counts) => chart::draw(
            counts,
            state.types(),
            |name| state.chart_color(name).to_owned(),
            |start, end| {
                let query = params.query_with(&[
                    ("cursor", ""),
                    ("date", ""),
                    ("since", &link_time(start)),
                    ("until", &link_time(end)),
                ]);
                format!("{base}/events?{query}")
            },
            now,
        ),
        None => Chart::default(),
    };
    let scan = listing
        .scan
        .map(|scan| scan_statement(&scan, listing.total.events, &params));
    let count = if listing.total.at_least {
        format!("{}+ events", format::thousands(listing.total.events))
    } else {
        format::count(listing.total.events, COUNT_BOUND, "event")
    };
    let page = listing.page;
    let rows: Vec<EventRow> = page
        .items
        .iter()
        .map(|e| EventRow::new(state.types(), e, now))
        .collect();
    let next_url = params.next_url(&format!("{base}/events"), page.next);
    let (keep_scanning, scan) = match scan {
        Some(statement) if listing.scan.is_some_and(|s| s.stopped) => (next_url.clone(), statement),
        Some(statement) => (String::new(), statement),
        None => (String::new(), String::new()),
    };
    let mut chips = Vec::new();
    let mut chip = |label: &str, key: &str, value: &str| {
        let mut without = params.clone();
        match key {
            "group" => without.list.group = None,
            "initiator" => without.list.initiator = None,
            k => without
                .list
                .data
                .retain(|m| format!("data.{}", m.path.join(".")) != k),
        }
        chips.push(Chip {
            text: format!("{label} = {value}"),
            remove: format!("{base}/events?{}", without.query_with(&[("cursor", "")])),
            name: key.to_owned(),
            value: value.to_owned(),
        });
    };
    if let Some(group) = &params.list.group {
        chip("group", "group", group);
    }
    if let Some(initiator) = &params.list.initiator {
        chip("initiator", "initiator", initiator);
    }
    for m in &params.list.data {
        let key = format!("data.{}", m.path.join("."));
        chip(&key, &key, &m.value);
    }
    let order_desc = params.list.order == Order::Desc;
    Ok(EventsPage {
        type_options: type_options(&state, &params.list.types),
        next_url,
        first_url: format!("{base}/events?{}", params.query_with(&[("cursor", "")])),
        order_url: format!(
            "{base}/events?{}",
            params.query_with(&[
                ("cursor", ""),
                ("order", if order_desc { "asc" } else { "desc" })
            ])
        ),
        export_csv: format!(
            "{base}/events/export?{}",
            params.query_with(&[("cursor", ""), ("format", "csv")])
        ),
        export_jsonl: format!(
            "{base}/events/export?{}",
            params.query_with(&[("cursor", ""), ("format", "jsonl")])
        ),
        stream_url: format!(
            "{base}/events/stream?{}",
            params.query_with(&[("cursor", ""), ("after", &live_from.to_string())])
        ),
        live: order_desc && !params.has_cursor(),
        order_desc,
        chips,
        chart,
        count,
        scan,
        keep_scanning,
        rows,
        params,
        base: base.clone(),
        is_admin: user.is_admin(),
        page: Layout::new(&user),
    })
}
