//! `eventlog import FILE.jsonl`: load an export back, idempotently.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context as _;
use eventlog::NewEvent;
use eventlog::error::StoreError;
use eventlog::export::{ImportError, read_jsonl};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinHandle;

use crate::context::Context;
use crate::voice::say;

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

/// Events of committed batches: created, or skipped as already stored.
#[derive(Debug, Default, Clone, Copy)]
struct Counted {
    created: u64,
    skipped: u64,
}

impl Counted {
    fn add(&mut self, other: Counted) {
        self.created += other.created;
        self.skipped += other.skipped;
    }
}

/// The file to import, once resolved.
struct FileArgs {
    file: PathBuf,
}

/// With `--from-django`, imports a django-eventlog database (see `import_django`). Otherwise
/// reads the file line by line and stores it in batches of 5,000 (uuids and timestamps kept),
/// as many at once as the store writes usefully ([`eventlog::store::WriteStore::write_concurrency`]),
/// so memory stays bounded; no mail is queued for imported events. Events whose uuid is already stored are skipped: running the same
/// import twice stores everything once. Stops at the first bad line, naming it; the batches
/// before it are stored, and rerunning after a fix is safe. A batch the database refuses
/// stops it too, once the batches in flight have finished; the count reported is of the
/// events committed. Event types need not be configured
/// (an export of old events may hold types since removed).
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let file = match (args.file, args.from_django) {
        (_, Some(url)) => return super::import_django::run(ctx, &url, BATCH).await,
        (Some(file), None) => file,
        (None, None) => anyhow::bail!("give a FILE to import or --from-django URL"),
    };
    let args = FileArgs { file };
    let store = ctx.store().await?;
    let (input, size): (Box<dyn Read + Send>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
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
    let reader: Box<dyn BufRead + Send> = match &progress {
        Some(bar) => Box::new(BufReader::with_capacity(1 << 16, bar.wrap_read(input))),
        None => Box::new(BufReader::with_capacity(1 << 16, input)),
    };
    // Reading and parsing on a thread of their own, a batch ahead of the store: the next
    // batch is parsed while the current one is written.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<NewEvent>, ImportError>>(2);
    let reading = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for next in read_jsonl(reader) {
            match next {
                Ok(e) => batch.push(e),
                Err(e) => {
                    // The events read before the bad line are stored first.
                    let _ = tx.blocking_send(Ok(std::mem::take(&mut batch)));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
            if batch.len() >= BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.blocking_send(Ok(full)).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    // Batches in flight, each in its own transaction, as many as the store writes at once
    // usefully (PostgreSQL computes two batches' index entries side by side; SQLite has one
    // writer). Their results are taken in order; on a failure, no new batch starts and the
    // ones already started finish, so the count reported is of what is committed.
    let in_flight = store.write_concurrency().max(1);
    let mut writing: VecDeque<JoinHandle<Result<Counted, StoreError>>> = VecDeque::new();
    let mut counted = Counted::default();
    // What stopped the import: a bad line (everything before it is stored) or a batch
    // the store refused (batches after it may have been committed too).
    let mut failure: Option<(anyhow::Error, &str)> = None;
    while let Some(next) = rx.recv().await {
        let batch = match next {
            Ok(batch) => batch,
            Err(e) => {
                failure = Some((e.into(), "before it"));
                break;
            }
        };
        if batch.is_empty() {
            continue;
        }
        if writing.len() >= in_flight
            && let Some(oldest) = writing.pop_front()
        {
            match oldest.await.context("a writing task failed")? {
                Ok(c) => counted.add(c),
                Err(e) => {
                    failure = Some((e.into(), "in the batches committed"));
                    break;
                }
            }
        }
        let store = store.clone();
        writing.push_back(tokio::spawn(async move {
            // Imported events were notified where they were first recorded: no mail is queued.
            let results = store.import_batch(&batch).await?;
            let created = results.iter().filter(|r| r.created).count() as u64;
            Ok(Counted {
                created,
                skipped: results.len() as u64 - created,
            })
        }));
    }
    // Stops the reader if it is still going (after a failure).
    drop(rx);
    for started in writing {
        match started.await.context("a writing task failed")? {
            Ok(c) => counted.add(c),
            Err(e) => {
                failure.get_or_insert((e.into(), "in the batches committed"));
            }
        }
    }
    let Counted { created, skipped } = counted;
    if let Some((e, which)) = failure {
        return Err(e.context(format!(
            "{}: import stopped; {created} events stored {which}",
            args.file.display()
        )));
    }
    reading.await.context("the reading thread failed")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if created > 0 {
        // The planner's statistics of what was loaded: pages are fast at once.
        store
            .analyze()
            .await
            .context("updating the statistics after the import")?;
    }
    // Leaves the database as one file: SQLite's write-ahead log (up to its checkpoint size,
    // 32 MiB) is copied in and truncated.
    store.close().await;
    say!("imported {created} events ({skipped} already present)");
    Ok(())
}
