//! Unit tests of `event`.

use super::*;

#[test]
fn groups_and_messages_need_visible_text() {
    for bad in ["a\u{0}b", "a\u{1b}[2J", "line\nbreak"] {
        assert!(
            matches!(
                GroupId::named(bad),
                Err(ValidationError::GroupControl { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        GroupId::named("   "),
        Err(ValidationError::BlankGroup { .. })
    ));
    assert!(GroupId::named(" Order 1 ").is_ok());
    assert!(matches!(
        validate_message(" \t\u{7}\r\n"),
        Err(ValidationError::BlankMessage)
    ));
    assert!(validate_message(" ok ").is_ok());
    let long = GroupId::named("x".repeat(5_000_000))
        .unwrap_err()
        .to_string();
    assert!(long.len() < 300, "the value is quoted short: {long}");
}

#[test]
fn random_groups_are_32_lowercase_hex() {
    let g = GroupId::random();
    assert_eq!(g.as_str().len(), 32);
    assert!(g.is_random());
    assert_ne!(g, GroupId::random());
    assert!(!GroupId::named("Order 1234").unwrap().is_random());
}

#[test]
fn group_names_are_1_to_40_characters() {
    assert!(GroupId::named("x".repeat(40)).is_ok());
    assert!(
        GroupId::named("é".repeat(40)).is_ok(),
        "characters, not bytes"
    );
    let err = GroupId::named("x".repeat(41)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "group id \"{}\" is 41 characters long; a group id must be 1 to 40 characters",
            "x".repeat(41)
        )
    );
    assert!(matches!(
        GroupId::named(""),
        Err(ValidationError::GroupLength { len: 0, .. })
    ));
    let from_json: Result<GroupId, _> = serde_json::from_str(&format!("\"{}\"", "y".repeat(41)));
    assert!(
        from_json
            .unwrap_err()
            .to_string()
            .contains("1 to 40 characters")
    );
}

#[test]
fn initiator_is_at_most_500_characters() {
    assert!(validate_initiator(&"i".repeat(500)).is_ok());
    let err = validate_initiator(&"i".repeat(501)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "initiator is 501 characters long; an initiator must be at most 500 characters"
    );
}

#[test]
fn message_is_required() {
    let e = NewEvent::new("info", GroupId::random(), "");
    assert_eq!(e.validate().unwrap_err(), ValidationError::EmptyMessage);
}

#[test]
fn mail_recipients_must_look_like_addresses() {
    assert!(validate_mail_recipient("ops@example.com").is_ok());
    // The limit counts characters, as the API's JSON Schema (maxLength) does: 254 two-byte
    // characters pass, 255 do not.
    let at_limit = format!("{}@{}", "é".repeat(126), "é".repeat(127));
    assert!(validate_mail_recipient(&at_limit).is_ok());
    assert!(validate_mail_recipient(&format!("{at_limit}é")).is_err());
    for bad in [
        "",
        "ops",
        "@example.com",
        "ops@",
        "a b@c.d",
        "x@y@z",
        "<a@b.c>",
    ] {
        let err = validate_mail_recipient(bad).unwrap_err();
        assert!(
            err.to_string().contains("is not an e-mail address"),
            "{bad}"
        );
    }
}

#[test]
fn stamps_share_one_clock_reading_and_increase_within_a_thread() {
    let mut last = Uuid::nil();
    for _ in 0..20_000 {
        let (uuid, timestamp) = stamp();
        assert_eq!(uuid.get_version_num(), 7);
        assert!(uuid > last, "{uuid} after {last}");
        let (secs, nanos) = uuid.get_timestamp().expect("v7 has a time").to_unix();
        let uuid_millis = secs as i64 * 1_000 + i64::from(nanos / 1_000_000);
        assert_eq!(uuid_millis, timestamp.timestamp_millis());
        assert_eq!(timestamp.timestamp_subsec_nanos() % 1_000, 0);
        last = uuid;
    }
}

#[test]
fn uuids_from_many_threads_are_unique() {
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| (0..10_000).map(|_| stamp().0).collect::<Vec<_>>()))
        .collect();
    let mut all = std::collections::HashSet::new();
    for t in threads {
        for uuid in t.join().unwrap() {
            assert!(all.insert(uuid), "duplicate {uuid}");
        }
    }
    assert_eq!(all.len(), 80_000);
}

#[test]
fn group_ids_clone_and_convert_as_text() {
    let g = GroupId::named("Order 1234").unwrap();
    let copy = g.clone();
    assert_eq!(copy, g);
    assert_eq!(String::from(copy), "Order 1234");
    assert_eq!(serde_json::to_string(&g).unwrap(), "\"Order 1234\"");
    let back: GroupId = serde_json::from_str("\"Order 1234\"").unwrap();
    assert_eq!(back, g);
}

#[test]
fn new_events_carry_microsecond_utc_time_and_a_uuid() {
    let e = NewEvent::new("info", GroupId::random(), "hi");
    assert_eq!(e.timestamp.timestamp_subsec_nanos() % 1000, 0);
    assert_ne!(e.uuid, NewEvent::new("info", GroupId::random(), "hi").uuid);
    let bad = NewEvent::new("no-such type", GroupId::random(), "hi");
    assert!(matches!(
        bad.validate(),
        Err(ValidationError::TypeName { .. })
    ));
}
