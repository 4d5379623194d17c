//! Group commit: concurrent callers that each store a few events share one transaction.
//!
//! Every transaction pays a commit (an fsync) and, on SQLite, the single write lock. When many
//! requests each carry a small batch (HTTP ingest), letting each open its own transaction
//! makes them queue for the lock (SQLite's busy handler sleeps in steps of up to 100 ms) and
//! pay a commit apiece. Here committer tasks take whatever requests are waiting, store them
//! with one [`WriteStore::insert_batch`] (each request's events stay together and in order; an
//! idempotency key repeated across requests is stored once, as within a batch), and answer
//! each request after the commit. A database error fails every request of that transaction,
//! and nothing of it is stored; callers validate before joining, so one request's data cannot
//! fail another.
//!
//! SQLite gets one committer (one writer at a time anyway); PostgreSQL a few, so that one
//! transaction's round trips overlap with the next one's.

use std::sync::Arc;

use crate::error::StoreError;
use crate::event::NewEvent;
use crate::store::{Inserted, WriteStore};

/// Most events per shared transaction (a single larger request still goes alone).
pub const MAX_EVENTS: usize = 20_000;

/// Committer tasks on PostgreSQL.
const POSTGRES_COMMITTERS: usize = 4;

struct Job {
    events: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Inserted>, Arc<StoreError>>>,
}

/// The handle callers use to join the next transaction. Cloning shares the committers.
#[derive(Clone)]
pub struct GroupCommit {
    tx: flume::Sender<Job>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("waiting", &self.tx.len())
            .finish()
    }
}

impl GroupCommit {
    /// Starts the committer tasks on the current tokio runtime; they end when every handle
    /// is dropped.
    pub fn start(store: Arc<dyn WriteStore>) -> Self {
        let committers = if store.backend() == super::BackendKind::Sqlite {
            1
        } else {
            POSTGRES_COMMITTERS
        };
        let (tx, rx) = flume::bounded::<Job>(1024);
        for _ in 0..committers {
            let rx = rx.clone();
            let store = store.clone();
            tokio::spawn(async move {
                while let Ok(first) = rx.recv_async().await {
                    let mut total = first.events.len();
                    let mut jobs = vec![first];
                    while total < MAX_EVENTS {
                        match rx.try_recv() {
                            Ok(job) => {
                                total += job.events.len();
                                jobs.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    ::metrics::gauge!(crate::metrics::QUEUE_DEPTH, "source" => "group_commit")
                        .set(rx.len() as f64);
                    commit(store.as_ref(), jobs).await;
                }
            });
        }
        GroupCommit { tx }
    }

    /// Stores `events` in the next shared transaction and returns their ids once it
    /// committed. The error is the transaction's, shared by every request in it.
    pub async fn insert(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::from(sqlx::Error::PoolClosed);
        self.tx
            .send_async(Job { events, reply })
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Shared)
    }
}

async fn commit(store: &dyn WriteStore, jobs: Vec<Job>) {
    let started = std::time::Instant::now();
    let (result, mails) = if let [job] = &jobs[..] {
        let result = store.insert_batch(&job.events).await;
        let mails = committed_mails(&job.events, &result);
        (result, mails)
    } else {
        let all: Vec<NewEvent> = jobs.iter().flat_map(|j| j.events.iter().cloned()).collect();
        let result = store.insert_batch(&all).await;
        let mails = committed_mails(&all, &result);
        (result, mails)
    };
    match result {
        Ok(inserted) => {
            let created = inserted.iter().filter(|r| r.created).count() as u64;
            crate::metrics::batch_committed(
                "group_commit",
                inserted.len(),
                created,
                inserted.len() as u64 - created,
                mails,
                started.elapsed(),
            );
            let mut rest = &inserted[..];
            for job in jobs {
                let (mine, tail) = rest.split_at(job.events.len().min(rest.len()));
                rest = tail;
                let _ = job.reply.send(Ok(mine.to_vec()));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

fn committed_mails(events: &[NewEvent], result: &Result<Vec<Inserted>, StoreError>) -> u64 {
    match result {
        Ok(inserted) => crate::store::outbox::mails_queued(events, inserted),
        Err(_) => 0,
    }
}
