//! `eventlog log TYPE MESSAGE`

use anyhow::Context as _;
use eventlog::{EventLog, GroupId};

use crate::context::Context;

/// Options of `eventlog log`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Event type name (see `eventlog types`).
    #[arg(value_name = "TYPE")]
    event_type: String,
    /// What happened.
    message: String,
    /// Group to continue (a name or an id printed by an earlier call); default: a new group.
    #[arg(long)]
    group: Option<String>,
    /// Who or what caused the event (at most 500 characters).
    #[arg(long)]
    initiator: Option<String>,
    /// Structured details, as JSON.
    #[arg(long, value_name = "JSON")]
    data: Option<String>,
    /// Mail this event to ADDR.
    #[arg(long, value_name = "ADDR")]
    send_mail: Option<String>,
}

/// Records one event, waits until it is stored, and prints its group id on stdout (nothing
/// else), so a shell script can continue the group.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let config = ctx.config()?;
    // Check everything before touching the database.
    let group = match args.group {
        Some(name) => GroupId::named(name)?,
        None => GroupId::random(),
    };
    config.event_types()?.require(&args.event_type)?;
    if let Some(initiator) = &args.initiator {
        eventlog::event::validate_initiator(initiator)?;
    }
    if let Some(to) = &args.send_mail {
        eventlog::event::validate_mail_recipient(to)?;
        // Refused rather than queued: this command is the one place where the person asking
        // for the mail is right there to fix the configuration.
        if config.mail.is_none() {
            anyhow::bail!(
                "--send-mail needs a [mail] section in the configuration file (its \
                 `url = \"smtp://host:port\"` is enough; `from` defaults to \
                 eventlog@localhost) or EVENTLOG_MAIL__URL; none is configured, so no mail \
                 would be sent"
            );
        }
    }
    let data: Option<serde_json::Value> = args
        .data
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .context("--data is not valid JSON")?;
    let url = ctx.database_url()?;
    let log = match EventLog::builder(url.as_str())
        .config(&config)?
        .open()
        .await
    {
        Ok(log) => log,
        Err(eventlog::Error::Connect { source }) => {
            let options = config.database.connect_options();
            return Err(crate::diagnose::cannot_open(&url, &source, options)
                .await
                .into());
        }
        Err(e) => return Err(e.into()),
    };
    let group = log.group_with_id(group);
    let mut event = group.event(&args.event_type, args.message);
    if let Some(initiator) = args.initiator {
        event = event.initiator(initiator);
    }
    if let Some(data) = &data {
        event = event.data(data);
    }
    if let Some(to) = args.send_mail {
        event = event.send_mail(to);
    }
    event.await?;
    let stats = log.close().await?;
    if stats.failed > 0 {
        anyhow::bail!("the event could not be stored (see the log above)");
    }
    println!("{}", group.id());
    Ok(())
}
