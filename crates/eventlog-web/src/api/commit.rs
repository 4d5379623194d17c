//! Group commit for SQLite ingest: requests that arrive while a transaction is running are
//! stored together in the next one.
//!
//! SQLite has one writer at a time. Letting every request open its own transaction makes them
//! queue in SQLite's busy handler (which sleeps in steps of up to 100 ms) and pays a commit per
//! request. Here one task drains the waiting requests, stores them with one
//! [`Store::insert_batch`](eventlog::store::Store::insert_batch) (each request's events stay
//! together and in order; an idempotency key repeated across requests is stored once, as
//! within a batch), and answers each request after the commit. Validation happens before a
//! request joins, so one request cannot fail another; a database error fails every request of
//! that transaction, and nothing of it is stored.

use std::sync::Arc;

use eventlog::NewEvent;
use eventlog::store::{Backend, Inserted};
use tokio::sync::{mpsc, oneshot};

/// Most events per group-commit transaction (a single larger request still goes alone).
const MAX_EVENTS: usize = 20_000;

struct Job {
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Vec<Inserted>, String>>,
}

/// The handle requests use to join the next transaction.
#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the committing task on the current tokio runtime.
    pub fn start(store: Arc<dyn Backend>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(1024);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
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
                let result = if jobs.len() == 1 {
                    store.insert_batch(&jobs[0].events).await
                } else {
                    let all: Vec<NewEvent> =
                        jobs.iter().flat_map(|j| j.events.iter().cloned()).collect();
                    store.insert_batch(&all).await
                };
                match result {
                    Ok(inserted) => {
                        let mut rest = &inserted[..];
                        for job in jobs {
                            let (mine, tail) = rest.split_at(job.events.len());
                            rest = tail;
                            let _ = job.reply.send(Ok(mine.to_vec()));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for job in jobs {
                            let _ = job.reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        GroupCommit { tx }
    }

    /// Stores `events` in the next transaction and returns their ids once it committed.
    pub async fn insert(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { events, reply })
            .await
            .map_err(|_| "the group-commit task has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the group-commit task has stopped".to_owned())?
    }
}
