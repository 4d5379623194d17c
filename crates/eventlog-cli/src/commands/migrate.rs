//! `eventlog migrate`

use crate::context::Context;

/// Options of `eventlog migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Opens the database, which applies every pending migration.
pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    eprintln!("{} database is up to date", store.backend());
    Ok(())
}
