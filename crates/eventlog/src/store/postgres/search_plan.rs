//! Planning a search on PostgreSQL: the word statistics `ANALYZE` keeps decide which words
//! the GIN index is asked for and which are tested on the rows it yields; the plan counts
//! the first matches to choose between looking them up and testing rows along the listing's
//! index.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::read::{EVENT_WORDS, GROUP_WORDS, Matches, PgQuery, PgSql, tsquery};
use crate::error::StoreError;
use crate::store::sql::{Dialect, SearchIndex};

/// A word whose prefix matches at least this share of the events is not looked up in the
/// GIN index when another word of the search is rare: the index would list every event it
/// matches (`user` in `user:4242`: all of them, 18-55 ms at 1M events) only to intersect
/// them with a few dozen.
const COMMON_SHARE: f64 = 0.2;
/// A word is rare enough to drive the lookup alone below this share (the rows it yields are
/// tested against the whole search: ~25 µs each, and the plan reads at most
/// `FREQUENT_MATCHES` of them).
const RARE_SHARE: f64 = 0.001;
/// How long the word statistics are used before they are read again.
const STATS_FOR: Duration = Duration::from_secs(60);

/// How often the words of the events' search index occur, as `ANALYZE` estimates them: the
/// most common elements of each partition's index expression (`pg_stats`), as rows holding
/// the word summed over the partitions. Empty until the table was analyzed: then every
/// search is planned as without them.
#[derive(Debug, Default)]
pub(super) struct WordStats {
    /// (word, rows holding it), sorted by word (byte order).
    words: Vec<(String, f64)>,
    /// Rows of all partitions.
    total: f64,
}

impl WordStats {
    fn starting_with<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = f64> + 'a {
        let start = self.words.partition_point(|(w, _)| w.as_str() < prefix);
        self.words[start..]
            .iter()
            .take_while(move |(w, _)| w.starts_with(prefix))
            .map(|(_, rows)| *rows)
    }

    /// About the share of events one of whose words starts with `word` (words outside the
    /// most common ones count as 0; two common ones in one event count twice).
    fn prefix_share(&self, word: &str) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        (self.starting_with(word).sum::<f64>() / self.total).min(1.0)
    }

    /// Rows that certainly hold a word starting with `word`, as far as the statistics know:
    /// those of its most common such word.
    fn prefix_rows_at_least(&self, word: &str) -> f64 {
        self.starting_with(word).fold(0.0, f64::max)
    }

    /// The words to look up in the index when some of `words` are in most events and another
    /// is rare; `None`: all of them.
    fn indexed_words<'a>(&self, words: &'a [String]) -> Option<Vec<&'a String>> {
        let share: Vec<f64> = words.iter().map(|w| self.prefix_share(w)).collect();
        let common = share.iter().any(|&s| s >= COMMON_SHARE);
        let rare = share.iter().any(|&s| s < RARE_SHARE);
        (common && rare).then(|| {
            words
                .iter()
                .zip(&share)
                .filter(|(_, s)| **s < COMMON_SHARE)
                .map(|(w, _)| w)
                .collect()
        })
    }
}

/// [`WordStats`] read at most every [`STATS_FOR`] per store.
#[derive(Debug, Default)]
pub(super) struct WordShares {
    read_at: Option<Instant>,
    stats: Arc<WordStats>,
}

/// The most common words of every events partition's search index, with the rows holding
/// them (share × the partition's rows).
const READ_WORDS: &str = "SELECT m.elem, sum(m.freq * t.reltuples)::float8 FROM pg_stats s \
     JOIN pg_class c ON c.relname = s.tablename \
     AND c.relnamespace = to_regnamespace(s.schemaname::text) \
     JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid, \
     unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS m(elem, freq) \
     WHERE s.schemaname = current_schema() AND s.attname = 'eventlog_words' \
     AND t.reltuples > 0 AND m.elem IS NOT NULL \
     AND i.indrelid IN (SELECT relid FROM pg_partition_tree('events') WHERE isleaf) \
     GROUP BY m.elem";
/// Rows of all partitions, as `ANALYZE` and `VACUUM` last counted them.
const READ_TOTAL: &str = "SELECT coalesce(sum(reltuples), 0)::float8 FROM pg_class \
     WHERE reltuples > 0 AND oid IN (SELECT relid FROM pg_partition_tree('events') WHERE isleaf)";

