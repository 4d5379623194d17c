//! The stories the sample history is made of, one function each.

use serde_json::json;

use super::history::{At, DAY, DAYS, HOUR, History, MINUTE, SECOND, named};

/// 40–80 orders a day, each a named group from checkout to delivery: seconds, minutes,
/// hours and days between its steps; some declined, some back-ordered.
pub(super) fn orders(h: &mut History, day: i64) {
    const COUNTRIES: [&str; 6] = ["DE", "FR", "NL", "US", "GB", "SE"];
    const CARRIERS: [&str; 3] = ["DHL", "UPS", "PostNL"];
    let count = h.rng.range(40, 80);
    for n in 0..count {
        let order = 10_400 + day * 100 + n;
        let group = named(format!("Order {order}"));
        let customer = h.rng.range(1_000, 9_999);
        let items = h.rng.range(1, 4);
        let total = h.rng.range(900, 25_000) as f64 / 100.0;
        let mut t = day * DAY + h.rng.range(6 * HOUR, 23 * HOUR);
        let user = format!("user:{customer}");
        let country = h.rng.pick(&COUNTRIES);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: format!("Order placed: {items} items, {total:.2} EUR"),
            initiator: &user,
            data: Some(json!({
                "customer": {"id": customer, "country": country},
                "items": (1..=items).map(|i| format!("SKU-{}", 100 + (order + i) % 40)).collect::<Vec<_>>(),
                "total": total,
            })),
        });
        t += h.rng.range(2 * SECOND, 40 * SECOND);
        if h.rng.chance(5) {
            h.add(At {
                group: &group,
                offset: t,
                event_type: "error",
                message: "Payment declined by the card issuer".into(),
                initiator: "stripe-webhook",
                data: Some(json!({"code": "card_declined", "amount": total})),
            });
            continue;
        }
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: format!("Payment captured ({total:.2} EUR)"),
            initiator: "stripe-webhook",
            data: Some(json!({"amount": total, "currency": "EUR"})),
        });
        t += h.rng.range(MINUTE, 15 * MINUTE);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: "Sent order to Shopify".into(),
            initiator: "worker:orders",
            data: Some(json!({"shopify_id": 5_000_000 + order})),
        });
        if h.rng.chance(8) {
            t += h.rng.range(10 * SECOND, 50 * MINUTE);
            h.add(At {
                group: &group,
                offset: t,
                event_type: "warning",
                message: format!("Item SKU-{} back-ordered", 100 + order % 40),
                initiator: "worker:orders",
                data: Some(json!({"sku": format!("SKU-{}", 100 + order % 40), "days": 3})),
            });
            t += DAY;
        }
        t += h.rng.range(2 * HOUR, 20 * HOUR);
        let carrier = h.rng.pick(&CARRIERS);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: format!("Shipped with {carrier}"),
            initiator: "warehouse",
            data: Some(json!({"carrier": carrier, "tracking": format!("{carrier}{order}0042")})),
        });
        t += h.rng.range(DAY, 3 * DAY);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: "Delivered".into(),
            initiator: "warehouse",
            data: None,
        });
    }
}

