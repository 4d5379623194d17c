//! `eventlog purge --older-than DURATION`: delete old events.

use eventlog::retention::parse_duration;

use crate::context::Context;
use crate::voice::say;

/// Options of `eventlog purge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete events older than this: 90d, 12h, 30m, 1y, "1d 12h".
    #[arg(long, value_name = "DURATION")]
    older_than: String,
    /// Only events of this type.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: Option<String>,
    /// Only count what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

/// Deletes (in bounded batches) or counts the events older than the given age; prints the
/// count on stdout.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let age = parse_duration(&args.older_than).map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
    let before = eventlog::event::now()
        - chrono::Duration::from_std(age)
            .map_err(|_| anyhow::anyhow!("--older-than {:?} is too long", args.older_than))?;
    let store = ctx.store().await?;
    let what = match &args.event_type {
        Some(t) => format!("{t} events"),
        None => "events".to_owned(),
    };
    let cutoff = before.format("%Y-%m-%d %H:%M:%S UTC");
    if args.dry_run {
        let n = store
            .purge_count(before, args.event_type.as_deref())
            .await?;
        println!("{n}");
        say!("would delete {n} {what} older than {cutoff} (dry run)");
    } else {
        let n = store.purge(before, args.event_type.as_deref()).await?;
        println!("{n}");
        say!("deleted {n} {what} older than {cutoff}");
    }
    Ok(())
}