/// The GIN indexes, read through the pool, and the statistics of their words.
pub(super) struct GinIndex<'p> {
    pub(super) pool: &'p sqlx::PgPool,
    pub(super) shares: &'p Mutex<WordShares>,
}

impl GinIndex<'_> {
    /// The word statistics, read again when older than [`STATS_FOR`].
    async fn stats(&self) -> Result<Arc<WordStats>, StoreError> {
        {
            let cached = self.shares.lock().unwrap_or_else(|p| p.into_inner());
            if cached.read_at.is_some_and(|at| at.elapsed() < STATS_FOR) {
                return Ok(cached.stats.clone());
            }
        }
        let mut words: Vec<(String, f64)> = sqlx::query_as(READ_WORDS).fetch_all(self.pool).await?;
        // Byte order, as the prefix lookups walk them (the database's may be a locale's).
        words.sort_by(|a, b| a.0.cmp(&b.0));
        let total: f64 = sqlx::query_scalar(READ_TOTAL).fetch_one(self.pool).await?;
        let stats = Arc::new(WordStats { words, total });
        let mut cached = self.shares.lock().unwrap_or_else(|p| p.into_inner());
        cached.read_at = Some(Instant::now());
        cached.stats = stats.clone();
        Ok(stats)
    }
}

impl SearchIndex<PgSql> for GinIndex<'_> {
    async fn query(&mut self, words: &[String]) -> Result<PgQuery, StoreError> {
        let mut query = PgSql::prefix_query(words);
        let stats = self.stats().await?;
        if let [word] = words {
            // Known to be in more events than the plan would count: skip the count.
            query.frequent = stats.prefix_rows_at_least(word)
                >= 2.0 * crate::store::filter::FREQUENT_MATCHES as f64;
        } else {
            if let Some(indexed) = stats.indexed_words(words) {
                query.common = words
                    .iter()
                    .filter(|w| !indexed.contains(w))
                    .cloned()
                    .collect();
                query.indexed = Some(tsquery(indexed.into_iter()));
            }
        }
        Ok(query)
    }

    async fn first_matches(
        &mut self,
        query: &PgQuery,
        limit: i64,
    ) -> Result<(i64, Matches), StoreError> {
        if query.frequent {
            return Ok((limit, Matches::default()));
        }
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT count(*), coalesce(array_agg(id), '{}'), coalesce(array_agg(ts), '{}'), \
             coalesce(array_agg(event_type), '{}') \
             FROM (SELECT id, ts, event_type FROM events WHERE ",
        );
        match &query.indexed {
            None => {
                qb.push(EVENT_WORDS).push_bind(query.full.clone()).push(")");
            }
            Some(indexed) => {
                // Words in most events are left out of the index lookup; the rows it yields
                // are tested for them (`IS TRUE`: on the row, not as a second lookup). Most
                // such rows hold each of them after a space or at the start, which means a
                // word starting with it (ASCII spaces split words, and a word is lowercased as
                // `lower` does): a `LIKE` settles those for a fraction of the cost of
                // splitting the text into words again (~25 µs a row, 3,400 rows for
                // `user:4242` at 10M events).
                qb.push(EVENT_WORDS)
                    .push_bind(indexed.clone())
                    .push(") AND ((TRUE");
                for word in &query.common {
                    qb.push(" AND lower(left(message || ' ' || coalesce(initiator, ''), 100000)) LIKE ANY(")
                        .push_bind(vec![format!("{word}%"), format!("% {word}%")])
                        .push(")");
                }
                qb.push(") OR ")
                    .push(EVENT_WORDS)
                    .push_bind(tsquery(query.common.iter()))
                    .push(")) IS TRUE");
            }
        }
        // Groups are few: their index takes the whole search. Each group's events are read
        // through the group index (the `LIMIT` keeps the subquery a lookup per group): joined
        // as a set, the planner may hash all the events instead (at 10M events, after a purge
        // changed the groups' statistics: a full scan, 1.1 s for a group of 20).
        qb.push(" UNION ALL SELECT e.id, e.ts, e.event_type FROM (")
            .push(GROUP_WORDS)
            .push_bind(query.full.clone())
            .push(
                ")) AS g, LATERAL (SELECT id, ts, event_type FROM events \
                 WHERE events.gid = g.gid LIMIT ",
            )
            .push_bind(limit)
            .push(") AS e LIMIT ")
            .push_bind(limit)
            .push(") AS m");
        let (matches, ids, times, types): (i64, Vec<i64>, Vec<DateTime<Utc>>, Vec<String>) =
            qb.build_query_as().fetch_one(self.pool).await?;
        let rows = ids.into_iter().zip(times).zip(types);
        Ok((
            matches,
            Matches::new(rows.map(|((id, ts), t)| (id, ts, t)).collect()),
        ))
    }
}
/// How PostgreSQL reads the matches of a search (see [`super::PostgresStore::search_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlan {
    /// The words looked up in the search index.
    pub looked_up: Vec<String>,
    /// The words left out of the lookup because the statistics find them in most events:
    /// tested on the rows the lookup yields.
    pub tested: Vec<String>,
    /// How many events the plan read as matches, up to the bound a plan counts; `None`:
    /// the statistics know the word is more frequent than that, and nothing was read.
    pub matches: Option<u64>,
    /// Few matches: the listing looks them up (else it tests the rows along its index).
    pub few: bool,
}

