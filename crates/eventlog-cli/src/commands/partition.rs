//! `eventlog partition`: partition the PostgreSQL events table by time, or set the interval
//! of new partitions.

use eventlog::store::BackendKind;
use eventlog::store::postgres::{CarryOver, PartitionInterval, PostgresStore};

use crate::context::Context;
use crate::voice::say;

/// Options of `eventlog partition`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The length of partitions created from now on: day, week, month or year (stored in
    /// the database, so every server uses it). Default: keep the current one (month).
    #[arg(long, value_name = "INTERVAL")]
    interval: Option<PartitionInterval>,
    /// Rows (ids) copied per transaction while carrying an unpartitioned table over.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
}

/// Migrates, sets the interval if asked, then carries an unpartitioned events table over
/// (servers may keep running; a stopped run resumes where it was) or, when it is
/// partitioned already, creates the partitions due. Says what it did on stderr.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let url = ctx.database_url()?;
    if BackendKind::from_url(&url) != Some(BackendKind::Postgres) {
        anyhow::bail!(
            "partitioning is for PostgreSQL databases; {} is not one (a SQLite log needs none)",
            eventlog::store::redact(&url)
        );
    }
    // Opened (and migrated) the usual way first, so that the schema is current.
    ctx.store().await?;
    let store = PostgresStore::connect(&url).await?;
    if let Some(every) = args.interval {
        store.set_partition_interval(every).await?;
        say!("new partitions will each cover one {every}");
    }
    match store.partition_events(args.batch as usize, None).await? {
        CarryOver::AlreadyPartitioned => say!("the events table is partitioned already"),
        CarryOver::Done { copied } => {
            say!("carried {copied} events over; the events table is now partitioned")
        }
        CarryOver::Paused { copied, left } => {
            say!("copied {copied} events, {left} left: run it again to go on")
        }
    }
    let parts = store.partitions().await?;
    match (parts.first(), parts.last()) {
        (Some(first), Some(last)) => say!(
            // Existing partitions keep the interval they were made with: only new ones
            // follow the current setting.
            "{} partitions, from {} to {}; new partitions each cover one {}",
            parts.len(),
            first.from.format("%Y-%m-%d"),
            last.to.format("%Y-%m-%d"),
            store.partition_interval().await?
        ),
        _ => say!("no partitions yet"),
    }
    Ok(())
}
