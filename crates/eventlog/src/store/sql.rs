//! The backend-neutral shape of the reading SQL: which clauses a filter adds, in which
//! order, how a search is planned, how pages are cut and rows read. Each backend gives only
//! its SQL text (a [`Dialect`]) and the statements its search index answers (a
//! [`SearchIndex`]).

use chrono::{DateTime, Utc};
use sqlx::{Database, Executor, IntoArguments, QueryBuilder};

use crate::error::StoreError;
use crate::event::Event;
use crate::store::cursor::page_after;
use crate::store::data_keys::DataKey;
use crate::store::filter::{DataMatch, EventFilter, FREQUENT_MATCHES, like_pattern, search_words};
use crate::store::row::{StoredRow, event_from_row, group_from_row};
use crate::store::{Cursor, GroupCursor, GroupFilter, GroupSummary, Order, Page};

/// The columns [`event_from_row`] reads.
pub(crate) const EVENT_COLUMNS: &str = "id, uuid, event_type, \
     (SELECT group_id FROM event_groups g WHERE g.gid = events.gid) AS group_id, \
     ts, message, data, initiator, send_mail";

/// Binding a text or an integer: the same call on every database sqlx serves, so written
/// once for all of them.
pub(crate) trait PlainBinds: Database {
    /// Binds a text value.
    fn push_text(qb: &mut QueryBuilder<Self>, text: &str);
    /// Binds an integer.
    fn push_int(qb: &mut QueryBuilder<Self>, n: i64);
}

impl<DB: Database> PlainBinds for DB
where
    for<'t> String: sqlx::Encode<'t, DB>,
    String: sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB>,
    i64: sqlx::Type<DB>,
{
    fn push_text(qb: &mut QueryBuilder<DB>, text: &str) {
        qb.push_bind(text.to_owned());
    }

    fn push_int(qb: &mut QueryBuilder<DB>, n: i64) {
        qb.push_bind(n);
    }
}

/// One backend's SQL for the clauses of an [`EventFilter`]. Each `push_*` appends
/// ` AND <condition>` to a query whose `WHERE` is already written.
pub(crate) trait Dialect {
    /// The database the SQL is for.
    type Db: Database<Row: StoredRow, Arguments: IntoArguments<Self::Db>> + PlainBinds;
    /// A search as the backend's index takes it (an FTS5 query, a tsquery).
    type Query: Clone;
    /// The ids of a search's matches, as [`SearchIndex::first_matches`] reads them.
    type Ids: Clone;

    /// A condition every row meets (`WHERE` needs one before the ` AND`s).
    const TRUE: &'static str;
    /// A condition no row meets.
    const FALSE: &'static str;
    /// The columns of `event_groups g` that [`group_from_row`] reads.
    const GROUP_COLUMNS: &'static str;
    /// The case-insensitive `LIKE` (a group filter's text).
    const LIKE: &'static str;

    /// `event_type` is one of `types` (not empty).
    fn push_types(qb: &mut QueryBuilder<Self::Db>, types: &[String]);
    /// A time as the `ts` column holds it.
    fn push_time(qb: &mut QueryBuilder<Self::Db>, time: DateTime<Utc>);
    /// A condition on a value inside `data`. A path that can be declared
    /// ([`DataKey::of_path`]) is compared through [`Dialect::data_key_text`], so that the
    /// key's index serves it when the key is declared.
    fn push_data(qb: &mut QueryBuilder<Self::Db>, m: &DataMatch);
    /// The expression a declared key's index is made on, with the path written as a
    /// literal: a query must repeat it exactly for the index to serve it. The value as text
    /// (strings unquoted, numbers as JSON spells them; booleans as the backend can), so that
    /// [`Dialect::push_data`] finds its matches among the index's entries for one text.
    fn data_key_text(key: &DataKey) -> String;
    /// The events after `cursor` in `order` (by `ts`, then `id`).
    fn push_after(qb: &mut QueryBuilder<Self::Db>, order: Order, cursor: &Cursor);
    /// A group (`g`) has events of one of `types` (not empty).
    fn push_group_types(qb: &mut QueryBuilder<Self::Db>, types: &[String]);
    /// The groups (`g`) after `cursor`, most recently active first (by `last_at`, then
    /// `group_id`).
    fn push_group_after(qb: &mut QueryBuilder<Self::Db>, cursor: &GroupCursor);

