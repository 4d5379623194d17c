//! `eventlog migrate`

use crate::context::Context;
use crate::voice::say;

/// Options of `eventlog migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Applies every pending migration and says which (or that there was none), then makes the
/// indexed data keys those of `[database] indexed_data_keys`.
pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    // Checked before anything runs: a refused key leaves the database as it was.
    let keys = ctx.config()?.database.data_keys()?;
    let store = ctx.store_unmigrated().await?;
    let migrated = store.migrate().await?;
    say!("{}", report(store.backend().name(), &migrated));
    if let Some(changed) = store.index_data_keys(&keys).await?.summary() {
        say!("{changed}");
    }
    Ok(())
}

/// `applied 2 migrations to the sqlite database: 0005 compact rows, 0006 mail outbox; it is
/// now at 0006`, or `the sqlite database is up to date (at 0006)`.
fn report(backend: &str, migrated: &eventlog::store::Migrated) -> String {
    let at = migrated
        .version
        .map_or_else(|| "none".to_owned(), |v| format!("{v:04}"));
    match migrated.applied.len() {
        0 => format!("the {backend} database is up to date (at {at}); nothing to apply"),
        n => {
            let names: Vec<String> = migrated
                .applied
                .iter()
                .map(|(v, d)| format!("{v:04} {d}"))
                .collect();
            let plural = if n == 1 { "" } else { "s" };
            format!(
                "applied {n} migration{plural} to the {backend} database: {}; it is now at {at}",
                names.join(", ")
            )
        }
    }
}
