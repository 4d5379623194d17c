//! `eventlog token add|list|revoke`: API tokens for `/api/v1`.

use crate::context::Context;

/// Options of `eventlog token`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a token and print it once, on stdout (only its hash is stored).
    Add {
        /// A unique name for the token, e.g. the client that will use it.
        name: String,
    },
    /// List tokens: name, creation time, last use.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: requests with it are refused from now on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Runs `eventlog token …`.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    match args.command {
        Command::Add { name } => {
            let token = store.create_token(&name).await?;
            println!("{token}");
            eprintln!(
                "token {name:?} created; it is shown only now. Send it as `Authorization: Bearer <token>`."
            );
        }
        Command::List { json } => {
            let tokens = store.list_tokens().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            println!("{:<30} {:<26} LAST USED", "NAME", "CREATED");
            for t in tokens {
                println!(
                    "{:<30} {:<26} {}",
                    t.name,
                    t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    t.last_used_at
                        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        Command::Revoke { name } => {
            let found = store.revoke_token(&name).await?;
            if !found {
                anyhow::bail!("no token named {name:?}");
            }
            eprintln!("token {name:?} revoked");
        }
    }
    Ok(())
}
