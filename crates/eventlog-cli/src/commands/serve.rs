//! `eventlog serve [--bind ADDR]`

use std::net::SocketAddr;

use anyhow::Context as _;

use crate::context::Context;
use crate::voice::say;

/// Options of `eventlog serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (default: `[server] bind` in the configuration, 127.0.0.1:8000).
    #[arg(long)]
    bind: Option<SocketAddr>,
}

/// Serves the admin until Ctrl-C or SIGTERM, then stops accepting, ends live-tail streams
/// and lets open requests finish for up to `[server] shutdown_grace`.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let types = config.event_types()?;
    // The server fails fast while the database is unreachable (`503`), and PostgreSQL
    // cancels statements that would hold a request past its timeout.
    let store = ctx.store_with(config.database.connect_options()).await?;
    if let Some(changed) = ctx.apply_data_keys(store.as_ref()).await? {
        say!("{changed}");
    }
    if !store.has_users().await? {
        say!(
            "No admin user exists yet. Create the first one with:\n\n    eventlog --database-url {} user add admin --role admin\n",
            eventlog::store::redact(&ctx.database_url()?)
        );
    }
    // Installed before anything records, so that every count since the start is kept.
    let metrics = match config.server.metrics_bind {
        Some(bind) => {
            let server = crate::metrics::start(bind, store.clone()).await?;
            say!("eventlog metrics on http://{}/metrics", server.addr);
            Some(server)
        }
        None => None,
    };
    let bind = args.bind.unwrap_or(config.server.bind);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    say!("eventlog admin listening on http://{addr}/ (API under /api/v1)");
    // Several servers may share one database: each applies retention; purges are idempotent.
    let retention = if config.retention.is_enabled() {
        let events: std::sync::Arc<dyn eventlog::store::Store> = store.clone();
        Some(eventlog::retention::spawn(events, config.retention.clone()))
    } else {
        None
    };
    // Upkeep kept off the insert path (SQLite: the search index), for events that arrive
    // through the API or from other processes.
    let maintenance = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(std::time::Duration::from_secs(2));
            loop {
                ticker.tick().await;
                if let Err(e) = store.maintain(50_000).await {
                    tracing::warn!(error = %e, "store maintenance failed");
                }
            }
        })
    };
    let mut state = eventlog_web::AppState::builder(store, types.clone())
        .api_body_limit(config.api.body_limit)
        .limits(config.limits)
        .scan_budget(config.database.scan_budget())
        .server_config(&config.server);
    if let Some(url) = &config.database.read_database_url {
        let options = config.database.connect_options();
        let replica = match eventlog::store::open_replica(url, options).await {
            Ok(replica) => replica,
            Err(e) => {
                let failure = crate::diagnose::cannot_open(url, &e, options).await;
                return Err(anyhow::Error::new(failure).context("the read replica"));
            }
        };
        state = state.read_store(replica);
    }
    // Events posted with `send_mail` get an outbox row in their own transaction; the mail
    // sender (the same one `EventLog` starts) sends it, woken by the API's commits. Without
    // `[mail]` the mail stays queued for another process, and the log says so once.
    let mailer = match config.mail.clone() {
        Some(mail) => {
            let sender = eventlog::mail::MailSender::start(&ctx.database_url()?, mail, types)
                .await
                .context("cannot start the mail sender")?;
            state = state.api_observer(sender.waker());
            Some(sender)
        }
        None => {
            state = state.api_observer(std::sync::Arc::new(
                eventlog::event::UnsentMailWarning::default(),
            ));
            None
        }
    };
    let state = state.build();
    let options = eventlog_web::ServeOptions::from_config(&config.server, &config.api);
    eventlog_web::serve_with(
        listener,
        eventlog_web::app(state),
        shutdown_signal(),
        options,
    )
    .await
    .context("server failed")?;
    maintenance.abort();
    drop(metrics);
    if let Some(task) = retention {
        task.abort();
    }
    if let Some(mailer) = mailer {
        mailer.close().await;
    }
    say!("eventlog: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    say!("eventlog: shutting down");
}