/// Four newsletter runs a day, a random group each: batches seconds apart; now and then
/// the mail server quits.
pub(super) fn mailer(h: &mut History, day: i64) {
    for run in 0..4 {
        let group = h.random_group();
        let mails = h.rng.range(2, 12) * 100;
        let mut t = day * DAY + run * 6 * HOUR + h.rng.range(0, 30 * MINUTE);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: format!("About to send {mails} mails."),
            initiator: "Mailer Daemon",
            data: Some(json!({"campaign": format!("weekly-{}", day / 7 + 48), "mails": mails})),
        });
        let batches = mails / 100;
        let quits = h.rng.chance(10);
        for batch in 1..=batches {
            t += h.rng.range(3 * SECOND, 25 * SECOND);
            if quits && batch == batches / 2 + 1 {
                h.add(At {
                    group: &group,
                    offset: t,
                    event_type: "error",
                    message: "Mail server quit: 421 Service not available".into(),
                    initiator: "Mailer Daemon",
                    data: Some(json!({"smtp": {"code": 421, "host": "smtp.example.com"}, "sent": (batch - 1) * 100})),
                });
                break;
            }
            h.add(At {
                group: &group,
                offset: t,
                event_type: "info",
                message: format!("Sent batch {batch} of {batches}"),
                initiator: "Mailer Daemon",
                data: None,
            });
        }
        if !quits {
            h.add(At {
                group: &group,
                offset: t + SECOND,
                event_type: "info",
                message: "All emails sent!".into(),
                initiator: "Mailer Daemon",
                data: Some(json!({"sent": mails})),
            });
        }
    }
}

/// The nightly import: minutes between steps; skipped rows some nights, an abort once.
pub(super) fn nightly_import(h: &mut History, day: i64) {
    let mut t = day * DAY + 2 * HOUR + h.rng.range(0, 5 * MINUTE);
    let group = named(format!("Nightly import {}", h.date(t)));
    let rows = h.rng.range(8_000, 15_000);
    let source = format!("s3://exports/day-{}.csv", h.date(t));
    h.add(At {
        group: &group,
        offset: t,
        event_type: "info",
        message: "Nightly import started".into(),
        initiator: "cron:import",
        data: Some(json!({"source": source})),
    });
    t += h.rng.range(2 * MINUTE, 9 * MINUTE);
    h.add(At {
        group: &group,
        offset: t,
        event_type: "info",
        message: format!("Read {rows} rows"),
        initiator: "cron:import",
        data: Some(json!({"rows": rows})),
    });
    if day % 4 == 2 {
        let skipped = h.rng.range(10, 500);
        let first = h.rng.range(2, 900);
        t += h.rng.range(MINUTE, 4 * MINUTE);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "warning",
            message: format!("{skipped} rows skipped: missing customer id"),
            initiator: "cron:import",
            data: Some(json!({"skipped": skipped, "first": format!("row {first}")})),
        });
    }
    t += h.rng.range(10 * MINUTE, 40 * MINUTE);
    if day == 9 {
        h.add(At {
            group: &group,
            offset: t,
            event_type: "error",
            message: "Import aborted: database quota exceeded".into(),
            initiator: "cron:import",
            data: Some(json!({"quota_gb": 50})),
        });
    } else {
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: "Import finished".into(),
            initiator: "cron:import",
            data: Some(json!({"stored": rows})),
        });
    }
}

/// The nightly backup: hours between writing the archive and the end of the upload.
pub(super) fn backup(h: &mut History, day: i64) {
    let group = h.random_group();
    let mut t = day * DAY + 3 * HOUR + h.rng.range(0, 10 * MINUTE);
    let bytes = h.rng.range(40, 90) * 1_073_741_824 / 10;
    h.add(At {
        group: &group,
        offset: t,
        event_type: "info",
        message: "Backup started".into(),
        initiator: "cron:backup",
        data: None,
    });
    t += h.rng.range(20 * MINUTE, 50 * MINUTE);
    h.add(At {
        group: &group,
        offset: t,
        event_type: "info",
        message: "Archive written".into(),
        initiator: "cron:backup",
        data: Some(json!({"bytes": bytes})),
    });
    t += h.rng.range(HOUR, 3 * HOUR);
    let failed = day == 5;
    h.add(At {
        group: &group,
        offset: t,
        event_type: if failed { "error" } else { "info" },
        message: if failed {
            "Upload failed: connection reset by peer".into()
        } else {
            "Upload finished".into()
        },
        initiator: "cron:backup",
        data: Some(json!({"target": "s3://backups/", "bytes": bytes})),
    });
}

