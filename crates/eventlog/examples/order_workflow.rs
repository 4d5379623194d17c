//! An order workflow: one named group ("Order 1234") continued from several functions and
//! threads, with data attached, as the seed README's second example does.
//!
//! Run with: `cargo run -p eventlog --example order_workflow`
//! (stores into `$EVENTLOG_DATABASE_URL`, default `sqlite://eventlog.db`.)

use std::thread;

use eventlog::{Error, EventGroup, EventLog};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Shipment {
    carrier: &'static str,
    items: Vec<u32>,
}

/// The order's group, found by its name: every function and thread naming it continues it.
fn order_group(log: &EventLog, order: u32) -> Result<EventGroup, Error> {
    Ok(log.group_named(format!("Order {order}"))?)
}

/// Runs `step` on a thread of its own, with its own handle to the log.
fn on_own_thread(
    log: &EventLog,
    step: impl FnOnce(EventLog) -> Result<(), Error> + Send + 'static,
) -> thread::JoinHandle<Result<(), Error>> {
    let log = log.clone();
    thread::spawn(move || step(log))
}

fn purchase(log: &EventLog, order: u32) -> Result<(), Error> {
    let e = order_group(log, order)?;
    e.info("Sent order to Shopify")
        .data(&serde_json::json!({ "items": [1, 2, 3] }))
        .record()?;
    Ok(())
}

fn subscribe_newsletter(log: &EventLog, order: u32) -> Result<(), Error> {
    let e = order_group(log, order)?;
    e.info("User subscribed to newsletter on checkout")
        .data(&serde_json::json!({ "email": "user@example.com" }))
        .record()?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let url =
        std::env::var("EVENTLOG_DATABASE_URL").unwrap_or_else(|_| "sqlite://eventlog.db".into());
    // No async runtime here: the blocking API works from plain threads.
    let log = EventLog::builder(url).open_blocking()?;
    let order = 1234;

    purchase(&log, order)?;
    subscribe_newsletter(&log, order)?;

    // Warehouse and billing run on their own threads and continue the same group by name.
    let warehouse = on_own_thread(&log, move |log| {
        let e = order_group(&log, order)?.initiator("warehouse");
        e.info("Picked and packed")
            .data(&Shipment {
                carrier: "DHL",
                items: vec![1, 2, 3],
            })
            .record()?;
        e.warning("Item 3 back-ordered; shipping partially")
            .record()?;
        Ok(())
    });
    let billing = on_own_thread(&log, move |log| {
        let e = order_group(&log, order)?.initiator("billing");
        e.info("Payment captured")
            .data(&serde_json::json!({ "amount": "42.00", "currency": "EUR" }))
            .record()?;
        Ok(())
    });
    for worker in [warehouse, billing] {
        worker.join().expect("worker thread panicked")?;
    }

    let stats = log.close_blocking()?;
    println!("Order {order}: {} events stored", stats.stored);
    Ok(())
}
