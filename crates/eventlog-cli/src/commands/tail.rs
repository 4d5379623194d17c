//! `eventlog tail [-f]`: the latest events, optionally following new ones.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use eventlog::store::Order;
use eventlog::{Event, EventTypes};

use super::filter_args::FilterArgs;
use crate::context::Context;

/// Options of `eventlog tail`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep running and print new events as they are stored.
    #[arg(short, long)]
    follow: bool,
    /// How many of the latest events to print first (`-n 0`: only events stored from now
    /// on).
    #[arg(short = 'n', long, default_value_t = 20)]
    lines: usize,
    /// How often to look for new events in follow mode, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    interval: u64,
    #[command(flatten)]
    filter: FilterArgs,
}

/// Prints the last events (oldest first), then follows new ones with `-f`.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let types = ctx.config()?.event_types()?;
    let store = ctx.store().await?;
    let filter = args.filter.to_filter(&types, store.as_ref()).await?;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Where following starts is taken before the latest events are read, so that nothing
    // committed in between is missed; what both return is printed once (`shown`).
    let mut cursor = match args.follow {
        true => Some(store.follow_start().await?),
        false => None,
    };
    let mut last = store
        .list(&filter, Order::Desc, None, args.lines)
        .await?
        .items;
    last.reverse();
    let shown: std::collections::HashSet<i64> = last.iter().map(|e| e.id).collect();
    let mut out = std::io::stdout().lock();
    for e in &last {
        writeln!(out, "{}", format_line(e, &types, colour))?;
    }
    out.flush()?;
    drop(out);
    let Some(mut cursor) = cursor.take() else {
        return Ok(());
    };
    loop {
        let (new, next) = store.follow(&filter, &cursor, FOLLOW_PAGE).await?;
        cursor = next;
        let mut out = std::io::stdout().lock();
        for e in new.iter().filter(|e| !shown.contains(&e.id)) {
            writeln!(out, "{}", format_line(e, &types, colour))?;
        }
        out.flush()?;
        drop(out);
        if new.len() < FOLLOW_PAGE {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(args.interval)) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    }
}

/// Events read at once while following.
const FOLLOW_PAGE: usize = 1000;

/// Text from an event as it may reach a terminal: control characters (ESC, BEL, CR, …) and
/// the bidirectional overrides that reorder what is shown are written as escapes (`\u{1b}`,
/// `\r`), so an event cannot retitle, clear or rewrite the operator's terminal; a newline is
/// shown as `↵` to keep one event per line.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push('\u{21b5}'),
            c if c.is_control() => out.extend(c.escape_default()),
            c if unsafe_char(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.into()
}

/// One line: time, type (in its colours on a terminal), group, message, initiator; every
/// event field passes through [`printable`], on a terminal and in a pipe alike.
pub fn format_line(e: &Event, types: &EventTypes, colour: bool) -> String {
    let t = types.display(&e.event_type);
    let label = format!("{:<8}", printable(&e.event_type));
    let label = if colour {
        paint(&label, t.color.as_deref(), t.bgcolor.as_deref())
    } else {
        label
    };
    let mut line = format!(
        "{}  {}  {}  {}",
        e.timestamp.format("%Y-%m-%d %H:%M:%S%.3f"),
        label,
        printable(&e.group),
        printable(&e.message)
    );
    if let Some(i) = &e.initiator {
        line.push_str(&format!("  ({})", printable(i)));
    }
    line
}

fn paint(text: &str, fg: Option<&str>, bg: Option<&str>) -> String {
    let mut codes = Vec::new();
    if let Some((r, g, b)) = fg.and_then(css_rgb) {
        codes.push(format!("38;2;{r};{g};{b}"));
    }
    if let Some((r, g, b)) = bg.and_then(css_rgb) {
        codes.push(format!("48;2;{r};{g};{b}"));
    }
    if codes.is_empty() {
        return text.to_owned();
    }
    format!("\x1b[{}m{text}\x1b[0m", codes.join(";"))
}

/// A CSS colour as RGB, read by the parser that checked the type's colours when the
/// configuration was loaded (hex, `rgb(…)`, `hsl(…)`, every CSS colour name), so that every
/// colour the configuration accepts is painted; `None` (left unpainted) for one that is not
/// a colour or is fully transparent.
pub fn css_rgb(css: &str) -> Option<(u8, u8, u8)> {
    let color = csscolorparser::parse(css.trim()).ok()?;
    if color.a <= 0.0 {
        return None;
    }
    let [r, g, b, _] = color.to_rgba8();
    Some((r, g, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("plain café"), "plain café");
        assert_eq!(
            printable("\u{1b}]0;owned\u{7}\u{1b}[2J a\rb\nc\u{202e}d"),
            "\\u{1b}]0;owned\\u{7}\\u{1b}[2J a\\rb\u{21b5}c\\u{202e}d"
        );
    }

    #[test]
    fn css_colours_become_terminal_colours() {
        assert_eq!(css_rgb("red"), Some((255, 0, 0)));
        assert_eq!(css_rgb("#0f8"), Some((0, 255, 136)));
        assert_eq!(css_rgb("#102030"), Some((16, 32, 48)));
        assert_eq!(css_rgb("DarkRed"), Some((139, 0, 0)));
        assert_eq!(css_rgb("rgb(1,2,3)"), Some((1, 2, 3)));
        assert_eq!(css_rgb("rebeccapurple"), Some((102, 51, 153)));
        assert_eq!(css_rgb("transparent"), None);
        assert_eq!(css_rgb("no-such"), None);
        assert_eq!(
            paint("x", Some("white"), Some("red")),
            "\x1b[38;2;255;255;255;48;2;255;0;0mx\x1b[0m"
        );
        assert_eq!(paint("x", None, Some("no-such")), "x");
    }
}
