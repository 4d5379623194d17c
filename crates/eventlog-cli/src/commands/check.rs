//! `eventlog check`

use eventlog::store::Integrity;

use crate::context::Context;
use crate::voice::Failure;

/// Options of `eventlog check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Looks for damage in the database and prints what was checked, or each problem found (on
/// stdout, one per line); damage makes the command fail, so scripts and monitors notice.
/// The database is opened without migrating: a damaged file is read, never written.
pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    let store = ctx.store_unmigrated().await?;
    match store.check_integrity().await? {
        Integrity::Sound { checked } => {
            println!("ok: {}", checked.join(", "));
            Ok(())
        }
        Integrity::Damaged { problems } => {
            for problem in &problems {
                println!("{problem}");
            }
            Err(Failure {
                cause: format!(
                    "the database is damaged ({} shown above)",
                    match problems.len() {
                        1 => "1 problem".to_owned(),
                        n => format!("{n} problems"),
                    }
                ),
                hint: Some(
                    "stop the servers writing to it and keep a copy; then restore your latest \
                     backup into a new database and import what `eventlog export` still reads \
                     from this one (\"A damaged database\" in the README)"
                        .to_owned(),
                ),
            }
            .into())
        }
        Integrity::NotOurs { advice } => {
            println!("{advice}");
            Ok(())
        }
        other => anyhow::bail!("unexpected check result {other:?}"),
    }
}
