//! `eventlog import --from-django URL`: a django-eventlog database, read-only, idempotently.

use std::io::IsTerminal;

use eventlog::django::DjangoSource;
use eventlog::store::redact;
use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Context;
use crate::voice::say;

/// Skipped rows printed one by one; beyond this only the count is given.
const SKIPPED_SHOWN: usize = 20;

/// Reads the `eventlog_event` table of `url` and stores every row (see
/// [`eventlog::django`]): a progress bar on a terminal, then one summary line on stderr.
/// Rows that break eventlog's rules are listed (row id and rule) and make the command fail
/// after everything else is stored, so a script notices. Rows are stored `batch` at a time.
pub async fn run(ctx: &Context, url: &str, batch: usize) -> anyhow::Result<()> {
    let source = DjangoSource::open(url).await?;
    let store = ctx.store().await?;
    let total = source.count().await?;
    let progress = std::io::stderr().is_terminal().then(|| {
        ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    });
    let result = source
        .import_into(store.as_ref(), batch, |so_far| {
            if let Some(bar) = &progress {
                bar.set_position(so_far.read);
            }
        })
        .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    source.close().await;
    let summary = result?;
    for row in summary.skipped.iter().take(SKIPPED_SHOWN) {
        say!("row id {} skipped: {}", row.id, row.problem);
    }
    if summary.skipped.len() > SKIPPED_SHOWN {
        say!(
            "… and {} more rows skipped",
            summary.skipped.len() - SKIPPED_SHOWN
        );
    }
    say!(
        "imported {} events from django-eventlog at {} ({} already present, {} skipped)",
        summary.created,
        redact(url),
        summary.already_present,
        summary.skipped.len()
    );
    if !summary.skipped.is_empty() {
        anyhow::bail!(
            "{} rows could not be imported (listed above); everything else is stored",
            summary.skipped.len()
        );
    }
    Ok(())
}
