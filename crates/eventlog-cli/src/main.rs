//! `eventlog`: record, browse and maintain an event log from the command line.

mod commands;
mod context;
mod diagnose;
mod metrics;
mod voice;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc, with background threads: after a burst of large request bodies the freed memory
/// goes back to the system within about `dirty_decay_ms` (10 s) even when no further request
/// comes. glibc's malloc keeps such memory in its per-thread arenas until the process
/// allocates again, so an idle server stayed at its peak.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// An event log for applications: record business-level events, browse them in a web admin.
#[derive(Debug, Parser)]
#[command(name = "eventlog", version, about)]
pub struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB. Without it:
    /// `database_url` in the configuration file, else sqlite://eventlog.db.
    #[arg(long, global = true, env = "EVENTLOG_DATABASE_URL")]
    database_url: Option<String>,

    /// Configuration file (event types, mail, retention, bind address).
    #[arg(
        long,
        global = true,
        env = "EVENTLOG_CONFIG",
        default_value = "eventlog.toml"
    )]
    config: PathBuf,

    /// Log format on stderr: `text` (colour only on a terminal) or `json` (one object per
    /// line, for log collectors). The level comes from `EVENTLOG_LOG` (default `warn`;
    /// `info` shows one line per HTTP request).
    #[arg(long, global = true, env = "EVENTLOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record an event; prints its group id.
    Log(commands::log::Args),
    /// Apply pending database migrations.
    Migrate(commands::migrate::Args),
    /// List the configured event types, least severe first.
    Types(commands::types::Args),
    /// Serve the admin web UI.
    Serve(commands::serve::Args),
    /// Manage admin users.
    User(commands::user::Args),
    /// Manage API tokens for /api/v1: add (prints the token once), list, revoke.
    Token(commands::token::Args),
    /// Print the latest events; with -f, keep printing new ones.
    Tail(commands::tail::Args),
    /// Export events as CSV or JSON Lines (streamed; progress bar on a terminal).
    Export(commands::export::Args),
    /// Import a JSON Lines export or, with --from-django, a django-eventlog database
    /// (idempotent: already stored events are skipped).
    Import(commands::import::Args),
    /// Look for damage in the database (SQLite: its integrity check and the search indexes');
    /// exits non-zero when something is wrong.
    Check(commands::check::Args),
    /// Delete events older than a given age.
    Purge(commands::purge::Args),
    /// PostgreSQL: partition the events table by time (moving the rows in batches while
    /// servers keep running), or set the interval of new partitions.
    Partition(commands::partition::Args),
    /// The e-mail outbox: `mail status` shows what is queued, sent, retried, given up.
    Mail(commands::mail::Args),
    /// Record a sample history to try the admin with: two weeks of a shop's events, about
    /// 5,000 (running it again stores nothing new).
    Demo(commands::demo::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    voice::init(cli.log_format);
    let ctx = context::Context::new(cli.database_url, cli.config);
    let result = match cli.command {
        Command::Log(args) => commands::log::run(&ctx, args).await,
        Command::Migrate(args) => commands::migrate::run(&ctx, args).await,
        Command::Types(args) => commands::types::run(&ctx, args).await,
        Command::Serve(args) => commands::serve::run(&ctx, args).await,
        Command::User(args) => commands::user::run(&ctx, args).await,
        Command::Token(args) => commands::token::run(&ctx, args).await,
        Command::Tail(args) => commands::tail::run(&ctx, args).await,
        Command::Export(args) => commands::export::run(&ctx, args).await,
        Command::Import(args) => commands::import::run(&ctx, args).await,
        Command::Purge(args) => commands::purge::run(&ctx, args).await,
        Command::Check(args) => commands::check::run(&ctx, args).await,
        Command::Partition(args) => commands::partition::run(&ctx, args).await,
        Command::Mail(args) => commands::mail::run(&ctx, args).await,
        Command::Demo(args) => commands::demo::run(&ctx, args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            voice::fail(&e);
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("EVENTLOG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        // Colour codes only where a terminal shows them, never in a redirected file;
        // `NO_COLOR` turns them off on a terminal too.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
}
