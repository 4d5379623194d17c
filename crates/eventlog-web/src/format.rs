//! How times, delays, groups and types are written on the pages.

use chrono::{DateTime, Utc};
use eventlog::EventTypes;

/// Absolute time as shown on hover: `2026-11-27 01:46:43 UTC`.
pub fn absolute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time as the pages show it: relative, with the absolute time on hover and for screen
/// readers, and ISO 8601 for the `datetime` attribute (and the viewer's time zone option).
#[derive(Debug, Clone, Default)]
pub struct TimeText {
    /// ISO 8601.
    pub iso: String,
    /// Absolute, in UTC.
    pub abs: String,
    /// Relative to now.
    pub rel: String,
}

impl TimeText {
    /// `t` seen at `now`.
    pub fn new(t: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        TimeText {
            iso: t.to_rfc3339(),
            abs: absolute(t),
            rel: relative(t, now),
        }
    }
}

/// A number with thousands separators: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A bounded count (from `count_at_most`) in words: `1 event`, `1,234 events`, or
/// `10,000+ events` when it went past `bound`.
pub fn count(n: u64, bound: u64, noun: &str) -> String {
    if n > bound {
        format!("{}+ {noun}s", thousands(bound))
    } else if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", thousands(n))
    }
}

/// Relative time: `just now`, `3 minutes ago`, `1 day ago`, `in 5 minutes`.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = if secs < 0 {
        (-secs, true)
    } else {
        (secs, false)
    };
    if n < 10 {
        return "just now".to_owned();
    }
    let (value, unit) = match n {
        0..60 => (n, "second"),
        60..3600 => (n / 60, "minute"),
        3600..86_400 => (n / 3600, "hour"),
        86_400..2_592_000 => (n / 86_400, "day"),
        2_592_000..31_536_000 => (n / 2_592_000, "month"),
        _ => (n / 31_536_000, "year"),
    };
    let plural = if value == 1 { "" } else { "s" };
    if future {
        format!("in {value} {unit}{plural}")
    } else {
        format!("{value} {unit}{plural} ago")
    }
}

/// The delay between two events of a group as the event page lists it, each row against the
/// row before: `10s later`, `5m 10s later`, `1y 35d 2h 5m 10s later`, or `- same time`.
pub fn delay(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let d = Delay::between(from, to);
    if d.is_zero() {
        "- same time".to_owned()
    } else {
        format!("{d} later")
    }
}

/// The time from one event to a later one, in whole seconds (never negative). Displays as
/// `5m 10s` or `1y 35d 2h 5m 10s` (y = 365 days; zero units left out), `0s` when none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delay {
    secs: i64,
}

impl Delay {
    /// The delay from `from` to `to`; zero when `to` is not later.
    pub fn between(from: DateTime<Utc>, to: DateTime<Utc>) -> Delay {
        Delay {
            secs: (to - from).num_seconds().max(0),
        }
    }

    /// Whether both events fall in the same second.
    pub fn is_zero(self) -> bool {
        self.secs == 0
    }
}

impl std::fmt::Display for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secs == 0 {
            return f.write_str("0s");
        }
        let mut secs = self.secs;
        let mut first = true;
        for (unit, size) in [
            ("y", 365 * 86_400),
            ("d", 86_400),
            ("h", 3600),
            ("m", 60),
            ("s", 1),
        ] {
            let n = secs / size;
            secs %= size;
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{n}{unit}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A group as shown in lists: a random 32-hex id shortened to 8 characters, a name whole.
pub fn short_group(group: &str) -> &str {
    if eventlog::event::is_random_group(group) {
        &group[..8]
    } else {
        group
    }
}

/// A type label, ready for a template. Its colours come from the class `type-{name}` in the
/// generated `/static/types.css`, not from a `style` attribute, which the
/// Content-Security-Policy forbids.
#[derive(Debug, Clone)]
pub struct TypeLabel {
    /// Type name (a safe class name: `^[A-Za-z_][A-Za-z0-9_]{0,49}$`).
    pub name: String,
    /// Label (legacy types: the name in title case).
    pub label: String,
}

impl TypeLabel {
    /// How `name` is shown under `types`.
    pub fn new(types: &EventTypes, name: &str) -> Self {
        let t = types.display(name);
        TypeLabel {
            name: t.name,
            label: t.label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn delays_are_written_in_units_from_years_to_seconds() {
        assert_eq!(Delay::between(t(10), t(0)).to_string(), "0s");
        assert_eq!(Delay::between(t(0), t(3 * 3600 + 5)).to_string(), "3h 5s");
        assert_eq!(delay(t(0), t(0)), "- same time");
        assert_eq!(delay(t(0), t(10)), "10s later");
        assert_eq!(delay(t(0), t(5 * 60 + 10)), "5m 10s later");
        assert_eq!(delay(t(0), t(2 * 3600 + 5 * 60 + 10)), "2h 5m 10s later");
        assert_eq!(
            delay(t(0), t(3 * 86_400 + 2 * 3600 + 5 * 60 + 10)),
            "3d 2h 5m 10s later"
        );
        assert_eq!(
            delay(t(0), t(400 * 86_400 + 2 * 3600 + 5 * 60 + 10)),
            "1y 35d 2h 5m 10s later"
        );
    }

    #[test]
    fn zero_units_are_left_out() {
        assert_eq!(delay(t(0), t(3600)), "1h later");
        assert_eq!(delay(t(0), t(86_400 + 10)), "1d 10s later");
        assert_eq!(delay(t(0), t(365 * 86_400 + 60)), "1y 1m later");
        // Sub-second differences count as the same time.
        let a = t(0);
        assert_eq!(
            delay(a, a + chrono::Duration::milliseconds(400)),
            "- same time"
        );
    }

    #[test]
    fn counts_are_written_with_separators_and_a_bound() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(0, 10_000, "event"), "0 events");
        assert_eq!(count(1, 10_000, "event"), "1 event");
        assert_eq!(count(10_000, 10_000, "event"), "10,000 events");
        assert_eq!(count(10_001, 10_000, "event"), "10,000+ events");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(t(0), t(3)), "just now");
        assert_eq!(relative(t(0), t(45)), "45 seconds ago");
        assert_eq!(relative(t(0), t(180)), "3 minutes ago");
        assert_eq!(relative(t(0), t(3600)), "1 hour ago");
        assert_eq!(relative(t(0), t(2 * 86_400)), "2 days ago");
        assert_eq!(relative(t(300), t(0)), "in 5 minutes");
    }

    #[test]
    fn random_groups_are_shortened_names_are_not() {
        assert_eq!(short_group("0123456789abcdef0123456789abcdef"), "01234567");
        assert_eq!(short_group("Order 42"), "Order 42");
    }

    #[test]
    fn legacy_types_in_title_case_without_colours() {
        let types = EventTypes::default();
        let l = TypeLabel::new(&types, "old_thing");
        assert_eq!(l.label, "Old_Thing");
        assert_eq!(l.name, "old_thing");
    }
}
