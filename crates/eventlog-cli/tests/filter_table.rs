//! One filter language: the same inputs given to the admin (list page and export, over a
//! socket), the API (`GET /api/v1/events`) and the real `eventlog` binary (`export`, `tail`)
//! select the same events, and the same bad inputs are refused by all three, naming the key.
//! On SQLite and PostgreSQL.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use support::eventlog_plain as eventlog;

use chrono::{DateTime, Utc};
use eventlog::store::{self, Backend, EventFilter, Order};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::api::ApiClient;
use serde_json::{Value, json};

eventlog_testing::on_both_backends!(admin_api_and_cli_select_the_same_events);

/// Filter inputs as key/value pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn seed(store: &dyn Backend) {
    let mut events = Vec::new();
    for (msg, ty, group, ts, initiator, data) in [
        (
            "m1",
            "info",
            "Order 1",
            "2026-01-30T10:00:00Z",
            Some("cron"),
            Some(json!({"customer": {"email": "a@b.c"}})),
        ),
        ("m2", "error", "Order 1", "2026-01-31T11:59:00Z", None, None),
        (
            "m3",
            "critical",
            "Order 2",
            "2026-01-31T12:00:00Z",
            Some("user:42"),
            None,
        ),
        (
            "m4",
            "warning",
            "Order 2",
            "2026-02-01T00:00:00Z",
            None,
            None,
        ),
        (
            "m5",
            "error",
            "Order 3",
            "2026-02-01T23:59:59Z",
            None,
            Some(json!({"customer": {"email": "x@y.z"}})),
        ),
        (
            "m6 Mail sent",
            "info",
            "Order 3",
            "2026-02-02T00:00:00Z",
            None,
            None,
        ),
        // A type no longer configured: its events stay selectable.
        (
            "m7",
            "legacy_type",
            "Old",
            "2026-01-15T00:00:00Z",
            None,
            None,
        ),
    ] {
        let mut e = NewEvent::new(ty, GroupId::named(group).unwrap(), msg);
        e.timestamp = at(ts);
        e.initiator = initiator.map(str::to_owned);
        e.data = data;
        events.push(e);
    }
    store.insert_batch(&events).await.unwrap();
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The same filter as `eventlog` options.
fn cli_args(pairs: &[(&str, &str)]) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in pairs {
        match *k {
            // `--key=value`: a value may begin with `-`.
            "q" => args.push(format!("--query={v}")),
            k if k.starts_with("data.") => args.push(format!("--data={}={v}", &k[5..])),
            k => args.push(format!("--{k}={v}")),
        }
    }
    args
}

