//! `eventlog types`

use crate::context::Context;

/// Options of `eventlog types`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints the configured event types, least severe first.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let types = ctx.config()?.event_types()?;
    if args.json {
        let list: Vec<_> = types.iter().collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{:<20} {:<20} {:<12} BGCOLOR", "NAME", "LABEL", "COLOR");
    for t in types.iter() {
        println!(
            "{:<20} {:<20} {:<12} {}",
            t.name,
            t.label,
            t.color.as_deref().unwrap_or("-"),
            t.bgcolor.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
