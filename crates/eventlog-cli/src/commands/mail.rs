//! `eventlog mail status`: what the durable mail outbox holds.

use crate::context::Context;

/// Options of `eventlog mail`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: MailCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MailCommand {
    /// Counts of the mail outbox: queued, sent, retried, given up (sent and given-up mails are
    /// kept 7 days). Works with or without a `[mail]` section.
    Status {
        /// Print one JSON object instead of aligned lines.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `eventlog mail …`.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        MailCommand::Status { json } => {
            let store = ctx.store().await?;
            let status = store.outbox_status().await?;
            if json {
                println!("{}", serde_json::to_string(&status)?);
            } else {
                println!("queued    {}", status.queued);
                println!("sent      {}", status.sent);
                println!("retried   {}", status.retried);
                println!("given up  {}", status.given_up);
                if let Some(oldest) = status.oldest_queued {
                    println!(
                        "oldest queued mail: {}",
                        oldest.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                }
            }
            Ok(())
        }
    }
}