fn messages_of_jsonl(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["message"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn admin_api_and_cli_select_the_same_events(url: &str) {
    let store = store::open(url).await.unwrap();
    seed(store.as_ref()).await;
    let by_id: BTreeMap<i64, String> = store
        .list(&EventFilter::default(), Order::Asc, None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.id, e.message))
        .collect();
    let token = store
        .create_token("table", eventlog::store::TokenScope::All)
        .await
        .unwrap();
    let addr = support::serve_to_viewers(store.clone()).await;
    // The admin pages and the API of one server (the pages ignore the token).
    let server = ApiClient::new(reqwest::Client::new(), format!("http://{addr}"), token);

    let all = ["m1", "m2", "m3", "m4", "m5", "m6 Mail sent", "m7"];
    let cases: &[(Pairs, &[&str])] = &[
        (&[], &all),
        // A date alone as `until` includes that whole day.
        (
            &[("until", "2026-02-01")],
            &["m1", "m2", "m3", "m4", "m5", "m7"],
        ),
        (&[("until", "2026-01-31T12:00")], &["m1", "m2", "m7"]),
        // Comma-separated types.
        (&[("type", "error,critical")], &["m2", "m3", "m5"]),
        (
            &[("type", "error"), ("type", "critical")],
            &["m2", "m3", "m5"],
        ),
        // HH:MM times, with `T` or a space.
        (
            &[("since", "2026-01-31T12:00")],
            &["m3", "m4", "m5", "m6 Mail sent"],
        ),
        (
            &[("since", "2026-01-31 12:00"), ("until", "2026-02-01T00:01")],
            &["m3", "m4"],
        ),
        (
            &[("since", "2026-02-01T00:00:00+01:00")],
            &["m4", "m5", "m6 Mail sent"],
        ),
        (&[("group", "Order 2")], &["m3", "m4"]),
        (&[("initiator", "user:42")], &["m3"]),
        (&[("data.customer.email", "a@b.c")], &["m1"]),
        (&[("q", "MAIL")], &["m6 Mail sent"]),
        (&[("q", "order 3"), ("type", "info")], &["m6 Mail sent"]),
        (&[("type", "legacy_type")], &["m7"]),
    ];
    for (pairs, want) in cases {
        let want: BTreeSet<String> = want.iter().map(|m| (*m).to_owned()).collect();
        let qs = query_string(pairs);

        let (status, page) = server.get_text(&format!("/events?{qs}")).await;
        assert_eq!(status, 200, "admin {qs}: {page}");
        let admin: BTreeSet<String> = page
            .split("data-id=\"")
            .skip(1)
            .map(|s| by_id[&s.split('"').next().unwrap().parse::<i64>().unwrap()].clone())
            .collect();
        assert_eq!(admin, want, "admin list, {qs}");

        let (status, body) = server
            .get_text(&format!("/events/export?format=jsonl&{qs}"))
            .await;
        assert_eq!(status, 200, "admin export {qs}: {body}");
        assert_eq!(messages_of_jsonl(&body), want, "admin export, {qs}");

        let (status, body) = server.get_text(&format!("/api/v1/events?{qs}")).await;
        assert_eq!(status, 200, "API {qs}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let api: BTreeSet<String> = eventlog_testing::api::messages(&body)
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(api, want, "API, {qs}");

        let mut args = vec!["export".to_owned(), "--format".into(), "jsonl".into()];
        args.extend(cli_args(pairs));
        let out = eventlog(url, &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            messages_of_jsonl(&String::from_utf8(out.stdout).unwrap()),
            want,
            "eventlog {args:?}"
        );
    }

    // The same bad inputs are refused everywhere, naming the key, the value and the rule.
    for (pairs, says) in [
        (&[("type", "nope")][..], "unknown type"),
        (&[("type", "info,nope")][..], "unknown type"),
        (
            &[("until", "-262143-01-01")][..],
            "the year must be from 0001 to 9999",
        ),
        (&[("since", "yesterday")][..], "not a time"),
        (&[("group", "a\0b")][..], "NUL"),
        (&[("data.a\\b", "1")][..], "data path key"),
    ] {
        let qs = query_string(pairs);
        let (key, value) = pairs[0];
        let quoted_value = if value.contains("nope") {
            "nope"
        } else {
            value
        };
        for route in [
            "/events",
            "/events/export?format=csv&",
            "/groups",
            "/api/v1/events",
        ] {
            let sep = if route.ends_with('&') { "" } else { "?" };
            let (status, body) = server.get_text(&format!("{route}{sep}{qs}")).await;
            assert_eq!(status, 400, "{route} {qs}: {body}");
            assert!(body.contains(says), "{route} {qs}: {body}");
            if !value.contains('\0') && !key.contains('\\') {
                let shown = body.replace("&#34;", "\"").replace("\\\"", "\"");
                assert!(
                    shown.contains(&format!("{key}=\"{quoted_value}")),
                    "{route} {qs}: {shown}"
                );
            }
        }
        if value.contains('\0') {
            // An argument cannot carry NUL: no process can be given this input.
            continue;
        }
        for command in ["tail", "export"] {
            let mut args = vec![command.to_owned()];
            args.extend(cli_args(pairs));
            let out = eventlog(url, &args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded");
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            let option = if key.starts_with("data.") {
                "--data".to_owned()
            } else {
                format!("--{key}")
            };
            assert!(stderr.contains(&option), "{args:?}: {stderr}");
            assert!(!stderr.contains("query parameter"), "{args:?}: {stderr}");
        }
    }
}