    /// The query of an unplanned search: every word as a prefix.
    fn prefix_query(words: &[String]) -> Self::Query;
    /// Few matches, read by the plan: `id` is one of them.
    fn push_ids(qb: &mut QueryBuilder<Self::Db>, ids: &Self::Ids);
    /// Few matches: the query of a page that looks them up in the listing's order instead
    /// of walking the listing's index (the matches must carry what orders them). `None`:
    /// the listing's own query with [`Dialect::push_ids`] serves.
    fn list_of_matches(
        _filter: &EventFilter,
        _order: Order,
        _after: Option<&Cursor>,
        _limit: usize,
        _ids: &Self::Ids,
    ) -> Option<QueryBuilder<Self::Db>> {
        None
    }
    /// Many matches: each row met along the listing's index is tested against the search,
    /// so the walk stops after a page.
    fn push_tested(qb: &mut QueryBuilder<Self::Db>, query: &Self::Query);
    /// Unplanned: the matches drive the query (fetched, then sorted).
    fn push_driving(qb: &mut QueryBuilder<Self::Db>, query: Self::Query);
    /// The query of the events whose text has each of `words` (not empty) as a whole word,
    /// when an initiator filter is best served through the search index: a superset of the
    /// initiator's events, which its exact value then narrows. `None` where an index on the
    /// initiator itself serves (PostgreSQL).
    fn initiator_words(_words: &[String]) -> Option<Self::Query> {
        None
    }
}

/// For a filter by initiator without a search: the search index's query of the initiator's
/// words ([`Dialect::initiator_words`]), to plan and read like a search.
pub(crate) fn initiator_query<D: Dialect>(f: &EventFilter) -> Option<D::Query> {
    if f.text.as_deref().is_some_and(|t| !t.is_empty()) {
        return None;
    }
    let words = search_words(f.initiator.as_deref()?);
    if words.is_empty() {
        return None;
    }
    D::initiator_words(&words)
}

/// How a listing reads the matches of a search, chosen by [`plan_search`].
pub(crate) enum Planned<D: Dialect> {
    /// Fewer than [`FREQUENT_MATCHES`]: their ids, read once by the plan.
    Ids(D::Ids),
    /// At least as many: the query, tested on each row the listing's index yields.
    Frequent(D::Query),
}

/// The statements a backend's search index answers, on the connection the listing reads
/// with (SQLite: inside its read transaction, so the plan holds for the snapshot it reads).
pub(crate) trait SearchIndex<D: Dialect> {
    /// The query for `words` (not empty) as this index answers it best.
    async fn query(&mut self, words: &[String]) -> Result<D::Query, StoreError>;
    /// How many events match `query`, counted up to `limit`, and their ids.
    async fn first_matches(
        &mut self,
        query: &D::Query,
        limit: i64,
    ) -> Result<(i64, D::Ids), StoreError>;
}

/// Plans a search: the matching ids are read up to [`FREQUENT_MATCHES`]; fewer, and the
/// listing fetches exactly those rows; as many, and it walks its (time) index and tests each
/// row instead. `None`: the text has no word to find.
pub(crate) async fn plan_search<D: Dialect, I: SearchIndex<D>>(
    index: &mut I,
    text: &str,
) -> Result<Option<Planned<D>>, StoreError> {
    let words = search_words(text);
    if words.is_empty() {
        return Ok(None);
    }
    let query = index.query(&words).await?;
    Ok(Some(plan_query(index, query).await?))
}

/// Plans the read of `query`'s matches as [`plan_search`] does.
pub(crate) async fn plan_query<D: Dialect, I: SearchIndex<D>>(
    index: &mut I,
    query: D::Query,
) -> Result<Planned<D>, StoreError> {
    let (matches, ids) = index.first_matches(&query, FREQUENT_MATCHES).await?;
    Ok(if matches < FREQUENT_MATCHES {
        Planned::Ids(ids)
    } else {
        Planned::Frequent(query)
    })
}

/// Plans what a listing of `filter` reads through the search index: its search, or its
/// initiator's words ([`initiator_query`]); `None` when neither.
#[cfg(feature = "sqlite")]
pub(crate) async fn plan_listing<D: Dialect, I: SearchIndex<D>>(
    index: &mut I,
    filter: &EventFilter,
) -> Result<Option<Planned<D>>, StoreError> {
    match filter.text.as_deref().filter(|t| !t.is_empty()) {
        Some(text) => plan_search(index, text).await,
        None => match initiator_query::<D>(filter) {
            Some(query) => Ok(Some(plan_query(index, query).await?)),
            None => Ok(None),
        },
    }
}

