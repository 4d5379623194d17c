//! The seed README's first example: a mailer that logs what it does, as one event group.
//!
//! Run with: `cargo run -p eventlog --example mailer`
//! (stores into `$EVENTLOG_DATABASE_URL`, default `sqlite://eventlog.db`; then
//! `eventlog serve` shows the run.)

use eventlog::EventLog;
use serde_json::json;

#[derive(Debug)]
struct MailServerQuit;

fn send_mails(count: usize) -> Result<usize, MailServerQuit> {
    // Stands in for real SMTP work: the 13th run of the example fails, like real life.
    if count % 13 == 0 {
        return Err(MailServerQuit);
    }
    Ok(count)
}

#[tokio::main]
async fn main() -> Result<(), eventlog::Error> {
    let url =
        std::env::var("EVENTLOG_DATABASE_URL").unwrap_or_else(|_| "sqlite://eventlog.db".into());
    let log = EventLog::open(&url).await?;

    let e = log.group(); // start a new event group
    e.info("About to send 1000 mails.")
        .initiator("Mailer Daemon")
        .await?;
    match send_mails(1000) {
        Ok(sent) => {
            e.info("All emails sent!")
                .initiator("Mailer Daemon")
                .data(&json!({ "sent": sent }))
                .await?
        }
        Err(err) => {
            e.error("There was an error sending the emails.")
                .initiator("Mailer Daemon")
                .data(&format!("{err:?}"))
                .await?
        }
    };

    let stats = log.close().await?;
    println!("group {} — {} events stored", e.id(), stats.stored);
    Ok(())
}
