//! Unit tests of `export`.

use super::*;
use serde_json::json;

fn event(id: i64, data: Option<serde_json::Value>) -> Event {
    Event {
        id,
        uuid: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 + id as u128),
        event_type: "info".into(),
        group: "Order, \"1\"".into(),
        timestamp: DateTime::from_timestamp_micros(1_700_000_000_000_001 + id).unwrap(),
        message: "line one\nline two, with comma".into(),
        data,
        initiator: Some("user:42".into()),
        send_mail: None,
    }
}

fn export(format: ExportFormat, events: &[Event]) -> Vec<u8> {
    let mut w = ExportWriter::new(Vec::new(), format).unwrap();
    for e in events {
        w.write_event(e).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn formats_parse_by_name() {
    assert_eq!("csv".parse::<ExportFormat>().unwrap(), ExportFormat::Csv);
    assert_eq!(
        "JSONL".parse::<ExportFormat>().unwrap(),
        ExportFormat::Jsonl
    );
    let err = "xml".parse::<ExportFormat>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown export format \"xml\": expected \"csv\" or \"jsonl\""
    );
}

#[test]
fn csv_has_a_header_and_quotes_what_needs_it() {
    let empty = export(ExportFormat::Csv, &[]);
    assert_eq!(
        String::from_utf8(empty).unwrap(),
        "uuid,type,group,timestamp,message,initiator,data,send_mail\n"
    );
    let text = String::from_utf8(export(
        ExportFormat::Csv,
        &[event(1, Some(json!({"a": [1, "x"]})))],
    ))
    .unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[1], "info");
    assert_eq!(&row[2], "Order, \"1\"");
    assert_eq!(&row[3], "2023-11-14T22:13:20.000002Z");
    assert_eq!(&row[4], "line one\nline two, with comma");
    assert_eq!(&row[6], r#"{"a":[1,"x"]}"#);
    assert_eq!(&row[7], "");
}

#[test]
fn csv_cells_cannot_run_as_formulas() {
    for (cell, want) in [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
    ] {
        assert_eq!(csv_cell(cell), want, "{cell:?}");
    }
    let mut e = event(1, Some(json!(-5)));
    e.message = "=HYPERLINK(\"http://x\")".into();
    e.initiator = Some("@evil".into());
    let text = String::from_utf8(export(ExportFormat::Csv, &[e.clone()])).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[4], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&row[5], "'@evil");
    assert_eq!(&row[6], "'-5");
    // JSON Lines keeps the stored bytes.
    let jsonl = String::from_utf8(export(ExportFormat::Jsonl, &[e])).unwrap();
    assert!(
        jsonl.contains(r#""message":"=HYPERLINK(\"http://x\")""#),
        "{jsonl}"
    );
    assert!(jsonl.contains(r#""data":-5"#), "{jsonl}");
}

#[test]
fn jsonl_round_trips_exactly() {
    let events = [
        event(1, Some(json!({"email": "a@b.c", "n": 1.5, "ok": true}))),
        event(7, None),
    ];
    let bytes = export(ExportFormat::Jsonl, &events);
    let first = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        first.starts_with(r#"{"uuid":"01930000-0000-7000-8000-000000000001","type":"info","group":"Order, \"1\"","timestamp":"2023-11-14T22:13:20.000002Z","#),
        "{first}"
    );
    assert!(!first.contains("\"id\""), "store ids are not exported");
    let back: Vec<NewEvent> = read_jsonl(&bytes[..]).map(|r| r.unwrap()).collect();
    let again: Vec<Event> = back
        .into_iter()
        .enumerate()
        .map(|(i, n)| Event {
            id: 100 + i as i64,
            uuid: n.uuid,
            event_type: n.event_type,
            group: n.group.to_string(),
            timestamp: n.timestamp,
            message: n.message,
            data: n.data,
            initiator: n.initiator,
            send_mail: n.send_mail,
        })
        .collect();
    assert_eq!(export(ExportFormat::Jsonl, &again), bytes);
}

#[test]
fn import_errors_name_the_line_and_the_rule() {
    let good = String::from_utf8(export(ExportFormat::Jsonl, &[event(1, None)])).unwrap();
    let long_group = good.replace("Order, \\\"1\\\"", &"g".repeat(41));
    let input = format!(
        "{good}\n{}\nnot json\n{}",
        long_group.trim(),
        good.replace("2023-11-14T22:13:20.000002Z", "yesterday")
    );
    let results: Vec<_> = read_jsonl(input.as_bytes()).collect();
    assert_eq!(results.len(), 4, "the blank line is skipped");
    assert!(results[0].is_ok());
    let e = results[1].as_ref().unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.to_string().starts_with("line 3: group id"), "{e}");
    assert!(e.to_string().contains("1 to 40 characters"), "{e}");
    let e = results[2].as_ref().unwrap_err();
    assert!(e.to_string().starts_with("line 4: expected"), "{e}");
    let e = results[3].as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 5: timestamp \"yesterday\" is not an RFC 3339 date-time"
    );
    let unknown = r#"{"uuid":"01930000-0000-7000-8000-000000000001","type":"info","group":"g","timestamp":"2023-11-14T22:13:20Z","message":"m","colour":"red"}"#;
    let e = read_jsonl(unknown.as_bytes()).next().unwrap().unwrap_err();
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    let empty_msg = unknown.replace(r#""m","colour":"red""#, r#""""#);
    let e = read_jsonl(empty_msg.as_bytes())
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1: message is empty; every event needs a message"
    );
}