/// ` WHERE …` for `f`, with a search planned by [`plan_search`] (`None`: unplanned, the
/// matches of every word as a prefix drive the query).
pub(crate) fn push_filter<D: Dialect>(
    qb: &mut QueryBuilder<D::Db>,
    f: &EventFilter,
    planned: Option<&Planned<D>>,
) {
    qb.push(" WHERE ").push(D::TRUE);
    if !f.types.is_empty() {
        D::push_types(qb, &f.types);
    }
    if let Some(since) = f.since {
        qb.push(" AND ts >= ");
        D::push_time(qb, since);
    }
    if let Some(until) = f.until {
        qb.push(" AND ts < ");
        D::push_time(qb, until);
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        // The events whose message or initiator has the words, and the events of the groups
        // whose id has them: one id list (a UNION, not an OR) so lookups stay index-driven.
        match planned {
            Some(Planned::Ids(ids)) => D::push_ids(qb, ids),
            Some(Planned::Frequent(query)) => D::push_tested(qb, query),
            None => {
                let words = search_words(text);
                if words.is_empty() {
                    // No letters or digits: no word to find.
                    qb.push(" AND ").push(D::FALSE);
                } else {
                    D::push_driving(qb, D::prefix_query(&words));
                }
            }
        }
    } else if let Some(query) = initiator_query::<D>(f) {
        // The initiator's words through the search index; its exact value below.
        match planned {
            Some(Planned::Ids(ids)) => D::push_ids(qb, ids),
            Some(Planned::Frequent(query)) => D::push_tested(qb, query),
            None => D::push_driving(qb, query),
        }
    }
    if let Some(group) = &f.group {
        qb.push(" AND gid = (SELECT gid FROM event_groups WHERE group_id = ");
        D::Db::push_text(qb, group);
        qb.push(")");
    }
    if let Some(initiator) = &f.initiator {
        qb.push(" AND initiator = ");
        D::Db::push_text(qb, initiator);
    }
    for m in &f.data {
        D::push_data(qb, m);
    }
}

/// `limit` as a query parameter (a limit past `i64::MAX` is no limit).
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The events of the rows `qb` returns.
pub(crate) async fn fetch_events<'c, D: Dialect>(
    qb: &mut QueryBuilder<D::Db>,
    exec: impl Executor<'c, Database = D::Db>,
) -> Result<Vec<Event>, StoreError> {
    let rows = qb.build().fetch_all(exec).await?;
    rows.iter().map(event_from_row).collect()
}

/// One event by id.
pub(crate) async fn event_by_id<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    id: i64,
) -> Result<Option<Event>, StoreError> {
    let mut qb = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = "));
    D::Db::push_int(&mut qb, id);
    let row = qb.build().fetch_optional(exec).await?;
    row.as_ref().map(event_from_row).transpose()
}

/// The query of a page of events (see [`crate::store::ReadStore::list`]): `limit + 1` rows, so
/// that [`event_page`] sees whether more follow.
pub(crate) fn list_query<D: Dialect>(
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
    limit: usize,
    planned: Option<&Planned<D>>,
) -> QueryBuilder<D::Db> {
    if let Some(Planned::Ids(ids)) = planned
        && let Some(qb) = D::list_of_matches(filter, order, after, limit, ids)
    {
        return qb;
    }
    let mut qb = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events"));
    push_filter(&mut qb, filter, planned);
    if let Some(c) = after {
        D::push_after(&mut qb, order, c);
    }
    let dir = match order {
        Order::Desc => "DESC",
        Order::Asc => "ASC",
    };
    qb.push(format!(" ORDER BY ts {dir}, id {dir} LIMIT "));
    D::Db::push_int(&mut qb, limit_param(limit).saturating_add(1));
    qb
}

/// Runs a [`list_query`]: the page and the cursor of the next one.
pub(crate) async fn event_page<'c, D: Dialect>(
    qb: &mut QueryBuilder<D::Db>,
    exec: impl Executor<'c, Database = D::Db>,
    limit: usize,
) -> Result<Page<Event, Cursor>, StoreError> {
    let events = fetch_events::<D>(qb, exec).await?;
    Ok(page_after(events, limit, |e| Cursor {
        timestamp: e.timestamp,
        id: e.id,
    }))
}

/// Every event of a group in time order (ties by id), at most `limit`.
pub(crate) async fn group_events<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    group: &str,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE gid = (SELECT gid FROM event_groups WHERE group_id = "
    ));
    D::Db::push_text(&mut qb, group);
    qb.push(") ORDER BY ts, id LIMIT ");
    D::Db::push_int(&mut qb, limit_param(limit));
    fetch_events::<D>(&mut qb, exec).await
}

