//! `eventlog export`: the selected events as CSV or JSON Lines, oldest first.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use eventlog::export::{ExportFormat, ExportWriter};
use eventlog::store::Order;
use indicatif::{ProgressBar, ProgressStyle};

use super::filter_args::FilterArgs;
use crate::context::Context;
use crate::voice::say;

/// Rows fetched per query; memory use is bounded by one page, whatever the total.
const PAGE: usize = 1000;

/// Options of `eventlog export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// csv or jsonl (JSON Lines, which `eventlog import` reads back).
    #[arg(long, default_value = "jsonl")]
    format: ExportFormat,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
}

/// Streams the matching events page by page (keyset pagination) into the output.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let types = ctx.config()?.event_types()?;
    let filter = args.filter.to_filter(&types, store.as_ref()).await?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = ExportWriter::new(BufWriter::with_capacity(1 << 16, out), args.format)?;
    let progress = if std::io::stderr().is_terminal() {
        let total = store.count(&filter).await?;
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let mut cursor = None;
    let mut n: u64 = 0;
    loop {
        let page = store
            .list(&filter, Order::Asc, cursor.as_ref(), PAGE)
            .await?;
        for e in &page.items {
            writer.write_event(e)?;
        }
        n += page.items.len() as u64;
        if let Some(bar) = &progress {
            bar.set_position(n);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    writer.finish()?.flush()?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if args.output.is_some() {
        say!("exported {n} events");
    }
    Ok(())
}
