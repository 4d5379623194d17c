//! The backend-neutral shape of an event listing's SQL: which clauses a filter adds, in
//! which order, and how a search is planned. Each backend gives only its SQL text (a
//! [`Dialect`]) and the statements its search index answers (a [`SearchIndex`]).

use chrono::{DateTime, Utc};
use sqlx::{Database, QueryBuilder};

use crate::error::StoreError;
use crate::store::filter::{DataMatch, EventFilter, FREQUENT_MATCHES, search_words};

/// One backend's SQL for the clauses of an [`EventFilter`]. Each `push_*` appends
/// ` AND <condition>` to a query whose `WHERE` is already written.
pub(crate) trait Dialect {
    /// The database the SQL is for.
    type Db: Database;
    /// A search as the backend's index takes it (an FTS5 query, a tsquery).
    type Query: Clone;
    /// The ids of a search's matches, as [`SearchIndex::first_matches`] reads them.
    type Ids: Clone;

    /// A condition every row meets (`WHERE` needs one before the ` AND`s).
    const TRUE: &'static str;
    /// A condition no row meets.
    const FALSE: &'static str;

    /// `event_type` is one of `types` (not empty).
    fn push_types(qb: &mut QueryBuilder<Self::Db>, types: &[String]);
    /// A time as the `ts` column holds it.
    fn push_time(qb: &mut QueryBuilder<Self::Db>, time: DateTime<Utc>);
    /// A condition on a value inside `data`.
    fn push_data(qb: &mut QueryBuilder<Self::Db>, m: &DataMatch);
    /// Binds a text value.
    fn push_text(qb: &mut QueryBuilder<Self::Db>, text: &str);

    /// The query of an unplanned search: every word as a prefix.
    fn prefix_query(words: &[String]) -> Self::Query;
    /// Few matches, read by the plan: `id` is one of them.
    fn push_ids(qb: &mut QueryBuilder<Self::Db>, ids: &Self::Ids);
    /// Many matches: each row met along the listing's index is tested against the search,
    /// so the walk stops after a page.
    fn push_tested(qb: &mut QueryBuilder<Self::Db>, query: &Self::Query);
    /// Unplanned: the matches drive the query (fetched, then sorted).
    fn push_driving(qb: &mut QueryBuilder<Self::Db>, query: Self::Query);
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
    let (matches, ids) = index.first_matches(&query, FREQUENT_MATCHES).await?;
    Ok(Some(if matches < FREQUENT_MATCHES {
        Planned::Ids(ids)
    } else {
        Planned::Frequent(query)
    }))
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
    }
    if let Some(group) = &f.group {
        qb.push(" AND gid = (SELECT gid FROM event_groups WHERE group_id = ");
        D::push_text(qb, group);
        qb.push(")");
    }
    if let Some(initiator) = &f.initiator {
        qb.push(" AND initiator = ");
        D::push_text(qb, initiator);
    }
    for m in &f.data {
        D::push_data(qb, m);
    }
}
