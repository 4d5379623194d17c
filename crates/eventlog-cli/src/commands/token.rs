//! `eventlog token add|list|revoke`: API tokens for `/api/v1`.

use eventlog::store::TokenScope;

use crate::context::Context;
use crate::voice::say;

/// Options of `eventlog token`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// What a new token may do.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    /// Record events only (`POST /api/v1/events`): what an application embeds.
    Ingest,
    /// Read events and groups only (every `GET`).
    Read,
    /// Both.
    All,
}

impl From<ScopeArg> for TokenScope {
    fn from(scope: ScopeArg) -> Self {
        match scope {
            ScopeArg::Ingest => TokenScope::Ingest,
            ScopeArg::Read => TokenScope::Read,
            ScopeArg::All => TokenScope::All,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a token and print it once, on stdout (only its hash is stored). It may only
    /// record events unless `--scope read` or `--scope all`.
    Add {
        /// A unique name for the token, e.g. the client that will use it.
        name: String,
        /// What the token may do: ingest (record events), read (read events and groups) or
        /// all.
        #[arg(long, value_enum, default_value = "ingest")]
        scope: ScopeArg,
    },
    /// List tokens: name, scope, creation time, last use.
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
        Command::Add { name, scope } => {
            let scope = TokenScope::from(scope);
            let token = store.create_token(&name, scope).await?;
            println!("{token}");
            say!(
                "token {name:?} (scope {scope}) created; it is shown only now. Send it as `Authorization: Bearer <token>`."
            );
        }
        Command::List { json } => {
            let tokens = store.list_tokens().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            // The same table style as `user list`.
            let mut table = comfy_table::Table::new();
            table.load_style(comfy_table::presets::NOTHING).set_header([
                "NAME",
                "SCOPE",
                "CREATED",
                "LAST USED",
            ]);
            for t in tokens {
                table.add_row([
                    t.name,
                    t.scope.to_string(),
                    t.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    t.last_used_at
                        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_else(|| "never".into()),
                ]);
            }
            for column in table.column_iter_mut() {
                column.set_padding((0, 2));
            }
            println!("{}", table.trim_fmt());
        }
        Command::Revoke { name } => {
            let found = store.revoke_token(&name).await?;
            if !found {
                anyhow::bail!("no token named {name:?}");
            }
            say!("token {name:?} revoked");
        }
    }
    Ok(())
}
