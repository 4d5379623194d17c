//! The Slack and Teams payloads against their documented formats, through a real receiver on
//! loopback, on both backends.
#![cfg(feature = "notify")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use eventlog::notify::ChannelKind;
use eventlog_testing::webhook::Receiver;
use serde_json::Value;

use crate::notify::{channel, config, record, settled, start};

/// Fails unless every property of `object` is one of `allowed` (a documented schema's
/// `additionalProperties: false`).
fn only_keys(object: &Value, allowed: &[&str]) {
    let keys = object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"));
    for key in keys.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{key:?} is not allowed in {object}"
        );
    }
}

/// Slack: `text`, and an attachment with a `#rrggbb` colour whose blocks are `section` and
/// `context` blocks of `mrkdwn` text objects (Slack's documented Block Kit layout), with
/// Slack's control characters escaped. Teams: a `message` with one Adaptive Card attachment
/// (content type, schema, version, TextBlock/FactSet body, Action.OpenUrl to the timeline).
async fn slack_and_teams_get_their_own_formats(url: &str) {
    let receiver = Receiver::start().await;
    let channels = vec![
        channel("chat", ChannelKind::Slack, receiver.url("/slack")),
        channel("teams", ChannelKind::Teams, receiver.url("/teams")),
    ];
    let (store, sender) = start(url, config(channels)).await;
    record(&store, &[("critical", "db-1", "Primary <down> & out")]).await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    settled(&store, Duration::from_secs(10)).await;
    sender.close().await;
    let slack = got.iter().find(|r| r.path == "/slack").unwrap().json();
    let teams = got.iter().find(|r| r.path == "/teams").unwrap().json();

    assert_eq!(slack["text"], "Critical: Primary <down> & out");
    let attachment = &slack["attachments"][0];
    assert_eq!(
        attachment["color"], "#c40000",
        "critical's background colour"
    );
    only_keys(attachment, &["color", "fallback", "blocks"]);
    let blocks = attachment["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50, "Slack's limit of blocks per message");
    for block in blocks {
        let kind = block["type"].as_str().unwrap();
        assert!(matches!(kind, "section" | "context"), "{block}");
        match kind {
            "section" => only_keys(block, &["type", "text"]),
            _ => {
                only_keys(block, &["type", "elements"]);
                assert!(
                    block["elements"].as_array().unwrap().len() <= 10,
                    "Slack's limit"
                );
            }
        }
        let texts: Vec<&Value> = match kind {
            "section" => vec![&block["text"]],
            _ => block["elements"].as_array().unwrap().iter().collect(),
        };
        for t in texts {
            only_keys(t, &["type", "text"]);
            assert_eq!(t["type"], "mrkdwn", "{block}");
            assert!(
                t["text"].as_str().unwrap().len() <= 3000,
                "Slack's text limit"
            );
        }
    }
    let all = serde_json::to_string(blocks).unwrap();
    assert!(all.contains("Primary &lt;down&gt; &amp; out"), "{all}");
    assert!(all.contains("Initiator: cron &lt;nightly&gt;"), "{all}");
    assert!(
        all.contains("<https://log.example.com/events?group=db-1|db-1>"),
        "{all}"
    );

    // The Adaptive Card 1.4 schema (adaptivecards.io/schemas/1.4.0/adaptive-card.json) for
    // the parts used here: each object admits only its listed properties, colours, sizes and
    // weights are its named values, a fact is two strings.
    assert_eq!(teams["type"], "message");
    only_keys(&teams, &["type", "attachments"]);
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &card["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(
        content["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(content["version"], "1.4");
    only_keys(content, &["$schema", "type", "version", "body", "actions"]);
    let body = content["body"].as_array().unwrap();
    for element in body {
        match element["type"].as_str().unwrap() {
            "TextBlock" => {
                only_keys(
                    element,
                    &["type", "text", "color", "size", "weight", "wrap"],
                );
                assert!(element["text"].is_string());
                let named = |key: &str, names: &[&str]| {
                    element.get(key).is_none_or(|v| {
                        names.contains(&v.as_str().unwrap().to_lowercase().as_str())
                    })
                };
                assert!(
                    named(
                        "color",
                        &[
                            "default",
                            "dark",
                            "light",
                            "accent",
                            "good",
                            "warning",
                            "attention"
                        ]
                    ),
                    "{element}"
                );
                assert!(
                    named(
                        "size",
                        &["default", "small", "medium", "large", "extralarge"]
                    ),
                    "{element}"
                );
                assert!(
                    named("weight", &["default", "lighter", "bolder"]),
                    "{element}"
                );
            }
            "FactSet" => {
                only_keys(element, &["type", "facts"]);
                for fact in element["facts"].as_array().unwrap() {
                    only_keys(fact, &["title", "value"]);
                    assert!(
                        fact["title"].is_string() && fact["value"].is_string(),
                        "{fact}"
                    );
                }
            }
            other => panic!("element {other} is not used by eventlog"),
        }
    }
    for action in content["actions"].as_array().unwrap() {
        only_keys(action, &["type", "title", "url"]);
    }
    assert_eq!(body[0]["type"], "TextBlock");
    assert_eq!(body[0]["color"], "Attention");
    assert_eq!(body[0]["text"], "Critical: Primary <down> & out");
    let facts = &body.last().unwrap()["facts"];
    assert_eq!(
        facts[0],
        serde_json::json!({"title": "Initiator", "value": "cron <nightly>"})
    );
    assert_eq!(
        facts[1],
        serde_json::json!({"title": "Group", "value": "db-1"})
    );
    assert_eq!(content["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        content["actions"][0]["url"],
        "https://log.example.com/events?group=db-1"
    );
}

eventlog_testing::on_both_backends!(slack_and_teams_get_their_own_formats);
