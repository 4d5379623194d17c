//! `eventlog user add|list|remove|passwd`

use std::io::BufRead;

use anyhow::{Context as _, bail};
use eventlog::store::Role;
use eventlog_web::auth::password::hash_password;

use crate::context::Context;

/// Options of `eventlog user`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Admin,
    Viewer,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a user: a viewer unless `--role admin` (password prompted, or read from stdin
    /// with `--password-stdin`).
    Add {
        /// Login name.
        name: String,
        /// admin (read and delete) or viewer (read only).
        #[arg(long, value_enum, default_value = "viewer")]
        role: RoleArg,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and end their sessions.
    Remove {
        /// Login name.
        name: String,
    },
    /// Change a user's password (ends their sessions).
    Passwd {
        /// Login name.
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Reads the password from stdin or prompts for it on the terminal; `command` is the command
/// line to suggest when there is no terminal (`user add NAME`).
fn read_password(from_stdin: bool, command: &str) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    // The prompt reads the terminal, not stdin; without one (a script, a container, cron) the
    // bare OS error ("No such device or address") does not say what to do instead.
    let prompt = |text: &str| {
        rpassword::prompt_password(text).map_err(|e| {
            anyhow::anyhow!(
                "cannot prompt for the password ({e}); without a terminal, pass it on stdin: \
                 `printf '%s\\n' \"$PASSWORD\" | eventlog {command} --password-stdin`"
            )
        })
    };
    let first = prompt("Password: ")?;
    let second = prompt("Repeat password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

/// Runs a user subcommand.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Add {
            name,
            role,
            password_stdin,
        } => {
            if name.trim().is_empty() || name.len() > 100 {
                bail!(
                    "user name {name:?} is invalid: it must be 1 to 100 characters, not only spaces"
                );
            }
            let store = ctx.store().await?;
            let hash = hash_password(&read_password(password_stdin, &format!("user add {name}"))?)?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Viewer => Role::Viewer,
            };
            match store.create_user(&name, &hash, role).await? {
                Some(u) => println!("created user {} ({})", u.name, u.role),
                None => bail!(
                    "user {name:?} already exists; use `eventlog user passwd {name}` to change the password"
                ),
            }
        }
        Command::List { json } => {
            let users = ctx.store().await?.users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let mut table = comfy_table::Table::new();
                table
                    .load_style(comfy_table::presets::NOTHING)
                    .set_header(["NAME", "ROLE", "CREATED"]);
                for u in users {
                    table.add_row([
                        u.name,
                        u.role.to_string(),
                        u.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    ]);
                }
                for column in table.column_iter_mut() {
                    column.set_padding((0, 2));
                }
                println!("{}", table.trim_fmt());
            }
        }
        Command::Remove { name } => {
            if !ctx.store().await?.remove_user(&name).await? {
                bail!("no user named {name:?}");
            }
            println!("removed user {name}");
        }
        Command::Passwd {
            name,
            password_stdin,
        } => {
            let store = ctx.store().await?;
            if store.user_by_name(&name).await?.is_none() {
                bail!("no user named {name:?}");
            }
            let hash = hash_password(&read_password(
                password_stdin,
                &format!("user passwd {name}"),
            )?)?;
            if !store.set_password(&name, &hash).await? {
                bail!("no user named {name:?}");
            }
            println!("password of {name} changed; their sessions were ended");
        }
    }
    Ok(())
}