/// A page of groups, most recently active first.
pub(crate) async fn groups<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    filter: &GroupFilter,
    after: Option<&GroupCursor>,
    limit: usize,
) -> Result<Page<GroupSummary, GroupCursor>, StoreError> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM event_groups g WHERE {}",
        D::GROUP_COLUMNS,
        D::TRUE
    ));
    if !filter.types.is_empty() {
        D::push_group_types(&mut qb, &filter.types);
    }
    if let Some(since) = filter.since {
        qb.push(" AND g.last_at >= ");
        D::push_time(&mut qb, since);
    }
    if let Some(until) = filter.until {
        qb.push(" AND g.first_at < ");
        D::push_time(&mut qb, until);
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        qb.push(format!(" AND g.group_id {} ", D::LIKE));
        D::Db::push_text(&mut qb, &like_pattern(text));
        qb.push(" ESCAPE '\\'");
    }
    if let Some(c) = after {
        D::push_group_after(&mut qb, c);
    }
    // group_id sorts bytewise on both backends (PostgreSQL: COLLATE "C", see its migration).
    qb.push(" ORDER BY g.last_at DESC, g.group_id DESC LIMIT ");
    D::Db::push_int(&mut qb, limit_param(limit).saturating_add(1));
    let rows = qb.build().fetch_all(exec).await?;
    let groups = rows
        .iter()
        .map(group_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_after(groups, limit, |g| GroupCursor {
        last_at: g.last_at,
        group: g.group.clone(),
    }))
}

/// One group's summary.
pub(crate) async fn group_summary<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    group: &str,
) -> Result<Option<GroupSummary>, StoreError> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM event_groups g WHERE g.group_id = ",
        D::GROUP_COLUMNS
    ));
    D::Db::push_text(&mut qb, group);
    let row = qb.build().fetch_optional(exec).await?;
    row.as_ref().map(group_from_row).transpose()
}

/// Number of events matching `filter` (see [`crate::store::ReadStore::count`]).
pub(crate) async fn count<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    filter: &EventFilter,
) -> Result<u64, StoreError>
where
    i64: for<'r> sqlx::Decode<'r, D::Db> + sqlx::Type<D::Db>,
    usize: sqlx::ColumnIndex<<D::Db as Database>::Row>,
{
    let mut qb = QueryBuilder::<D::Db>::new("SELECT count(*) FROM events");
    push_filter::<D>(&mut qb, filter, None);
    fetch_count(qb, exec).await
}

/// Number of events matching `filter`, counted no further than `bound + 1` (see
/// [`crate::store::ReadStore::count_at_most`]).
pub(crate) async fn count_at_most<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    filter: &EventFilter,
    bound: u64,
) -> Result<u64, StoreError>
where
    i64: for<'r> sqlx::Decode<'r, D::Db> + sqlx::Type<D::Db>,
    usize: sqlx::ColumnIndex<<D::Db as Database>::Row>,
{
    let limit = i64::try_from(bound.saturating_add(1)).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::<D::Db>::new("SELECT count(*) FROM (SELECT 1 FROM events");
    push_filter::<D>(&mut qb, filter, None);
    qb.push(" LIMIT ");
    D::Db::push_int(&mut qb, limit);
    qb.push(") AS matching");
    fetch_count(qb, exec).await
}

/// The count a `SELECT count(*)` query returns (never negative).
async fn fetch_count<'c, DB>(
    mut qb: QueryBuilder<DB>,
    exec: impl Executor<'c, Database = DB>,
) -> Result<u64, StoreError>
where
    DB: Database<Arguments: IntoArguments<DB>>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let n: i64 = qb.build_query_scalar().fetch_one(exec).await?;
    Ok(n.max(0) as u64)
}

/// Where the chart of a frequent search starts counting (see
/// [`crate::store::ListingQuery::histogram_newest`]): the time and id of the `events`-th
/// newest event the filter selects without its search, found along the time index and not
/// tested; `None` when fewer events are selected (every one is tested).
pub(crate) async fn frequent_search_start<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
    filter: &EventFilter,
    events: usize,
) -> Result<Option<(DateTime<Utc>, i64)>, StoreError> {
    let mut rest = EventFilter {
        text: None,
        ..filter.clone()
    };
    if initiator_query::<D>(filter).is_some() {
        // The search was the initiator's words: its events are tested, not walked to.
        rest.initiator = None;
    }
    let mut qb = QueryBuilder::<D::Db>::new("SELECT ts, id FROM events");
    push_filter::<D>(&mut qb, &rest, None);
    qb.push(" ORDER BY ts DESC, id DESC LIMIT 1 OFFSET ");
    D::Db::push_int(&mut qb, limit_param(events.saturating_sub(1)));
    let row = qb.build().fetch_optional(exec).await?;
    row.map(|r| Ok((r.time("ts")?, r.int("id")?))).transpose()
}
