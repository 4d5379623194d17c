//! `eventlog demo`: records a sample history for trying the admin.

mod history;
mod sample;
mod stories;

use chrono::Utc;

use crate::context::Context;
use crate::voice::say;

/// Options of `eventlog demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Stores two weeks of a sample shop's events (orders, mailings, nightly jobs, deploys,
/// incidents, a reindex still running) ending now, through the import path: no mail is
/// queued, and each event's uuid is the same on every run, so running it again stores
/// nothing new.
pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    let types: Vec<String> = ctx
        .config()?
        .event_types()?
        .names()
        .map(str::to_owned)
        .collect();
    let events = sample::sample(Utc::now(), &types);
    let store = ctx.store().await?;
    let mut created = 0;
    for batch in events.chunks(super::import::BATCH) {
        created += store
            .import_batch(batch)
            .await?
            .iter()
            .filter(|r| r.created)
            .count();
    }
    store.close().await;
    let present = events.len() - created;
    say!(
        "demo: stored {created} sample events over {} days ({present} already present)",
        history::DAYS
    );
    Ok(())
}