impl super::PostgresStore {
    /// How a search for `text` is planned now: which words the index is asked for and
    /// which are tested on its rows (from the word statistics `ANALYZE` keeps), and how
    /// many matches the plan read. For diagnosing a slow search; `None` when the text has no
    /// word.
    pub async fn search_plan(&self, text: &str) -> Result<Option<SearchPlan>, StoreError> {
        let words = crate::store::search_words(text);
        if words.is_empty() {
            return Ok(None);
        }
        let mut index = GinIndex {
            pool: &self.pool,
            shares: &self.word_shares,
        };
        let query = index.query(&words).await?;
        let (matches, _) = index
            .first_matches(&query, crate::store::filter::FREQUENT_MATCHES)
            .await?;
        Ok(Some(SearchPlan {
            looked_up: words
                .iter()
                .filter(|w| !query.common.contains(w))
                .cloned()
                .collect(),
            tested: query.common.clone(),
            matches: (!query.frequent).then_some(matches.max(0) as u64),
            few: matches < crate::store::filter::FREQUENT_MATCHES,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::WordStats;

    fn stats() -> WordStats {
        // Sorted by word, as the statistics are kept; 1,000,000 rows.
        let words = [
            ("0", 240_000.0),
            ("eu", 970_000.0),
            ("timeout", 30_000.0),
            ("user", 1_000_000.0),
            ("users", 10_000.0),
        ];
        WordStats {
            words: words.iter().map(|(w, n)| ((*w).to_owned(), *n)).collect(),
            total: 1_000_000.0,
        }
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn a_prefix_counts_every_common_word_it_starts() {
        let s = stats();
        assert_eq!(s.prefix_share("user"), 1.0);
        assert_eq!(s.prefix_share("u"), 1.0);
        assert!((s.prefix_share("time") - 0.03).abs() < 1e-9);
        assert_eq!(s.prefix_share("4242"), 0.0);
        assert_eq!(WordStats::default().prefix_share("user"), 0.0);
        // At least: the most common word it starts, not the sum.
        assert_eq!(s.prefix_rows_at_least("use"), 1_000_000.0);
        assert_eq!(s.prefix_rows_at_least("ti"), 30_000.0);
        assert_eq!(s.prefix_rows_at_least("quokka"), 0.0);
    }

    #[test]
    fn a_word_in_most_events_is_left_to_the_row_test_only_beside_a_rare_one() {
        let s = stats();
        let w = words(&["user", "4242"]);
        assert_eq!(
            s.indexed_words(&w),
            Some(vec![&w[1]]),
            "user:4242 looks up 4242"
        );
        // Both common, both rare, or one word: the index takes them all.
        assert_eq!(s.indexed_words(&words(&["user", "eu"])), None);
        assert_eq!(s.indexed_words(&words(&["quokka", "4242"])), None);
        assert_eq!(s.indexed_words(&words(&["user"])), None);
        // `timeout` (3 %) is neither: it stays in the lookup beside the rare word.
        let w = words(&["user", "timeout", "4242"]);
        assert_eq!(s.indexed_words(&w), Some(vec![&w[1], &w[2]]));
        // Without statistics (never analyzed), nothing is left out.
        assert_eq!(
            WordStats::default().indexed_words(&words(&["user", "4242"])),
            None
        );
    }
}
