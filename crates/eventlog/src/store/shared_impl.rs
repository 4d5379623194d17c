//! The [`Store`](super::Store) methods the SQL backends share, written once: reads through
//! the [`Dialect`](super::sql::Dialect) driver, following, counting, and inserting through the
//! backend's own transaction. Each backend's `store_impl` instantiates [`impl_store!`] with the
//! methods whose SQL or transactions are its own.

/// Implements [`Store`](super::Store) for a backend's store: the methods written here, then
/// the backend's own, given after the `;` (as in an `impl` block; they see the imports
/// below as well as their file's).
///
/// Expects of the store type: a `pool` field (a `sqlx::Pool` of the dialect's database), an
/// `insert_with(&self, &[NewEvent], Mail)` method storing a non-empty batch in one
/// transaction, and a
/// module named by `follow:` in scope at the call with `start(pool)` and
/// `read_once(pool, filter, cursor, limit)`.
macro_rules! impl_store {
    (
        $store:ty, kind: $kind:ident, dialect: $dialect:ty, follow: $follow:ident;
        $($own:tt)*
    ) => {
        const _: () = {
            use sqlx::QueryBuilder;

            use $crate::error::StoreError;
            use $crate::event::{Event, NewEvent};
            use $crate::store::group_delta::Mail;
            use $crate::store::sql::{self, Dialect};
            use $crate::store::{
                BackendKind, EventFilter, FollowCursor, GroupCursor, GroupFilter, GroupSummary,
                Inserted, Page, PoolStatus, Store,
            };

            impl $store {
                /// Stores a batch in the backend's own transaction (its `insert_with`); an
                /// empty batch touches nothing: no transaction, no lock.
                async fn store_batch(
                    &self,
                    events: &[NewEvent],
                    mail: Mail,
                ) -> Result<Vec<Inserted>, StoreError> {
                    if events.is_empty() {
                        return Ok(Vec::new());
                    }
                    self.insert_with(events, mail).await
                }
            }

            #[async_trait::async_trait]
            impl Store for $store {
                fn backend(&self) -> BackendKind {
                    BackendKind::$kind
                }

                fn pool_status(&self) -> PoolStatus {
                    PoolStatus::of(&self.pool)
                }

                async fn insert_batch(
                    &self,
                    events: &[NewEvent],
                ) -> Result<Vec<Inserted>, StoreError> {
                    self.store_batch(events, Mail::Queue).await
                }

                async fn import_batch(
                    &self,
                    events: &[NewEvent],
                ) -> Result<Vec<Inserted>, StoreError> {
                    self.store_batch(events, Mail::Skip).await
                }

                async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
                    sql::event_by_id::<$dialect>(&self.pool, id).await
                }

                async fn follow_start(&self) -> Result<FollowCursor, StoreError> {
                    $follow::start(&self.pool).await
                }

                async fn follow(
                    &self,
                    filter: &EventFilter,
                    cursor: &FollowCursor,
                    limit: usize,
                ) -> Result<(Vec<Event>, FollowCursor), StoreError> {
                    $crate::store::follow::read_filling(cursor, limit, |from, n| async move {
                        $follow::read_once(&self.pool, filter, &from, n).await
                    })
                    .await
                }

                async fn group_events(
                    &self,
                    group: &str,
                    limit: usize,
                ) -> Result<Vec<Event>, StoreError> {
                    sql::group_events::<$dialect>(&self.pool, group, limit).await
                }

                async fn groups(
                    &self,
                    filter: &GroupFilter,
                    after: Option<&GroupCursor>,
                    limit: usize,
                ) -> Result<Page<GroupSummary, GroupCursor>, StoreError> {
                    sql::groups::<$dialect>(&self.pool, filter, after, limit).await
                }

                async fn group_summary(
                    &self,
                    group: &str,
                ) -> Result<Option<GroupSummary>, StoreError> {
                    sql::group_summary::<$dialect>(&self.pool, group).await
                }

                async fn count(&self, filter: &EventFilter) -> Result<u64, StoreError> {
                    let mut qb = QueryBuilder::<<$dialect as Dialect>::Db>::new(
                        "SELECT count(*) FROM events",
                    );
                    sql::push_filter::<$dialect>(&mut qb, filter, None);
                    let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
                    Ok(n.max(0) as u64)
                }

                async fn count_at_most(
                    &self,
                    filter: &EventFilter,
                    bound: u64,
                ) -> Result<u64, StoreError> {
                    let limit = i64::try_from(bound.saturating_add(1)).unwrap_or(i64::MAX);
                    let mut qb = QueryBuilder::<<$dialect as Dialect>::Db>::new(
                        "SELECT count(*) FROM (SELECT 1 FROM events",
                    );
                    sql::push_filter::<$dialect>(&mut qb, filter, None);
                    qb.push(" LIMIT ").push_bind(limit).push(") AS matching");
                    let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
                    Ok(n.max(0) as u64)
                }

                $($own)*
            }
        };
    };
}
pub(crate) use impl_store;
