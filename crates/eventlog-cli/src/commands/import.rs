//! `eventlog import FILE.jsonl`: load an export back, idempotently.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context as _;
use eventlog::export::read_jsonl;
use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Context;

/// Events stored per transaction.
pub const BATCH: usize = 5_000;

/// Options of `eventlog import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON Lines file as written by `eventlog export --format jsonl`; `-` reads stdin.
    #[arg(
        required_unless_present = "from_django",
        conflicts_with = "from_django"
    )]
    file: Option<PathBuf>,
    /// Import a django-eventlog database instead: a SQLite file path (or sqlite://PATH) or a
    /// postgres:// URL of the Django project's database (read-only; table eventlog_event).
    #[arg(long, value_name = "URL")]
    from_django: Option<String>,
}

/// The file to import, once resolved.
struct FileArgs {
    file: PathBuf,
}

/// With `--from-django`, imports a django-eventlog database (see `import_django`). Otherwise
/// reads the file line by line and stores it in batches of 5,000 (uuids and timestamps kept),
/// so memory stays bounded. Events whose uuid is already stored are skipped: running the same
/// import twice stores everything once. Stops at the first bad line, naming it; the batches
/// before it are stored, and rerunning after a fix is safe. Event types need not be configured
/// (an export of old events may hold types since removed).
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let file = match (args.file, args.from_django) {
        (_, Some(url)) => return super::import_django::run(ctx, &url, BATCH).await,
        (Some(file), None) => file,
        (None, None) => anyhow::bail!("give a FILE to import or --from-django URL"),
    };
    let args = FileArgs { file };
    let store = ctx.store().await?;
    let (input, size): (Box<dyn Read>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let progress = (std::io::stderr().is_terminal() && size > 0).then(|| {
        ProgressBar::new(size).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    });
    let reader: Box<dyn BufRead> = match &progress {
        Some(bar) => Box::new(BufReader::with_capacity(1 << 16, bar.wrap_read(input))),
        None => Box::new(BufReader::with_capacity(1 << 16, input)),
    };
    let (mut created, mut skipped) = (0u64, 0u64);
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = read_jsonl(reader);
    loop {
        let next = lines.next().transpose().with_context(|| {
            format!(
                "{}: import stopped; {created} events stored before it",
                args.file.display()
            )
        })?;
        let end = next.is_none();
        if let Some(e) = next {
            batch.push(e);
        }
        if batch.len() >= BATCH || (end && !batch.is_empty()) {
            for r in store.insert_batch(&batch).await? {
                if r.created {
                    created += 1;
                } else {
                    skipped += 1;
                }
            }
            batch.clear();
        }
        if end {
            break;
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    eprintln!("imported {created} events ({skipped} already present)");
    Ok(())
}