/// A deploy every third day: steps seconds apart, one rolled back.
pub(super) fn deploy(h: &mut History, day: i64) {
    let version = format!("v1.{}.0", 20 + day / 3);
    let group = named(format!("Deploy {version}"));
    let mut t = day * DAY + 14 * HOUR + h.rng.range(0, 2 * HOUR);
    let steps = [
        "Build started",
        "Tests passed",
        "Image pushed",
        "Rolled out to 3 of 3 hosts",
    ];
    for step in steps {
        let commit = h.rng.next() & 0xfff_ffff;
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: step.into(),
            initiator: "ci:github-actions",
            data: Some(json!({"version": version, "commit": format!("{commit:07x}")})),
        });
        t += h.rng.range(20 * SECOND, 4 * MINUTE);
    }
    if day == 7 {
        h.add(At {
            group: &group,
            offset: t,
            event_type: "warning",
            message: "Error rate above 2 %: rolled back".into(),
            initiator: "ci:github-actions",
            data: Some(json!({"error_rate": 0.027})),
        });
    }
}

/// A long-running group: a catalogue reindex that has been going for nine days and is not
/// finished, a progress event every few hours.
pub(super) fn reindex(h: &mut History) {
    let group = named("Reindex search catalogue".into());
    let mut t = 5 * DAY + 9 * HOUR;
    h.add(At {
        group: &group,
        offset: t,
        event_type: "info",
        message: "Reindex started: 12,400,000 documents".into(),
        initiator: "job:reindex",
        data: Some(json!({"documents": 12_400_000, "shards": 8})),
    });
    let mut percent = 0;
    while t < DAYS * DAY - 2 * HOUR {
        t += h.rng.range(3 * HOUR, 7 * HOUR);
        percent += h.rng.range(2, 4);
        let stalled = h.rng.chance(6);
        let shard = h.rng.range(1, 8);
        h.add(At {
            group: &group,
            offset: t,
            event_type: if stalled { "warning" } else { "info" },
            message: if stalled {
                format!("Shard {shard} slow: retrying")
            } else {
                format!("Reindexed {percent} %")
            },
            initiator: "job:reindex",
            data: Some(json!({"percent": percent})),
        });
    }
}

/// Three incidents: a critical alert, errors a minute apart, then recovery.
pub(super) fn incidents(h: &mut History) {
    for (day, provider) in [(3, "acme-pay"), (8, "acme-pay"), (12, "mailgun")] {
        let mut t = day * DAY + h.rng.range(8 * HOUR, 20 * HOUR);
        let group = named(format!("Incident {}", h.date(t)));
        h.add(At {
            group: &group,
            offset: t,
            event_type: "critical",
            message: format!("{provider} unreachable"),
            initiator: "monitor",
            data: Some(json!({"provider": provider, "checks_failed": 3})),
        });
        for check in 4..h.rng.range(6, 14) {
            t += MINUTE;
            h.add(At {
                group: &group,
                offset: t,
                event_type: "error",
                message: format!("Health check of {provider} failed"),
                initiator: "monitor",
                data: Some(json!({"provider": provider, "checks_failed": check, "status": 503})),
            });
        }
        t += h.rng.range(MINUTE, 3 * MINUTE);
        h.add(At {
            group: &group,
            offset: t,
            event_type: "info",
            message: format!("{provider} recovered"),
            initiator: "monitor",
            data: Some(json!({"provider": provider})),
        });
    }
}

/// A group whose events share one instant: a batch validated at once.
pub(super) fn one_instant(h: &mut History) {
    let group = named("Price list validation".into());
    let t = (DAYS - 2) * DAY + 11 * HOUR;
    for (event_type, message) in [
        ("info", "Price list uploaded"),
        ("warning", "3 prices below cost"),
        ("warning", "SKU-117 has no price"),
        ("info", "Price list accepted with warnings"),
    ] {
        h.add(At {
            group: &group,
            offset: t,
            event_type,
            message: message.into(),
            initiator: "user:1042",
            data: None,
        });
    }
}
