//! What the commands say on stderr: notices ("imported 12 events") and the final error, in the
//! format `--log-format` chose. With `json`, every line on stderr is one JSON object shaped
//! like the log lines (`timestamp`, `level`, `fields.message`, `target`), so a log collector
//! never meets a line it cannot parse.

use std::fmt;
use std::io::Write as _;
use std::sync::OnceLock;

use crate::LogFormat;

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Chooses the format of everything said from now on (once, at start).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
}

fn is_json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// Says a notice on stderr: the text as it is, or a JSON line at level `INFO`.
pub fn notice(text: fmt::Arguments<'_>) {
    if is_json() {
        json_line("INFO", &text.to_string(), None);
    } else {
        eprintln!("{text}");
    }
}

/// `say!("imported {n} events")`: a notice, formatted like `eprintln!`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::voice::notice(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// A failure that knows its fix. Its text is the cause; [`fail`] prints the hint after it,
/// `hint: …` on a line of its own (a `hint` field in JSON).
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, in one sentence.
    pub cause: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause)
    }
}

impl std::error::Error for Failure {}

/// Prints the error that ends the command, each cause once, then its hint: the one a
/// [`Failure`] carries, or the one the error's kind implies (damaged data).
pub fn fail(error: &anyhow::Error) {
    let hint = error
        .chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .and_then(|f| f.hint.clone())
        .or_else(|| damaged(error).then(|| DAMAGED_HINT.to_owned()));
    let message = report(error);
    if is_json() {
        json_line("ERROR", &message, hint.as_deref());
    } else {
        eprintln!("error: {message}");
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
    }
}

/// What to do when the database file is damaged.
const DAMAGED_HINT: &str = "the database file is damaged: run `eventlog check`, and see \"A damaged database\" in the README";

/// Whether the error comes from damaged stored data.
fn damaged(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        let store = match e.downcast_ref::<eventlog::Error>() {
            Some(eventlog::Error::Store(s) | eventlog::Error::Connect { source: s }) => Some(s),
            _ => e.downcast_ref::<eventlog::StoreError>(),
        };
        store.is_some_and(eventlog::StoreError::is_damaged)
    })
}

/// The error and its causes, each said once. Our errors already include their source in
/// their own text (`configuration error: eventlog.toml: …`), so a cause whose text is already
/// there is not repeated.
pub fn report(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

fn json_line(level: &str, message: &str, hint: Option<&str>) {
    let mut fields = serde_json::Map::new();
    fields.insert("message".into(), message.into());
    if let Some(hint) = hint {
        fields.insert("hint".into(), hint.into());
    }
    let line = serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
        "fields": fields,
        "target": "eventlog",
    });
    // Nothing better to do when stderr is gone.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source in its own text, as the library's errors do.
    #[derive(Debug)]
    struct Outer(Failure);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "outer: {}", self.0)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let inner = || Failure {
            cause: "inner reason".into(),
            hint: None,
        };
        assert_eq!(
            report(&anyhow::Error::new(Outer(inner()))),
            "outer: inner reason"
        );
        let e = anyhow::Error::new(inner()).context("cannot go on");
        assert_eq!(report(&e), "cannot go on: inner reason");
    }
}
